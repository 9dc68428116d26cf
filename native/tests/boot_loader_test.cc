// Kernel loaders: synthetic PVH ELFs (32/64-bit) and bzImages built here,
// a table of malformed images that must each fail with one BootError line
// and never write outside guest RAM, Debian's real bzImage when available
// (VMM_TEST_BZIMAGE=/path/to/vmlinuz), and the boot_kernel_parser fuzz target.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "boot/boot.h"
#include "boot/layout.h"
#include "check.h"
#include "core/platform.h"

namespace {

using Bytes = std::vector<uint8_t>;
namespace boot = vmm::boot;

constexpr uint64_t kMiB = 1 << 20;

void w(Bytes& b, size_t off, uint64_t v, int n) {
    if (b.size() < off + n) b.resize(off + n);
    for (int i = 0; i < n; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

// Guest RAM with guard bytes on both sides that must never change.
struct Ram {
    static constexpr uint64_t kGuard = 4096;
    std::vector<uint8_t> buf;
    vmm::GuestMemory mem;
    explicit Ram(uint64_t size, uint8_t fill = 0xCC) : buf(size + 2 * kGuard, 0xCC) {
        std::memset(buf.data() + kGuard, fill, size);  // guards stay 0xCC whatever the fill
        mem.add({0, size, buf.data() + kGuard});
    }
    uint8_t* at(uint64_t gpa) { return buf.data() + kGuard + gpa; }
    uint64_t u(uint64_t gpa, int n) {
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | at(gpa)[i];
        return v;
    }
    bool guards_intact() const {
        for (uint64_t i = 0; i < kGuard; ++i)
            if (buf[i] != 0xCC || buf[buf.size() - 1 - i] != 0xCC) return false;
        return true;
    }
};

// Minimal PVH ELF: one PT_LOAD (code at paddr with a .bss tail) and one PT_NOTE.
struct ElfSpec {
    bool is64 = true;
    uint64_t paddr = 0x100000, filesz = 0x100, memsz = 0x2000, entry = 0x100010;
    uint32_t note_type = 18, note_descsz = 4;
};
Bytes make_pvh(const ElfSpec& s = {}) {
    Bytes b(0x1000 + s.filesz, 0);
    b[0] = 0x7F; b[1] = 'E'; b[2] = 'L'; b[3] = 'F';
    b[4] = s.is64 ? 2 : 1;
    b[5] = 1;
    b[6] = 1;
    w(b, 16, 2, 2);                        // ET_EXEC
    w(b, 18, s.is64 ? 62 : 3, 2);
    const uint64_t ph = s.is64 ? 64 : 52, phsz = s.is64 ? 56 : 32;
    if (s.is64) { w(b, 32, ph, 8); w(b, 54, phsz, 2); w(b, 56, 2, 2); }
    else { w(b, 28, ph, 4); w(b, 42, phsz, 2); w(b, 44, 2, 2); }
    // Note at 0x200: "Xen\0", type 18, 32-bit entry.
    w(b, 0x200, 4, 4);
    w(b, 0x204, s.note_descsz, 4);
    w(b, 0x208, s.note_type, 4);
    std::memcpy(&b[0x20C], "Xen", 4);
    w(b, 0x210, s.entry, s.note_descsz == 8 ? 8 : 4);
    uint64_t note_len = 16 + ((s.note_descsz + 3) & ~3u);
    auto phdr = [&](uint64_t o, uint32_t type, uint64_t off, uint64_t paddr, uint64_t filesz, uint64_t memsz) {
        w(b, o, type, 4);
        if (s.is64) { w(b, o + 8, off, 8); w(b, o + 16, paddr, 8); w(b, o + 24, paddr, 8); w(b, o + 32, filesz, 8); w(b, o + 40, memsz, 8); }
        else { w(b, o + 4, off, 4); w(b, o + 8, paddr, 4); w(b, o + 12, paddr, 4); w(b, o + 16, filesz, 4); w(b, o + 20, memsz, 4); }
    };
    phdr(ph, 1, 0x1000, s.paddr, s.filesz, s.memsz);
    phdr(ph + phsz, 4, 0x200, 0, note_len, note_len);
    for (uint64_t i = 0; i < s.filesz; ++i) b[0x1000 + i] = static_cast<uint8_t>(0x90 + i);
    return b;
}

// Minimal bzImage: setup sectors with a 2.15 header, then `pm` bytes of "kernel".
struct BzSpec {
    uint16_t version = 0x020F;
    uint8_t setup_sects = 4, loadflags = 0x01;
    uint16_t xloadflags = 0x03;
    uint64_t pref = 2 * kMiB, align = 2 * kMiB, init_size = 1 * kMiB, pm = 0x3000;
    uint8_t relocatable = 1;
    uint32_t cmdline_size = 2047, initrd_max = 0x7FFFFFFF;
};
Bytes make_bz(const BzSpec& s = {}) {
    uint64_t setup = (s.setup_sects + 1) * 512ull;
    Bytes b(setup + s.pm, 0);
    b[0x1F1] = s.setup_sects;
    w(b, 0x1F4, s.pm / 16, 4);
    w(b, 0x1FE, 0xAA55, 2);
    b[0x200] = 0xEB;
    b[0x201] = 0x6A;  // header ends at 0x26C
    std::memcpy(&b[0x202], "HdrS", 4);
    w(b, 0x206, s.version, 2);
    b[0x211] = s.loadflags;
    w(b, 0x22C, s.initrd_max, 4);
    w(b, 0x230, s.align, 4);
    b[0x234] = s.relocatable;
    w(b, 0x236, s.xloadflags, 2);
    w(b, 0x238, s.cmdline_size, 4);
    w(b, 0x250, 0xDEADBEEF, 8);  // a bogus setup_data pointer the loader must clear
    w(b, 0x258, s.pref, 8);
    w(b, 0x260, s.init_size, 4);
    for (uint64_t i = 0; i < s.pm; ++i) b[setup + i] = static_cast<uint8_t>(i * 7);
    return b;
}

boot::BootConfig config(Bytes kernel, uint64_t ram, size_t initrd = 0) {
    boot::BootConfig c;
    c.ram_bytes = ram;
    c.vcpus = 2;
    c.kernel = std::move(kernel);
    c.initrd.resize(initrd);
    for (size_t i = 0; i < initrd; ++i) c.initrd[i] = static_cast<uint8_t>(i ^ 0x5A);
    c.cmdline = "console=ttyS0 panic=-1";
    c.virtio.push_back({vmm::platform::kVirtioMmioBase, 0x1000, vmm::platform::kVirtioGsiBase});
    return c;
}

// Runs load() expecting a BootError; returns its message ("" if none was thrown).
std::string load_error(const boot::BootConfig& c, Ram& ram) {
    try {
        boot::load(ram.mem, c);
    } catch (const boot::BootError& e) {
        return e.what();
    }
    return "";
}

uint64_t gdt_entry(Ram& ram, const boot::CpuState& st, uint16_t sel) { return ram.u(st.gdt_base + sel, 8); }

}  // namespace

TEST(boot_e820_layout) {
    auto m = boot::build_e820(64 * kMiB);
    CHECK_EQ(m.size(), 3u);
    CHECK(m[0].addr == 0 && m[0].size == 0x9FC00 && m[0].type == 1);
    CHECK(m[1].addr == 0x9FC00 && m[1].size == 0x100000 - 0x9FC00 && m[1].type == 2);
    CHECK(m[2].addr == 0x100000 && m[2].size == 63 * kMiB && m[2].type == 1);
    auto big = boot::build_e820(5ull << 30);
    CHECK_EQ(big.size(), 4u);
    CHECK(big[2].addr + big[2].size == 3ull << 30);
    CHECK(big[3].addr == 4ull << 30 && big[3].size == 2ull << 30 && big[3].type == 1);
    auto exact = boot::build_e820(3ull << 30);
    CHECK_EQ(exact.size(), 3u);
    bool threw = false;
    try { boot::build_e820(kMiB); } catch (const boot::BootError&) { threw = true; }
    CHECK(threw);
}

TEST(boot_pvh_elf64_loads_and_fills_start_info) {
    Ram ram(16 * kMiB);
    auto c = config(make_pvh(), 16 * kMiB, 5000);
    auto r = boot::load(ram.mem, c);
    CHECK(r.kind == boot::KernelKind::Pvh);
    // Segment bytes copied, .bss zeroed.
    CHECK_EQ(*ram.at(0x100000), 0x90);
    CHECK_EQ(*ram.at(0x1000FF), static_cast<uint8_t>(0x90 + 0xFF));
    CHECK_EQ(*ram.at(0x100100), 0);
    CHECK_EQ(*ram.at(0x101FFF), 0);
    CHECK_EQ(*ram.at(0x102000), 0xCC);
    // hvm_start_info v1.
    uint64_t si = r.bsp.rbx;
    CHECK_EQ(si, boot::kStartInfoAddr);
    CHECK_EQ(ram.u(si, 4), 0x336ec578u);
    CHECK_EQ(ram.u(si + 4, 4), 1u);
    CHECK_EQ(ram.u(si + 12, 4), 1u);
    uint64_t cmd = ram.u(si + 0x18, 8);
    CHECK(std::string(reinterpret_cast<char*>(ram.at(cmd))) == c.cmdline);
    CHECK_EQ(ram.u(si + 0x20, 8), vmm::platform::kAcpiRsdp);
    uint64_t mods = ram.u(si + 0x10, 8);
    uint64_t initrd = ram.u(mods, 8);
    CHECK_EQ(ram.u(mods + 8, 8), 5000u);
    CHECK_EQ(initrd % 4096, 0u);
    CHECK(initrd >= 0x102000 && initrd + 5000 <= 16 * kMiB);
    CHECK(std::memcmp(ram.at(initrd), c.initrd.data(), 5000) == 0);
    uint64_t mm = ram.u(si + 0x28, 8);
    CHECK_EQ(ram.u(si + 0x30, 4), r.e820.size());
    for (size_t i = 0; i < r.e820.size(); ++i) {
        CHECK_EQ(ram.u(mm + i * 24, 8), r.e820[i].addr);
        CHECK_EQ(ram.u(mm + i * 24 + 8, 8), r.e820[i].size);
        CHECK_EQ(ram.u(mm + i * 24 + 16, 4), r.e820[i].type);
    }
    // 32-bit protected mode, flat segments, usable TR, GDT in RAM matching.
    const auto& st = r.bsp;
    CHECK(!st.long_mode);
    CHECK_EQ(st.rip, 0x100010u);
    CHECK_EQ(st.rflags, 0x2u);
    CHECK_EQ(st.cr0, 0x11u);
    CHECK_EQ(st.efer, 0u);
    CHECK_EQ(st.cs.selector, 0x8);
    CHECK_EQ(st.ds.selector, 0x10);
    CHECK_EQ(st.ss.selector, 0x10);
    CHECK(st.cs.db == 1 && st.cs.g == 1 && st.cs.limit == 0xFFFFFFFF && st.cs.type == 0xB && st.cs.l == 0);
    CHECK(st.tr.present == 1 && st.tr.type == 0xB && st.tr.s == 0 && st.tr.unusable == 0);
    CHECK_EQ(gdt_entry(ram, st, 0x08), 0x00CF9B000000FFFFull);
    CHECK_EQ(gdt_entry(ram, st, 0x10), 0x00CF93000000FFFFull);
    CHECK_EQ(st.gdt_limit, 31);
    CHECK(st.gdt_base < 0x9FC00);
    CHECK(ram.guards_intact());
    CHECK(r.summary.find("PVH") != std::string::npos);
}

TEST(boot_pvh_elf32_and_8_byte_note) {
    ElfSpec s;
    s.is64 = false;
    Ram ram(4 * kMiB);
    auto r = boot::load(ram.mem, config(make_pvh(s), 4 * kMiB));
    CHECK_EQ(r.bsp.rip, 0x100010u);
    CHECK_EQ(ram.u(r.bsp.rbx + 12, 4), 0u);  // no initrd module
    ElfSpec s8;
    s8.note_descsz = 8;  // Linux writes the entry with _ASM_PTR: 8 bytes on x86-64
    auto r8 = boot::load(ram.mem, config(make_pvh(s8), 4 * kMiB));
    CHECK_EQ(r8.bsp.rip, 0x100010u);
    CHECK(ram.guards_intact());
}

TEST(boot_bzimage_synthetic) {
    Ram ram(8 * kMiB);
    auto c = config(make_bz(), 8 * kMiB, 3000);
    c.fb = {vmm::platform::kFramebufferBase, 1024, 768, 4096};
    auto r = boot::load(ram.mem, c);
    CHECK(r.kind == boot::KernelKind::LinuxBzImage);
    CHECK_EQ(*ram.at(2 * kMiB + 1), 7);  // protected-mode part at pref_address
    const uint64_t bp = boot::kBootParamsAddr;
    CHECK_EQ(r.bsp.rsi, bp);
    CHECK_EQ(r.bsp.rip, 2 * kMiB + 0x200);
    CHECK(std::memcmp(ram.at(bp + 0x202), "HdrS", 4) == 0);
    CHECK_EQ(*ram.at(bp + 0x210), 0xFF);
    CHECK_EQ(ram.u(bp + 0x250, 8), 0u);
    CHECK(std::string(reinterpret_cast<char*>(ram.at(ram.u(bp + 0x228, 4)))) == c.cmdline);
    uint64_t initrd = ram.u(bp + 0x218, 4) | (ram.u(bp + 0xC0, 4) << 32);
    CHECK_EQ(ram.u(bp + 0x21C, 4), 3000u);
    CHECK(initrd >= 3 * kMiB && initrd + 3000 <= 8 * kMiB);  // above load + init_size
    CHECK(std::memcmp(ram.at(initrd), c.initrd.data(), 3000) == 0);
    CHECK_EQ(*ram.at(bp + 0x1E8), r.e820.size());
    CHECK_EQ(ram.u(bp + 0x2D0 + 2 * 20, 8), 0x100000u);
    CHECK_EQ(ram.u(bp + 0x2D0 + 2 * 20 + 16, 4), 1u);
    CHECK_EQ(ram.u(bp + 0x70, 8), vmm::platform::kAcpiRsdp);
    // screen_info: VIDEO_TYPE_EFI, XRGB8888.
    CHECK_EQ(*ram.at(bp + 0x0F), 0x70);
    CHECK_EQ(ram.u(bp + 0x12, 2), 1024u);
    CHECK_EQ(ram.u(bp + 0x14, 2), 768u);
    CHECK_EQ(ram.u(bp + 0x16, 2), 32u);
    CHECK_EQ(ram.u(bp + 0x18, 4), vmm::platform::kFramebufferBase);
    CHECK_EQ(ram.u(bp + 0x1C, 4), 4096u * 768);
    CHECK_EQ(ram.u(bp + 0x24, 2), 4096u);
    CHECK_EQ(ram.u(bp + 0x26, 8), 0x1808000808081008ull);  // r 8@16, g 8@8, b 8@0, x 8@24
    // Long mode: paging, identity map, 64-bit CS 0x10, DS 0x18.
    const auto& st = r.bsp;
    CHECK(st.long_mode);
    CHECK_EQ(st.cr0 & 0x80000001u, 0x80000001u);
    CHECK_EQ(st.cr4 & 0x20u, 0x20u);
    CHECK_EQ(st.efer, 0x500u);
    CHECK_EQ(st.cs.selector, 0x10);
    CHECK(st.cs.l == 1 && st.cs.db == 0);
    CHECK_EQ(st.ds.selector, 0x18);
    CHECK_EQ(gdt_entry(ram, st, 0x10), 0x00AF9B000000FFFFull);
    CHECK_EQ(gdt_entry(ram, st, 0x18), 0x00CF93000000FFFFull);
    CHECK_EQ(ram.u(st.cr3, 8), boot::kPdptAddr | 3);
    for (uint64_t i = 0; i < 4; ++i) CHECK_EQ(ram.u(boot::kPdptAddr + i * 8, 8), (boot::kPdAddr + i * 0x1000) | 3);
    CHECK_EQ(ram.u(boot::kPdAddr, 8), 0x83u);
    CHECK_EQ(ram.u(boot::kPdAddr + 3 * 0x1000 + 511 * 8, 8), 0xFFE00083ull);
    CHECK(ram.guards_intact());
}

TEST(boot_bzimage_no_framebuffer_and_non_relocatable) {
    BzSpec s;
    s.relocatable = 0;
    s.pref = 3 * kMiB;  // not aligned, but a non-relocatable kernel goes exactly there
    Ram ram(8 * kMiB);
    auto r = boot::load(ram.mem, config(make_bz(s), 8 * kMiB));
    CHECK_EQ(r.bsp.rip, 3 * kMiB + 0x200);
    CHECK_EQ(*ram.at(boot::kBootParamsAddr + 0x0F), 0);  // no screen_info
    CHECK_EQ(ram.u(boot::kBootParamsAddr + 0x218, 4), 0u);
    s.relocatable = 1;  // relocatable: aligned up to kernel_alignment
    auto r2 = boot::load(ram.mem, config(make_bz(s), 8 * kMiB));
    CHECK_EQ(r2.bsp.rip, 4 * kMiB + 0x200);
}

TEST(boot_malformed_kernels_fail_cleanly) {
    struct Case {
        const char* what;
        std::function<boot::BootConfig()> make;
        const char* expect;  // prefix of the message
    };
    const uint64_t R = 8 * kMiB;
    auto elf = [&](std::function<void(ElfSpec&)> f) { ElfSpec s; f(s); return make_pvh(s); };
    auto bz = [&](std::function<void(BzSpec&)> f) { BzSpec s; f(s); return make_bz(s); };
    auto patched = [](Bytes b, size_t off, uint64_t v, int n) { w(b, off, v, n); return b; };
    std::vector<Case> cases = {
        {"empty", [&] { return config({}, R); }, "kernel:"},
        {"no magic", [&] { return config(Bytes(4096, 0x41), R); }, "kernel: not a bzImage or PVH ELF"},
        {"truncated ELF header", [&] { auto b = make_pvh(); b.resize(20); return config(b, R); }, "kernel:"},
        {"ELF big-endian", [&] { return config(patched(make_pvh(), 5, 2, 1), R); }, "kernel:"},
        {"ELF other machine", [&] { return config(patched(make_pvh(), 18, 40, 2), R); }, "kernel:"},
        {"no PVH note", [&] { return config(elf([](ElfSpec& s) { s.note_type = 17; }), R); }, "kernel: ELF has no PVH entry note"},
        {"bad note size", [&] { return config(elf([](ElfSpec& s) { s.note_descsz = 3; }), R); }, "kernel:"},
        {"note name size overflows", [&] { return config(patched(make_pvh(), 0x200, 0xFFFFFFFF, 4), R); }, "kernel:"},
        {"note segment outside file", [&] { return config(patched(make_pvh(), 64 + 56 + 8, 1ull << 40, 8), R); }, "kernel:"},
        {"phoff outside file", [&] { return config(patched(make_pvh(), 32, ~0ull - 8, 8), R); }, "kernel:"},
        {"phentsize too small", [&] { return config(patched(make_pvh(), 54, 8, 2), R); }, "kernel:"},
        {"no program headers", [&] { return config(patched(make_pvh(), 56, 0, 2), R); }, "kernel:"},
        {"segment outside RAM", [&] { return config(elf([&](ElfSpec& s) { s.paddr = R; s.entry = R + 0x10; }), R); }, "memory:"},
        {"segment above the hole", [&] { return config(elf([&](ElfSpec& s) { s.paddr = 0xC0000000; s.entry = 0xC0000010; }), R); }, "kernel:"},
        {"paddr + memsz overflows", [&] { return config(elf([](ElfSpec& s) { s.paddr = ~0ull - 0xFFF; s.memsz = 0x2000; s.entry = 0x10; }), R); }, "kernel:"},
        {"32-bit paddr + memsz wraps", [&] { return config(elf([](ElfSpec& s) { s.is64 = false; s.paddr = 0xFFFFF000; s.memsz = 0x2000; s.entry = 0xFFFFF010; }), R); }, "kernel:"},
        {"filesz > memsz", [&] { return config(elf([](ElfSpec& s) { s.memsz = 0x10; }), R); }, "kernel:"},
        {"segment data outside file", [&] { return config(patched(make_pvh(), 64 + 8, 1ull << 40, 8), R); }, "kernel:"},
        {"segment over boot data", [&] { return config(elf([](ElfSpec& s) { s.paddr = 0x7000; s.entry = 0x7010; }), R); }, "kernel:"},
        {"entry outside segments", [&] { return config(elf([](ElfSpec& s) { s.entry = 0x400000; }), R); }, "kernel: PVH entry"},
        {"entry above 4 GiB", [&] { return config(elf([](ElfSpec& s) { s.note_descsz = 8; s.entry = 1ull << 33; }), R); }, "kernel:"},
        {"PVH initrd too big", [&] { return config(make_pvh(), R, 8 * kMiB); }, "memory:"},
        {"bz truncated header", [&] { auto b = make_bz(); b.resize(0x240); return config(b, R); }, "kernel:"},
        {"bz truncated body", [&] { auto b = make_bz(); b.resize(b.size() - 100); return config(b, R); }, "kernel: bzImage is truncated"},
        {"bz protocol 2.11", [&] { return config(bz([](BzSpec& s) { s.version = 0x020B; }), R); }, "kernel: Linux boot protocol 2.11 is too old"},
        {"bz not 64-bit", [&] { return config(bz([](BzSpec& s) { s.xloadflags = 0; }), R); }, "kernel: bzImage has no 64-bit entry point"},
        {"bz zImage", [&] { return config(bz([](BzSpec& s) { s.loadflags = 0; }), R); }, "kernel:"},
        {"bz header too short", [&] { return config(patched(make_bz(), 0x201, 0x20, 1), R); }, "kernel:"},
        {"bz setup_sects past end", [&] { return config(patched(make_bz(), 0x1F1, 200, 1), R); }, "kernel:"},
        {"bz bad alignment", [&] { return config(bz([](BzSpec& s) { s.align = 3; }), R); }, "kernel:"},
        {"bz pref near 2^64", [&] { return config(bz([](BzSpec& s) { s.pref = ~0ull - 0x1000; s.relocatable = 0; }), R); }, "kernel:"},
        {"bz too little RAM", [&] { return config(bz([](BzSpec& s) { s.pref = 16 * kMiB; s.init_size = 32 * kMiB; }), R); }, "memory: 8 MiB is too little for this kernel (needs 48 MiB)"},
        {"bz init_size past RAM", [&] { return config(bz([](BzSpec& s) { s.init_size = 0xFFFFFFFF; }), R); }, "kernel: bzImage needs 4096 MiB"},
        {"bz initrd too big", [&] { return config(make_bz(), R, 6 * kMiB); }, "memory:"},
        {"bz initrd_addr_max too low", [&] { return config(bz([](BzSpec& s) { s.initrd_max = 0x200000; }), R, 4096); }, "initrd:"},
        {"bz cmdline too long", [&] { return config(bz([](BzSpec& s) { s.cmdline_size = 5; }), R); }, "cmdline:"},
        {"bz bad framebuffer", [&] { auto c = config(make_bz(), R); c.fb = {0xE0000000, 1024, 768, 100}; return c; }, "framebuffer:"},
        {"zero vCPUs", [&] { auto c = config(make_pvh(), R); c.vcpus = 0; return c; }, "cpus:"},
        {"255 vCPUs", [&] { auto c = config(make_pvh(), R); c.vcpus = 255; return c; }, "cpus:"},
        {"1 MiB RAM", [&] { return config(make_pvh(), kMiB); }, "memory:"},
        {"RAM size larger than memory", [&] { return config(make_pvh(), 2 * R); }, "memory:"},
    };
    for (const auto& tc : cases) {
        Ram ram(R);
        std::string msg = load_error(tc.make(), ram);
        bool ok = !msg.empty() && msg.rfind(tc.expect, 0) == 0 && msg.find('\n') == std::string::npos;
        if (!ok) std::fprintf(stderr, "  case '%s': got '%s', want prefix '%s'\n", tc.what, msg.c_str(), tc.expect);
        CHECK(ok);
        CHECK(ram.guards_intact());
    }
}

TEST(boot_debian_bzimage) {
    const char* path = std::getenv("VMM_TEST_BZIMAGE");
    if (!path || !*path) {
        std::printf("     (skipped boot_debian_bzimage: set VMM_TEST_BZIMAGE to a Debian vmlinuz)\n");
        return;
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        std::printf("     (skipped boot_debian_bzimage: cannot read %s)\n", path);
        return;
    }
    Bytes k((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const uint64_t ram_size = 256 * kMiB;
    Ram ram(ram_size, 0);
    auto c = config(k, ram_size, 4 * kMiB);
    c.fb = {vmm::platform::kFramebufferBase, 1280, 800, 1280 * 4};
    auto r = boot::load(ram.mem, c);
    std::printf("     %s\n", r.summary.c_str());
    CHECK(r.kind == boot::KernelKind::LinuxBzImage);
    uint64_t setup = (k[0x1F1] ? k[0x1F1] : 4) * 512ull + 512;
    uint64_t pref = 0, init_size = 0;
    for (int i = 7; i >= 0; --i) pref = (pref << 8) | k[0x258 + i];
    for (int i = 3; i >= 0; --i) init_size = (init_size << 8) | k[0x260 + i];
    CHECK_EQ(r.bsp.rip, pref + 0x200);
    CHECK(std::memcmp(ram.at(pref), k.data() + setup, k.size() - setup) == 0);
    const uint64_t bp = boot::kBootParamsAddr;
    // The setup header is copied verbatim apart from the loader's fields.
    uint64_t hdr_end = 0x202 + k[0x201];
    for (uint64_t o = 0x1F1; o < hdr_end; ++o) {
        bool ours = o == 0x210 || (o >= 0x218 && o < 0x220) || (o >= 0x228 && o < 0x22C) || (o >= 0x23C && o < 0x240) ||
                    (o >= 0x250 && o < 0x258);
        if (!ours && *ram.at(bp + o) != k[o]) { CHECK_EQ(o, 0u); break; }
    }
    uint64_t initrd = ram.u(bp + 0x218, 4);
    CHECK(initrd >= pref + init_size);
    CHECK(initrd + 4 * kMiB <= ram_size);
    CHECK(initrd + 4 * kMiB <= uint64_t{ram.u(bp + 0x22C, 4)} + 1);
    // Too little RAM for this kernel: one clear line.
    Ram small(48 * kMiB, 0);
    std::string msg = load_error(config(k, 48 * kMiB), small);
    std::printf("     48 MiB: %s\n", msg.c_str());
    CHECK(msg.rfind("memory: 48 MiB is too little for this kernel", 0) == 0);
}

// The same kernel uncompressed (vmlinux, extracted from the bzImage's LZ4
// payload): boots through its PVH note, whose entry is 8 bytes wide.
TEST(boot_debian_vmlinux_pvh) {
    const char* path = std::getenv("VMM_TEST_VMLINUX");
    if (!path || !*path) {
        std::printf("     (skipped boot_debian_vmlinux_pvh: set VMM_TEST_VMLINUX to an uncompressed Debian vmlinux)\n");
        return;
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        std::printf("     (skipped boot_debian_vmlinux_pvh: cannot read %s)\n", path);
        return;
    }
    Bytes k((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const uint64_t ram_size = 128 * kMiB;
    Ram ram(ram_size, 0);
    auto c = config(k, ram_size, kMiB);
    auto r = boot::load(ram.mem, c);
    std::printf("     %s\n", r.summary.c_str());
    CHECK(r.kind == boot::KernelKind::Pvh);
    CHECK(r.bsp.rip >= 16 * kMiB && r.bsp.rip < 64 * kMiB);
    CHECK_EQ(ram.u(r.bsp.rbx, 4), 0x336ec578u);
    CHECK(ram.guards_intact());
}

// Random bytes, and random mutations of valid synthetic images, through
// load(): BootError is the only acceptable failure, and the guard bytes
// around the 4 MiB of guest RAM must stay untouched.
FUZZ_TARGET(boot_kernel_parser) {
    static Ram ram(4 * kMiB);
    static const Bytes pvh = make_pvh();
    static const Bytes pvh32 = [] { ElfSpec s; s.is64 = false; return make_pvh(s); }();
    static const Bytes bz = make_bz();
    if (size == 0) return;
    boot::BootConfig c;
    c.ram_bytes = 4 * kMiB;
    c.vcpus = 1 + data[0] % 4;
    c.cmdline = "console=ttyS0";
    uint8_t mode = data[0] % 4;
    const uint8_t* rest = data + 1;
    size_t n = size - 1;
    if (mode == 0) {
        c.kernel.assign(rest, rest + n);
    } else {
        c.kernel = mode == 1 ? pvh : mode == 2 ? pvh32 : bz;
        // Up to 8 groups of 3 bytes: offset (16 bits, into the header area
        // most of the time) and a value to store. Few edits keep most inputs
        // valid enough to reach the later checks.
        for (size_t i = 0; i + 3 <= n && i < 24; i += 3) {
            size_t off = rest[i] | (rest[i + 1] << 8);
            off = (off & 0x8000) ? off % c.kernel.size() : off % 0x300;
            c.kernel[off] = rest[i + 2];
        }
        if (n % 3 == 1) c.kernel.resize(c.kernel.size() * rest[n - 1] / 255);  // sometimes truncate
        if (n % 3 == 2) c.initrd.resize(rest[n - 1] * 16384ull);
    }
    try {
        boot::load(ram.mem, c);
    } catch (const boot::BootError&) {
    }
    if (!ram.guards_intact()) std::abort();
}
