// The machine layer without a guest: config validation, dirty-page to row
// mapping, exit reason names, and Machine construction errors.
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "boot/boot.h"
#include "check.h"
#include "vmm/config.h"
#include "vmm/dirty.h"
#include "vmm/exit_reason.h"
#include "vmm/machine.h"

namespace {

vmm::MachineConfig base_config() {
    vmm::MachineConfig c;
    c.ram_mib = 64;
    c.kernel = std::vector<uint8_t>(4096, 0x5a);
    return c;
}

bool rejects(const vmm::MachineConfig& c, const char* needle) {
    try {
        vmm::validate(c);
    } catch (const std::invalid_argument& e) {
        return std::strstr(e.what(), needle) != nullptr;
    }
    return false;
}

using Rows = std::vector<std::pair<uint32_t, uint32_t>>;

}  // namespace

TEST(vmm_config_validation) {
    auto c = base_config();
    vmm::validate(c);  // fine
    c.ram_mib = 8;
    CHECK(rejects(c, "too little"));
    c = base_config();
    c.vcpus = 0;
    CHECK(rejects(c, "vcpus"));
    c.vcpus = 65;
    CHECK(rejects(c, "vcpus"));
    c = base_config();
    c.kernel.clear();
    CHECK(rejects(c, "no kernel"));
    c = base_config();
    c.fb_width = 4000;
    CHECK(rejects(c, "framebuffer"));
    c.fb_width = 1024;
    c.fb_height = 0;
    CHECK(rejects(c, "framebuffer"));
    c.fb_width = 0;
    vmm::validate(c);  // 0x0 = no framebuffer
    c = base_config();
    for (int i = 0; i < 7; ++i) c.disks.push_back({"/tmp/x", false});
    CHECK(rejects(c, "too many virtio"));
}

TEST(vmm_dirty_pages_to_rows) {
    // 1024x768x4: one page per row.
    std::vector<uint64_t> bits(768 / 64 + 1, 0);
    CHECK(vmm::dirty_pages_to_rows(bits, 4096, 768).empty());
    bits[0] = 1 | (1u << 3) | (1u << 4);
    CHECK(vmm::dirty_pages_to_rows(bits, 4096, 768) == (Rows{{0, 1}, {3, 5}}));
    // 1000 px rows (4000 bytes): page 1 = bytes 4096..8191 = rows 1 and 2.
    std::vector<uint64_t> b2{2};
    CHECK(vmm::dirty_pages_to_rows(b2, 4000, 100) == (Rows{{1, 3}}));
    // Adjacent pages sharing a row merge into one range.
    std::vector<uint64_t> b3{3};
    CHECK(vmm::dirty_pages_to_rows(b3, 4000, 100) == (Rows{{0, 3}}));
    // Pages past the visible area are ignored; the last one is clipped.
    std::vector<uint64_t> b4{~0ull};
    CHECK(vmm::dirty_pages_to_rows(b4, 4096, 10) == (Rows{{0, 10}}));
    CHECK(vmm::dirty_pages_to_rows(b4, 0, 10).empty());
    // Large framebuffer: a bit in a later word.
    std::vector<uint64_t> b5(4, 0);
    b5[2] = 1ull << 5;  // page 133
    CHECK(vmm::dirty_pages_to_rows(b5, 7680, 1080) == (Rows{{70, 72}}));
}

TEST(vmm_exit_kind_names) {
    CHECK(std::strcmp(vmm::exit_kind_name(vmm::ExitKind::Poweroff), "poweroff") == 0);
    CHECK(std::strcmp(vmm::exit_kind_name(vmm::ExitKind::Reset), "reset") == 0);
    CHECK(std::strcmp(vmm::exit_kind_name(vmm::ExitKind::TripleFault), "triple-fault") == 0);
    CHECK(std::strcmp(vmm::exit_kind_name(vmm::ExitKind::Stopped), "stopped") == 0);
}

TEST(vmm_machine_rejects_bad_kernel_and_config) {
    auto c = base_config();
    c.ram_mib = 4;
    bool small = false;
    try { vmm::Machine m(c); } catch (const std::invalid_argument&) { small = true; }
    CHECK(small);
    if (::access("/dev/kvm", R_OK | W_OK) != 0) return;
    bool bad = false;
    try {
        vmm::Machine m(base_config());
    } catch (const vmm::boot::BootError& e) {
        bad = std::strstr(e.what(), "kernel") != nullptr;
    }
    CHECK(bad);
    auto missing = base_config();
    missing.kernel.clear();
    missing.kernel_path = "/nonexistent/vmlinux";
    bool nofile = false;
    try {
        vmm::Machine m(missing);
    } catch (const vmm::boot::BootError& e) {
        nofile = std::strstr(e.what(), "No such file") != nullptr;
    }
    CHECK(nofile);
    auto disk = base_config();
    disk.disks.push_back({"/nonexistent/disk.img", false});
    bool nodisk = false;
    try {
        vmm::Machine m(disk);
    } catch (const std::runtime_error& e) {
        nodisk = std::strstr(e.what(), "disk /nonexistent/disk.img") != nullptr;
    }
    CHECK(nodisk);
}
