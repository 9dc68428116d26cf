// Internal to src/boot: where the boot data lives in guest RAM (see boot.h for
// the picture) and small helpers shared by the loaders. Tests include it to
// find what load() wrote.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "boot/boot.h"
#include "core/guest_memory.h"
#include "core/platform.h"

namespace vmm::boot {

constexpr uint64_t kGdtAddr = 0x1000;
constexpr uint64_t kTssAddr = 0x1080;         // 104-byte TSS, all zero: TR just has to be usable
constexpr uint64_t kStartInfoAddr = 0x2000;   // PVH hvm_start_info (56 bytes)
constexpr uint64_t kModlistAddr = 0x2100;     // PVH hvm_modlist_entry[1]
constexpr uint64_t kMemmapAddr = 0x2200;      // PVH hvm_memmap_table_entry[], up to 128
constexpr uint64_t kBootParamsAddr = 0x7000;  // Linux zero page (4 KiB)
constexpr uint64_t kBootStackTop = 0x8FF0;
constexpr uint64_t kPml4Addr = 0x9000;
constexpr uint64_t kPdptAddr = 0xA000;
constexpr uint64_t kPdAddr = 0xB000;          // 4 pages: 0..4 GiB in 2 MiB pages
constexpr uint64_t kCmdlineAddr = 0x20000;
constexpr uint64_t kCmdlineMax = 0x10000;     // bytes including the NUL
constexpr uint64_t kAcpiEnd = platform::kBiosAreaEnd;  // ACPI tables live in [kAcpiRsdp, kAcpiEnd)
constexpr uint64_t kMinLoadAddr = platform::kBiosAreaEnd;  // kernels and initrds load at or above 1 MiB
constexpr uint64_t kMinRam = 2ULL << 20;
constexpr uint32_t kMaxVcpus = 254;           // 8-bit APIC IDs, the IOAPIC takes ID vcpus
constexpr size_t kMaxE820 = 128;

constexpr uint64_t kMiB = 1ULL << 20;

// End of RAM below the MMIO hole.
inline uint64_t low_ram_end(uint64_t ram) { return ram < platform::kMmioHoleStart ? ram : platform::kMmioHoleStart; }

// "48 MiB" / "1536 KiB" for messages: rounded up to whole MiB when >= 1 MiB.
std::string size_str(uint64_t bytes);
std::string hex(uint64_t v);

// Copies into guest RAM or throws BootError("<what>: ...") when any byte is outside it.
void put(const GuestMemory& mem, uint64_t gpa, const void* src, uint64_t len, const char* what);
void zero(const GuestMemory& mem, uint64_t gpa, uint64_t len, const char* what);

// Writes the command line (NUL-terminated) at kCmdlineAddr; max_len excludes the NUL.
void put_cmdline(const GuestMemory& mem, const std::string& cmdline, uint64_t max_len);

// Places the initrd as high as possible below min(low RAM end, limit), page
// aligned, not below `floor` (end of the kernel). Returns its address (0 when
// the initrd is empty). Throws BootError when it does not fit.
uint64_t place_initrd(const GuestMemory& mem, const BootConfig& cfg, uint64_t floor, uint64_t limit);

// Flat GDT + segment state, written to kGdtAddr / kTssAddr.
CpuState setup_protected_mode(const GuestMemory& mem);  // PVH: 32-bit, paging off
CpuState setup_long_mode(const GuestMemory& mem);       // Linux 64-bit entry: paging on, identity 0..4 GiB

// Kind-specific loaders; `e820` is what build_e820 returned.
BootResult load_pvh(const GuestMemory& mem, const BootConfig& cfg, const std::vector<E820Entry>& e820);
BootResult load_bzimage(const GuestMemory& mem, const BootConfig& cfg, const std::vector<E820Entry>& e820);

}  // namespace vmm::boot
