// The boot layer: everything the VMM writes into guest RAM before the first
// KVM_RUN (kernel image, boot_params or hvm_start_info, e820, ACPI tables,
// page tables, GDT) and the initial register state of vCPU 0.
//
// Plain functions over vmm::GuestMemory: no KVM calls here, so all of it is
// unit-tested on ordinary buffers. The caller (src/vmm) copies CpuState into
// kvm_regs / kvm_sregs.
//
// Guest-physical layout used below 1 MiB (all inside the first RAM region):
//   0x01000  GDT (+ TSS at 0x1080)       0x02000  hvm_start_info, modlist, memmap (PVH)
//   0x07000  boot_params "zero page"     0x08000  boot stack (top 0x8FF0)
//   0x09000  PML4, 0x0A000 PDPT, 0x0B000-0x0EFFF four page directories (2 MiB pages, 0..4 GiB)
//   0x20000  kernel command line (up to 64 KiB)
//   0xE0000  ACPI (RSDP first) up to 0x100000, inside the e820 reserved range
// Kernels and initrds are loaded at or above 1 MiB only.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/guest_memory.h"

namespace vmm::boot {

// The message is one clear line meant for users ("kernel: ...", "memory: ...").
struct BootError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Linear framebuffer handed to the kernel (bzImage only: PVH has no screen_info).
// 32 bpp XRGB8888, stride in bytes. width 0 = no framebuffer.
struct FramebufferInfo {
    uint64_t base = 0;
    uint32_t width = 0, height = 0, stride = 0;
};

// One virtio-mmio device described in the DSDT as LNRO0005.
struct VirtioSlot {
    uint64_t base = 0;
    uint64_t size = 0;
    uint32_t gsi = 0;
};

struct BootConfig {
    uint64_t ram_bytes = 0;  // total guest RAM, same value the memory slots were built from
    uint32_t vcpus = 1;      // 1..254 (APIC IDs 0..vcpus-1, the IOAPIC takes ID vcpus)
    std::vector<uint8_t> kernel;
    std::vector<uint8_t> initrd;  // may be empty
    std::string cmdline;
    FramebufferInfo fb;
    std::vector<VirtioSlot> virtio;
};

// Field for field what struct kvm_segment wants: limit is in bytes
// (0xFFFFFFFF for a flat 4 GiB segment with g=1), unusable=1 for a null segment.
struct Segment {
    uint64_t base = 0;
    uint32_t limit = 0;
    uint16_t selector = 0;
    uint8_t type = 0, present = 0, dpl = 0, db = 0, s = 0, l = 0, g = 0, avl = 0, unusable = 0;
};

// Initial state of vCPU 0 (APs are started by the guest with INIT/SIPI).
// Registers not listed here start at 0. rsp points at a small boot stack
// below 0x9000 on both paths. IDT limit 0: interrupts stay off
// (rflags.IF = 0) until the guest loads its own IDT.
struct CpuState {
    bool long_mode = false;
    uint64_t rip = 0, rsp = 0, rbx = 0, rsi = 0, rflags = 0x2;
    uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
    Segment cs, ds, es, fs, gs, ss, tr, ldt;
    uint64_t gdt_base = 0;
    uint16_t gdt_limit = 0;
    uint64_t idt_base = 0;
    uint16_t idt_limit = 0;
};

enum class KernelKind { Pvh, LinuxBzImage };

// e820 types: 1 usable RAM, 2 reserved, 3 ACPI reclaimable.
struct E820Entry {
    uint64_t addr, size;
    uint32_t type;
};

struct BootResult {
    KernelKind kind;
    CpuState bsp;
    std::vector<E820Entry> e820;
    std::string summary;  // one line for the VM log, e.g. "bzImage protocol 2.15 at 0x1000000 ..."
};

// The guest's memory map for `ram_bytes` of RAM laid out as in core/platform.h.
// Throws BootError when ram_bytes is below 2 MiB.
std::vector<E820Entry> build_e820(uint64_t ram_bytes);

// Detects the kernel kind (bzImage "HdrS" or ELF with a Xen PVH entry note),
// loads it, the initrd and the command line, writes boot_params or
// hvm_start_info, ACPI tables and (bzImage) page tables, and returns the
// state vCPU 0 starts in. Throws BootError with one line; on error the guest
// memory may be partially written but never outside `mem`'s regions.
BootResult load(const GuestMemory& mem, const BootConfig& cfg);

// Writes RSDP (at platform::kAcpiRsdp), RSDT, XSDT, FADT, FACS, MADT and DSDT
// into [0xE0000, 0x100000). Called by load(); exposed for tests.
void write_acpi(const GuestMemory& mem, const BootConfig& cfg);

}  // namespace vmm::boot
