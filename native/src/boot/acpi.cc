// ACPI tables: how Debian's kernels find the CPUs (MADT; the cloud kernel
// ignores MP tables), the virtio-mmio devices (LNRO0005 in the DSDT), the
// legacy PNP devices, the PM registers used for poweroff and the reset
// register. A full (not hardware-reduced) FADT so that the i8042, RTC and
// PM1 fixed hardware are used.
#include <cstring>

#include "boot/aml.h"
#include "boot/layout.h"

namespace vmm::boot {

namespace {

using aml::Bytes;

constexpr char kOemId[7] = "VMMKVM";
constexpr char kOemTable[9] = "VMMBOOT ";

void le(Bytes& b, size_t off, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.at(off + i) = static_cast<uint8_t>(v >> (8 * i));
}

uint8_t checksum(const uint8_t* p, size_t n) {
    uint8_t sum = 0;
    for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + p[i]);
    return static_cast<uint8_t>(-sum);
}

// Standard 36-byte header + body, checksum filled in.
Bytes table(const char* sig, uint8_t revision, const Bytes& body) {
    Bytes t(36, 0);
    std::memcpy(t.data(), sig, 4);
    le(t, 4, 36 + body.size(), 4);
    t[8] = revision;
    std::memcpy(t.data() + 10, kOemId, 6);
    std::memcpy(t.data() + 16, kOemTable, 8);
    le(t, 24, 1, 4);                      // OEM revision
    std::memcpy(t.data() + 28, "VMMC", 4);  // creator id
    le(t, 32, 1, 4);                      // creator revision
    t.insert(t.end(), body.begin(), body.end());
    t[9] = checksum(t.data(), t.size());
    return t;
}

// Generic Address Structure (12 bytes): space 1 = system I/O.
void gas(Bytes& b, size_t off, uint8_t space, uint8_t bit_width, uint8_t access_size, uint64_t addr) {
    b.at(off) = space;
    b.at(off + 1) = bit_width;
    b.at(off + 2) = 0;
    b.at(off + 3) = access_size;
    le(b, off + 4, addr, 8);
}

Bytes dsdt_body(const BootConfig& cfg) {
    using namespace aml;
    namespace p = platform;
    std::vector<Bytes> sb;
    sb.push_back(device("COM1", {name("_HID", eisa_id("PNP0501")), name("_UID", integer(1)),
                                 name("_CRS", resource_template({io(p::kCom1Port, p::kCom1Port, 1, 8),
                                                                  irq_no_flags(p::kCom1Gsi)}))}));
    sb.push_back(device("PS2K", {name("_HID", eisa_id("PNP0303")),
                                 name("_CRS", resource_template({io(p::kI8042Data, p::kI8042Data, 1, 1),
                                                                  io(p::kI8042Cmd, p::kI8042Cmd, 1, 1),
                                                                  irq_no_flags(p::kKeyboardGsi)}))}));
    sb.push_back(device("PS2M", {name("_HID", eisa_id("PNP0F13")),
                                 name("_CRS", resource_template({irq_no_flags(p::kMouseGsi)}))}));
    sb.push_back(device("RTC", {name("_HID", eisa_id("PNP0B00")),
                                name("_CRS", resource_template({io(p::kRtcPort, p::kRtcPort, 1, 2),
                                                                 irq_no_flags(p::kRtcGsi)}))}));
    for (size_t i = 0; i < cfg.virtio.size(); ++i) {
        const auto& v = cfg.virtio[i];
        static const char digits[] = "0123456789ABCDEF";
        std::string n = {'V', 'R', digits[(i >> 4) & 0xF], digits[i & 0xF]};
        // Each slot has its own GSI, so the line is exclusive; Linux ignores the
        // flag for platform devices and virtio_mmio's IRQF_SHARED request works
        // either way. Level, active high: what the IOAPIC pin is programmed to.
        sb.push_back(device(n, {name("_HID", string("LNRO0005")), name("_UID", integer(i)),
                                name("_CRS", resource_template({memory32_fixed(true, static_cast<uint32_t>(v.base),
                                                                               static_cast<uint32_t>(v.size)),
                                                                interrupt(true, false, false, false, v.gsi)}))}));
    }
    Bytes body = name("\\_S5", package({integer(p::kSlpTypS5), integer(p::kSlpTypS5), integer(0), integer(0)}));
    Bytes s = scope("\\_SB", sb);
    body.insert(body.end(), s.begin(), s.end());
    return body;
}

Bytes madt_body(const BootConfig& cfg) {
    Bytes b(8, 0);
    le(b, 0, 0xFEE00000, 4);  // local APIC address
    le(b, 4, 1, 4);           // PCAT_COMPAT: dual 8259s present (KVM's in-kernel PIC)
    for (uint32_t i = 0; i < cfg.vcpus; ++i) {
        // Processor Local APIC: UID = APIC ID = index, enabled.
        b.insert(b.end(), {0, 8, static_cast<uint8_t>(i), static_cast<uint8_t>(i), 1, 0, 0, 0});
    }
    Bytes io(12, 0);
    io[0] = 1;
    io[1] = 12;
    io[2] = static_cast<uint8_t>(cfg.vcpus);  // IOAPIC ID after the CPUs' APIC IDs
    le(io, 4, 0xFEC00000, 4);
    le(io, 8, 0, 4);  // GSI base
    b.insert(b.end(), io.begin(), io.end());
    // Interrupt source overrides: the PIT's IRQ0 is IOAPIC pin 2; the SCI
    // (IRQ9) is level-triggered, active high (flags: polarity 01, trigger 11).
    auto iso = [&](uint8_t irq, uint32_t gsi, uint16_t flags) {
        Bytes e(10, 0);
        e[0] = 2;
        e[1] = 10;
        e[2] = 0;  // ISA
        e[3] = irq;
        le(e, 4, gsi, 4);
        le(e, 8, flags, 2);
        b.insert(b.end(), e.begin(), e.end());
    };
    iso(0, 2, 0);
    iso(9, 9, 0x000D);
    // Local APIC NMI on LINT1 for all processors, as on PC hardware.
    b.insert(b.end(), {4, 6, 0xFF, 0, 0, 1});
    return b;
}

Bytes fadt(uint64_t facs, uint64_t dsdt) {
    namespace p = platform;
    Bytes b(276 - 36, 0);
    auto at = [](size_t table_off) { return table_off - 36; };  // offsets below are from the spec (table start)
    le(b, at(36), facs, 4);                 // FIRMWARE_CTRL
    le(b, at(40), dsdt, 4);                 // DSDT
    b[at(45)] = 0;                          // Preferred_PM_Profile: unspecified
    le(b, at(46), 9, 2);                    // SCI_INT
    le(b, at(48), 0, 4);                    // SMI_CMD 0: no SMM, already in ACPI mode
    le(b, at(56), p::kPm1aEvtPort, 4);      // PM1a_EVT_BLK
    le(b, at(64), p::kPm1aCntPort, 4);      // PM1a_CNT_BLK
    b[at(88)] = 4;                          // PM1_EVT_LEN
    b[at(89)] = 2;                          // PM1_CNT_LEN
    le(b, at(96), 101, 2);                  // P_LVL2_LAT > 100: C2 not supported
    le(b, at(98), 1001, 2);                 // P_LVL3_LAT > 1000: C3 not supported
    b[at(108)] = 0x32;                      // CENTURY: CMOS register of the RTC's century byte
    le(b, at(109), (1 << 1) | (1 << 2), 2);  // IAPC_BOOT_ARCH: 8042 present, VGA not present
    // Flags: WBINVD, PROC_C1, SLP_BUTTON (no sleep button), RESET_REG_SUP.
    // PWR_BUTTON (bit 4) stays clear: the power button is the fixed feature
    // of PM1 (devices/pm.h), which is how the agent asks a guest to shut down.
    le(b, at(112), (1 << 0) | (1 << 2) | (1 << 5) | (1 << 10), 4);
    gas(b, at(116), 1, 8, 1, p::kResetPort);  // RESET_REG: system I/O, byte
    b[at(128)] = 0x06;                        // RESET_VALUE
    b[at(131)] = 0;                           // FADT minor version (6.0)
    // X_FIRMWARE_CTRL stays 0: with both set, Linux installs the FACS twice.
    le(b, at(140), dsdt, 8);                  // X_DSDT
    gas(b, at(148), 1, 32, 0, p::kPm1aEvtPort);  // X_PM1a_EVT_BLK
    gas(b, at(172), 1, 16, 0, p::kPm1aCntPort);  // X_PM1a_CNT_BLK
    return table("FACP", 6, b);
}

Bytes facs() {
    Bytes f(64, 0);
    std::memcpy(f.data(), "FACS", 4);
    le(f, 4, 64, 4);
    f[32] = 2;  // version
    return f;
}

}  // namespace

