// Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry:
// the protected-mode kernel goes to pref_address, boot_params (the "zero
// page") gets the setup header from the image plus what the loader fills
// in, and the CPU starts in long mode at load address + 0x200.
//
// Minimum protocol 2.12: xloadflags (XLF_KERNEL_64 says the 64-bit entry
// exists) and the ext_* fields for addresses above 4 GiB appeared in 2.12;
// init_size and pref_address (2.10) and cmdline_size (2.06) are older.
#include <algorithm>
#include <cstring>

#include "boot/layout.h"

namespace vmm::boot {

namespace {

// Setup header offsets (same in the image and in boot_params).
constexpr size_t kSetupSects = 0x1F1, kSyssize = 0x1F4, kJump = 0x200, kHeader = 0x202, kVersion = 0x206,
                 kTypeOfLoader = 0x210, kLoadflags = 0x211, kRamdiskImage = 0x218, kRamdiskSize = 0x21C,
                 kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22C, kKernelAlignment = 0x230, kRelocatable = 0x234,
                 kXloadflags = 0x236, kCmdlineSize = 0x238, kHardwareSubarch = 0x23C, kSetupData = 0x250, kPrefAddress = 0x258, kInitSize = 0x260;
// boot_params fields outside the setup header.
constexpr size_t kAcpiRsdpAddr = 0x070, kExtRamdiskImage = 0x0C0, kExtRamdiskSize = 0x0C4, kExtCmdLinePtr = 0x0C8,
                 kE820Entries = 0x1E8, kE820Table = 0x2D0, kSetupHeaderMaxEnd = 0x290;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint16_t kXlfKernel64 = 0x01;
constexpr uint16_t kMinVersion = 0x020C;

uint64_t rd(const std::vector<uint8_t>& b, size_t off, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b.at(off + i);
    return v;
}

void wr(uint8_t* b, size_t off, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

std::string version_str(uint64_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%02u", static_cast<unsigned>(v >> 8), static_cast<unsigned>(v & 0xFF));
    return buf;
}

// screen_info for an XRGB8888 linear framebuffer, typed VIDEO_TYPE_EFI so
// that efifb binds (Debian's cloud kernel has no vesafb). efifb reads
// lfb_size in bytes (vesafb would read 64 KiB units).
void write_screen_info(uint8_t* bp, const FramebufferInfo& fb) {
    if (fb.width > 0xFFFF || fb.height == 0 || fb.height > 0xFFFF || fb.stride > 0xFFFF ||
        uint64_t{fb.stride} < uint64_t{fb.width} * 4)
        throw BootError("framebuffer: " + std::to_string(fb.width) + "x" + std::to_string(fb.height) + " stride " +
                        std::to_string(fb.stride) + " cannot be described to the kernel");
    uint64_t size = (uint64_t{fb.stride} * fb.height + 0xFFF) & ~0xFFFULL;
    wr(bp, 0x0F, 0x70, 1);               // orig_video_isVGA = VIDEO_TYPE_EFI
    wr(bp, 0x12, fb.width, 2);           // lfb_width
    wr(bp, 0x14, fb.height, 2);          // lfb_height
    wr(bp, 0x16, 32, 2);                 // lfb_depth
    wr(bp, 0x18, fb.base & 0xFFFFFFFF, 4);  // lfb_base
    wr(bp, 0x1C, size, 4);               // lfb_size (bytes for efifb)
    wr(bp, 0x24, fb.stride, 2);          // lfb_linelength
    const uint8_t rgb[8] = {8, 16, 8, 8, 8, 0, 8, 24};  // red, green, blue, reserved: size, pos
    std::memcpy(bp + 0x26, rgb, sizeof rgb);
    wr(bp, 0x32, 1, 2);                  // pages
    if (fb.base >> 32) {
        wr(bp, 0x36, 1 << 1, 4);         // capabilities: VIDEO_CAPABILITY_64BIT_BASE
        wr(bp, 0x3A, fb.base >> 32, 4);  // ext_lfb_base
    }
}

}  // namespace

BootResult load_bzimage(const GuestMemory& mem, const BootConfig& cfg, const std::vector<E820Entry>& e820) {
    const auto& k = cfg.kernel;
    if (k.size() < kVersion + 2) throw BootError("kernel: bzImage is truncated (" + std::to_string(k.size()) + " bytes)");
    uint64_t version = rd(k, kVersion, 2);
    if (version < kMinVersion)
        throw BootError("kernel: Linux boot protocol " + version_str(version) +
                        " is too old (need 2.12+ for the 64-bit entry point)");
    uint64_t hdr_end = kHeader + k[kJump + 1];  // the jump at 0x200 skips exactly the header
    if (hdr_end < kInitSize + 4 || hdr_end > k.size())
        throw BootError("kernel: bzImage setup header is truncated (ends at " + hex(hdr_end) + ")");
    hdr_end = std::min<uint64_t>(hdr_end, kSetupHeaderMaxEnd);
    if (!(rd(k, kXloadflags, 2) & kXlfKernel64)) throw BootError("kernel: bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)");
    if (!(k[kLoadflags] & kLoadedHigh)) throw BootError("kernel: zImage (loads below 1 MiB) is not supported, need a bzImage");

    uint64_t setup_sects = k[kSetupSects] ? k[kSetupSects] : 4;
    uint64_t setup_size = (setup_sects + 1) * 512;
    uint64_t syssize = rd(k, kSyssize, 4) * 16;
    if (setup_size >= k.size() || syssize > k.size() - setup_size)
        throw BootError("kernel: bzImage is truncated (" + std::to_string(k.size()) + " bytes, header says " +
                        std::to_string(setup_size + syssize) + ")");
    uint64_t pm_size = k.size() - setup_size;

    // Where the protected-mode kernel goes. A relocatable kernel could go
    // anywhere aligned, but it decompresses to at least LOAD_PHYSICAL_ADDR
    // (= pref_address) anyway, so loading it there avoids a copy; a
    // non-relocatable one must be at pref_address exactly.
    uint64_t pref = rd(k, kPrefAddress, 8);
    uint64_t align = rd(k, kKernelAlignment, 4);
    bool relocatable = k[kRelocatable] != 0;
    uint64_t load = pref;
    if (relocatable) {
        if (align == 0 || (align & (align - 1)) || align > (1ULL << 30))
            throw BootError("kernel: bzImage has a bad kernel_alignment (" + hex(align) + ")");
        load = std::max<uint64_t>(pref, kMinLoadAddr);
        load = (load + align - 1) & ~(align - 1);
    }
    if (load < kMinLoadAddr) throw BootError("kernel: bzImage wants to load at " + hex(load) + ", below 1 MiB");
    uint64_t init_size = std::max<uint64_t>(rd(k, kInitSize, 4), pm_size);
    uint64_t kernel_end = load + init_size;
    if (load >= platform::kMmioHoleStart || init_size > platform::kMmioHoleStart - load)
        throw BootError("kernel: bzImage needs " + size_str(init_size) + " at " + hex(load) + ", beyond the 3 GiB hole");
    if (kernel_end > low_ram_end(cfg.ram_bytes))
        throw BootError("memory: " + size_str(cfg.ram_bytes) + " is too little for this kernel (needs " +
                        size_str(kernel_end + cfg.initrd.size()) + ")");

    uint64_t cmdline_max = version >= 0x0206 ? rd(k, kCmdlineSize, 4) : 255;
    uint64_t initrd_max = rd(k, kInitrdAddrMax, 4);
    if (e820.size() > kMaxE820) throw BootError("memory: too many e820 entries");

    CpuState st = setup_long_mode(mem);
    put(mem, load, k.data() + setup_size, pm_size, "kernel");
    put_cmdline(mem, cfg.cmdline, cmdline_max);
    uint64_t initrd = place_initrd(mem, cfg, kernel_end, initrd_max + 1);

    uint8_t bp[4096] = {};
    std::memcpy(bp + kSetupSects, k.data() + kSetupSects, hdr_end - kSetupSects);
    bp[kTypeOfLoader] = 0xFF;  // undefined loader
    wr(bp, kHardwareSubarch, 0, 4);  // a plain PC, whatever the image says
    wr(bp, kSetupData, 0, 8);        // no setup_data chain: never follow a pointer from the image
    wr(bp, kCmdLinePtr, kCmdlineAddr, 4);
    wr(bp, kExtCmdLinePtr, kCmdlineAddr >> 32, 4);
    wr(bp, kRamdiskImage, initrd & 0xFFFFFFFF, 4);
    wr(bp, kRamdiskSize, cfg.initrd.size() & 0xFFFFFFFF, 4);
    wr(bp, kExtRamdiskImage, initrd >> 32, 4);
    wr(bp, kExtRamdiskSize, uint64_t{cfg.initrd.size()} >> 32, 4);
    wr(bp, kE820Entries, e820.size(), 1);
    for (size_t i = 0; i < e820.size(); ++i) {
        wr(bp, kE820Table + i * 20, e820[i].addr, 8);
        wr(bp, kE820Table + i * 20 + 8, e820[i].size, 8);
        wr(bp, kE820Table + i * 20 + 16, e820[i].type, 4);
    }
    // acpi_rsdp_addr exists in boot_params since protocol 2.14; older kernels
    // still find the RSDP by scanning 0xE0000-0xFFFFF.
    if (version >= 0x020E) wr(bp, kAcpiRsdpAddr, platform::kAcpiRsdp, 8);
    if (cfg.fb.width != 0) write_screen_info(bp, cfg.fb);
    put(mem, kBootParamsAddr, bp, sizeof bp, "boot_params");

    st.rip = load + 0x200;
    st.rsi = kBootParamsAddr;
    BootResult r{KernelKind::LinuxBzImage, st, e820, ""};
    r.summary = "bzImage protocol " + version_str(version) + " at " + hex(load) + " (init_size " + size_str(init_size) + ")";
    if (initrd) r.summary += ", initrd " + size_str(cfg.initrd.size()) + " at " + hex(initrd);
    if (cfg.fb.width) r.summary += ", efifb " + std::to_string(cfg.fb.width) + "x" + std::to_string(cfg.fb.height);
    return r;
}

}  // namespace vmm::boot
