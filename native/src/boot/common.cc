// Helpers shared by the loaders: bounds-checked guest writes, the command
// line, initrd placement and the e820 map.
#include <cstdio>

#include "boot/layout.h"

namespace vmm::boot {

std::string size_str(uint64_t bytes) {
    char buf[32];
    if (bytes >= kMiB) std::snprintf(buf, sizeof buf, "%llu MiB", static_cast<unsigned long long>((bytes + kMiB - 1) / kMiB));
    else std::snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>((bytes + 1023) / 1024));
    return buf;
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

void put(const GuestMemory& mem, uint64_t gpa, const void* src, uint64_t len, const char* what) {
    if (!mem.write(gpa, src, len))
        throw BootError(std::string(what) + ": " + size_str(len) + " at " + hex(gpa) + " is outside guest RAM");
}

void zero(const GuestMemory& mem, uint64_t gpa, uint64_t len, const char* what) {
    uint8_t* p = mem.ptr(gpa, len);
    if (!p) throw BootError(std::string(what) + ": " + size_str(len) + " at " + hex(gpa) + " is outside guest RAM");
    std::memset(p, 0, len);
}

void put_cmdline(const GuestMemory& mem, const std::string& cmdline, uint64_t max_len) {
    if (max_len > kCmdlineMax - 1) max_len = kCmdlineMax - 1;
    if (cmdline.size() > max_len)
        throw BootError("cmdline: " + std::to_string(cmdline.size()) + " bytes is longer than this kernel accepts (" +
                        std::to_string(max_len) + ")");
    if (cmdline.find('\0') != std::string::npos) throw BootError("cmdline: contains a NUL byte");
    put(mem, kCmdlineAddr, cmdline.c_str(), cmdline.size() + 1, "cmdline");
}

uint64_t place_initrd(const GuestMemory& mem, const BootConfig& cfg, uint64_t floor, uint64_t limit) {
    uint64_t size = cfg.initrd.size();
    if (size == 0) return 0;
    uint64_t top = low_ram_end(cfg.ram_bytes);
    if (limit < top) top = limit;
    top &= ~0xFFFULL;
    if (floor < kMinLoadAddr) floor = kMinLoadAddr;
    uint64_t need = ((floor + 0xFFF) & ~0xFFFULL) + size;
    if (size > top || ((top - size) & ~0xFFFULL) < floor) {
        if (top < low_ram_end(cfg.ram_bytes) || need >= platform::kMmioHoleStart)
            throw BootError("initrd: " + size_str(size) + " does not fit below " + hex(top) + " next to the kernel");
        throw BootError("memory: " + size_str(cfg.ram_bytes) + " is too little for this kernel and initrd (needs " +
                        size_str(need) + ")");
    }
    uint64_t addr = (top - size) & ~0xFFFULL;
    put(mem, addr, cfg.initrd.data(), size, "initrd");
    return addr;
}

std::vector<E820Entry> build_e820(uint64_t ram) {
    if (ram < kMinRam) throw BootError("memory: " + size_str(ram) + " is too little (at least 2 MiB)");
    std::vector<E820Entry> map;
    map.push_back({0, platform::kEbdaStart, 1});
    // EBDA, VGA hole, BIOS area; our ACPI tables live at 0xE0000 inside it.
    map.push_back({platform::kEbdaStart, platform::kBiosAreaEnd - platform::kEbdaStart, 2});
    uint64_t low = low_ram_end(ram);
    map.push_back({platform::kBiosAreaEnd, low - platform::kBiosAreaEnd, 1});
    if (ram > platform::kMmioHoleStart) map.push_back({platform::kHighMemStart, ram - platform::kMmioHoleStart, 1});
    return map;
}

}  // namespace vmm::boot