void write_acpi(const GuestMemory& mem, const BootConfig& cfg) {
    if (cfg.vcpus < 1 || cfg.vcpus > kMaxVcpus)
        throw BootError("cpus: " + std::to_string(cfg.vcpus) + " vCPUs is out of range (1-" + std::to_string(kMaxVcpus) + ")");
    if (cfg.virtio.size() > platform::kVirtioMmioSlots)
        throw BootError("virtio: " + std::to_string(cfg.virtio.size()) + " devices, at most " +
                        std::to_string(platform::kVirtioMmioSlots));
    for (const auto& v : cfg.virtio) {
        if (v.size == 0 || v.base > 0xFFFFFFFFULL || v.size > 0x100000000ULL - v.base)
            throw BootError("virtio: window " + hex(v.base) + "+" + hex(v.size) + " is not below 4 GiB");
    }

    // Everything goes into [0xE0000, 0x100000): RSDP, FACS, DSDT, MADT, FADT, XSDT, RSDT.
    uint64_t cursor = platform::kAcpiRsdp + 64;
    auto place = [&](const Bytes& t, uint64_t align) {
        uint64_t addr = (cursor + align - 1) & ~(align - 1);
        if (addr > kAcpiEnd || t.size() > kAcpiEnd - addr)
            throw BootError("acpi: tables do not fit below 1 MiB (" + std::to_string(t.size()) + " bytes at " + hex(addr) + ")");
        put(mem, addr, t.data(), t.size(), "acpi");
        cursor = addr + t.size();
        return addr;
    };
    zero(mem, platform::kAcpiRsdp, kAcpiEnd - platform::kAcpiRsdp, "acpi");

    uint64_t facs_addr = place(facs(), 64);
    uint64_t dsdt_addr = place(table("DSDT", 2, dsdt_body(cfg)), 16);
    uint64_t madt_addr = place(table("APIC", 5, madt_body(cfg)), 16);
    uint64_t fadt_addr = place(fadt(facs_addr, dsdt_addr), 16);
    Bytes xsdt_body(16, 0), rsdt_body(8, 0);
    le(xsdt_body, 0, fadt_addr, 8);
    le(xsdt_body, 8, madt_addr, 8);
    le(rsdt_body, 0, fadt_addr, 4);
    le(rsdt_body, 4, madt_addr, 4);
    uint64_t xsdt_addr = place(table("XSDT", 1, xsdt_body), 16);
    uint64_t rsdt_addr = place(table("RSDT", 1, rsdt_body), 16);

    Bytes rsdp(36, 0);
    std::memcpy(rsdp.data(), "RSD PTR ", 8);
    std::memcpy(rsdp.data() + 9, kOemId, 6);
    rsdp[15] = 2;  // revision 2: XSDT present
    le(rsdp, 16, rsdt_addr, 4);
    le(rsdp, 20, 36, 4);
    le(rsdp, 24, xsdt_addr, 8);
    rsdp[8] = checksum(rsdp.data(), 20);
    rsdp[32] = checksum(rsdp.data(), 36);
    put(mem, platform::kAcpiRsdp, rsdp.data(), rsdp.size(), "acpi");
}

}  // namespace vmm::boot
