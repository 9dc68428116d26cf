// The machine every VM gets: one fixed, documented layout shared by the VMM,
// the ACPI tables it writes and the test guest (native/guest/) that relies
// on it. docs/architecture.md ("Machine model") describes the same table.
#pragma once

#include <cstdint>

namespace vmm::platform {

// Guest RAM: [0, min(ram, kMmioHoleStart)) and, for larger guests, the rest
// from 4 GiB up. The hole below 4 GiB holds devices, the framebuffer and the
// in-kernel LAPIC/IOAPIC.
constexpr uint64_t kMmioHoleStart = 0xC000'0000ULL;
constexpr uint64_t kHighMemStart = 0x1'0000'0000ULL;

// Low-memory reservations (all inside RAM, marked reserved in e820).
constexpr uint64_t kEbdaStart = 0x9'FC00;        // reserved to 1 MiB
constexpr uint64_t kBiosAreaEnd = 0x10'0000;
constexpr uint64_t kAcpiRsdp = 0xE'0000;         // where Linux scans for RSDP

// Linear framebuffer: its own KVM memory slot so the dirty log covers only it.
// Same base as Bochs VBE's LFB, which the guest finds through the DISPI ports.
constexpr uint64_t kFramebufferBase = 0xE000'0000ULL;
constexpr uint64_t kFramebufferMaxSize = 16ULL << 20;  // 1920x1080x4 fits
constexpr uint32_t kFramebufferMaxWidth = 1920;
constexpr uint32_t kFramebufferMaxHeight = 1080;

// virtio-mmio (virtio 1.x "modern" register layout), described to Linux in
// the ACPI DSDT as LNRO0005 devices. Slot i lives at base + i*stride and
// raises IOAPIC pin kVirtioGsiBase + i, level-triggered, active high.
constexpr uint64_t kVirtioMmioBase = 0xD000'0000ULL;
constexpr uint64_t kVirtioMmioStride = 0x1000;
constexpr uint32_t kVirtioMmioSlots = 8;
constexpr uint32_t kVirtioGsiBase = 16;

// Legacy port I/O devices.
constexpr uint16_t kCom1Port = 0x3F8;   constexpr uint32_t kCom1Gsi = 4;
constexpr uint16_t kI8042Data = 0x60;   constexpr uint16_t kI8042Cmd = 0x64;
constexpr uint32_t kKeyboardGsi = 1;    constexpr uint32_t kMouseGsi = 12;
constexpr uint16_t kRtcPort = 0x70;     constexpr uint32_t kRtcGsi = 8;
constexpr uint16_t kVbeIndexPort = 0x1CE;  // Bochs VBE DISPI index, data at +1
constexpr uint16_t kPm1aEvtPort = 0x600;   // ACPI PM1a event block (4 bytes)
constexpr uint16_t kPm1aCntPort = 0x604;   // ACPI PM1a control (2 bytes): S5 = poweroff
constexpr uint16_t kResetPort = 0xCF9;     // ACPI reset register (value 0x06)
constexpr uint16_t kSlpTypS5 = 5;          // SLP_TYP for S5 in \_S5 and PM1a_CNT
constexpr uint16_t kSlpEn = 1 << 13;

}  // namespace vmm::platform
