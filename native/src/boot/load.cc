// load(): picks the boot path from the image's magic and writes the
// pieces every path shares (ACPI).
#include <cstring>

#include "boot/layout.h"

namespace vmm::boot {

BootResult load(const GuestMemory& mem, const BootConfig& cfg) {
    auto e820 = build_e820(cfg.ram_bytes);
    // The regions must really hold the RAM the e820 map promises.
    for (const auto& e : e820) {
        if (e.type == 1 && !mem.ptr(e.addr, e.size))
            throw BootError("memory: guest memory does not cover " + hex(e.addr) + "-" + hex(e.addr + e.size));
    }
    if (!mem.ptr(platform::kAcpiRsdp, kAcpiEnd - platform::kAcpiRsdp))
        throw BootError("memory: guest memory does not cover the ACPI area");
    const auto& k = cfg.kernel;
    if (k.empty()) throw BootError("kernel: image is empty");
    bool elf = k.size() >= 4 && std::memcmp(k.data(), "\x7f" "ELF", 4) == 0;
    bool bz = k.size() >= 0x206 && std::memcmp(k.data() + 0x202, "HdrS", 4) == 0;
    if (!elf && !bz) throw BootError("kernel: not a bzImage or PVH ELF (no HdrS magic, no ELF header)");
    write_acpi(mem, cfg);
    BootResult r = elf ? load_pvh(mem, cfg, e820) : load_bzimage(mem, cfg, e820);
    r.summary += ", " + std::to_string(cfg.vcpus) + (cfg.vcpus == 1 ? " vCPU" : " vCPUs") + ", " +
                 size_str(cfg.ram_bytes) + " RAM, cmdline " + std::to_string(cfg.cmdline.size()) + " bytes";
    return r;
}

}  // namespace vmm::boot
