// AML encoder and ACPI tables: exact bytes for the encodings that are easy
// to get wrong (PkgLength, EisaId), checksums, and the fields Linux reads.
// Set VMM_ACPI_DUMP_DIR=/some/dir to also dump the tables for `iasl -d`.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "boot/aml.h"
#include "boot/boot.h"
#include "boot/layout.h"
#include "check.h"
#include "core/platform.h"

namespace {

using vmm::boot::aml::Bytes;
namespace aml = vmm::boot::aml;

// Decodes a PkgLength; returns the encoded value and sets `used` to its size.
uint64_t decode_pkg(const uint8_t* p, size_t& used) {
    size_t extra = p[0] >> 6;
    used = extra + 1;
    if (extra == 0) return p[0] & 0x3F;
    uint64_t v = p[0] & 0xF;
    for (size_t i = 0; i < extra; ++i) v |= uint64_t{p[1 + i]} << (4 + 8 * i);
    return v;
}

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
};

uint8_t sum(const uint8_t* p, size_t n) {
    uint8_t s = 0;
    for (size_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + p[i]);
    return s;
}

bool contains(const uint8_t* p, size_t n, const Bytes& needle) {
    if (needle.size() > n) return false;
    for (size_t i = 0; i + needle.size() <= n; ++i)
        if (std::memcmp(p + i, needle.data(), needle.size()) == 0) return true;
    return false;
}

size_t count(const uint8_t* p, size_t n, const std::string& needle) {
    size_t c = 0;
    for (size_t i = 0; i + needle.size() <= n; ++i)
        if (std::memcmp(p + i, needle.data(), needle.size()) == 0) ++c;
    return c;
}

vmm::boot::BootConfig acpi_config(uint32_t vcpus, size_t virtio) {
    vmm::boot::BootConfig cfg;
    cfg.ram_bytes = 16 << 20;
    cfg.vcpus = vcpus;
    for (size_t i = 0; i < virtio; ++i)
        cfg.virtio.push_back({vmm::platform::kVirtioMmioBase + i * vmm::platform::kVirtioMmioStride, 0x1000,
                              vmm::platform::kVirtioGsiBase + static_cast<uint32_t>(i)});
    return cfg;
}

}  // namespace

TEST(boot_aml_pkg_length_boundaries) {
    CHECK(aml::pkg_length(0) == (Bytes{0x01}));
    CHECK(aml::pkg_length(62) == (Bytes{0x3F}));                     // largest 1-byte: total 63
    CHECK(aml::pkg_length(63) == (Bytes{0x41, 0x04}));               // total 65 = 0x041
    CHECK(aml::pkg_length(4093) == (Bytes{0x4F, 0xFF}));             // largest 2-byte: total 0xFFF
    CHECK(aml::pkg_length(4094) == (Bytes{0x81, 0x00, 0x01}));       // total 0x1001
    CHECK(aml::pkg_length(0xFFFFF - 3) == (Bytes{0x8F, 0xFF, 0xFF})); // largest 3-byte
    CHECK(aml::pkg_length(0xFFFFF - 2) == (Bytes{0xC1, 0x00, 0x00, 0x01}));  // total 0x100001
    CHECK(aml::pkg_length(0xFFFFFFF - 4) == (Bytes{0xCF, 0xFF, 0xFF, 0xFF}));
    bool threw = false;
    try { aml::pkg_length(0xFFFFFFF); } catch (const vmm::boot::BootError&) { threw = true; }
    CHECK(threw);
    // Round trip: the encoded value is payload + own size, for many sizes.
    for (size_t payload : {1ul, 10ul, 60ul, 61ul, 64ul, 100ul, 255ul, 4000ul, 4092ul, 4095ul, 70000ul, 1048570ul, 1048576ul, 5000000ul}) {
        Bytes b = aml::pkg_length(payload);
        size_t used = 0;
        CHECK_EQ(decode_pkg(b.data(), used), payload + b.size());
        CHECK_EQ(used, b.size());
    }
}

TEST(boot_aml_scalars_and_names) {
    CHECK(aml::integer(0) == (Bytes{0x00}));
    CHECK(aml::integer(1) == (Bytes{0x01}));
    CHECK(aml::integer(5) == (Bytes{0x0A, 0x05}));
    CHECK(aml::integer(0x3F8) == (Bytes{0x0B, 0xF8, 0x03}));
    CHECK(aml::integer(0xD0000000) == (Bytes{0x0C, 0x00, 0x00, 0x00, 0xD0}));
    CHECK(aml::integer(0x100000000ULL) == (Bytes{0x0E, 0, 0, 0, 0, 1, 0, 0, 0}));
    CHECK(aml::eisa_id("PNP0501") == (Bytes{0x0C, 0x41, 0xD0, 0x05, 0x01}));  // 0x0105D041
    CHECK(aml::eisa_id("PNP0F13") == (Bytes{0x0C, 0x41, 0xD0, 0x0F, 0x13}));
    CHECK(aml::string("LNRO0005") == (Bytes{0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0}));
    CHECK(aml::name_string("_HID") == (Bytes{'_', 'H', 'I', 'D'}));
    CHECK(aml::name_string("\\_S5") == (Bytes{'\\', '_', 'S', '5', '_'}));
    CHECK(aml::name_string("\\_SB.COM1") == (Bytes{'\\', 0x2E, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'}));
    CHECK(aml::name_string("A.B.C") == (Bytes{0x2F, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'}));
    for (const char* bad : {"1ABC", "ABCDE", "a", "A..B", "A."}) {
        bool threw = false;
        try { aml::name_string(bad); } catch (const vmm::boot::BootError&) { threw = true; }
        CHECK(threw);
    }
    // Resource descriptors, bytes as iasl emits them.
    CHECK(aml::io(0x3F8, 0x3F8, 1, 8) == (Bytes{0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08}));
    CHECK(aml::irq_no_flags(4) == (Bytes{0x22, 0x10, 0x00}));
    CHECK(aml::irq_no_flags(12) == (Bytes{0x22, 0x00, 0x10}));
    CHECK(aml::memory32_fixed(true, 0xD0000000, 0x1000) ==
          (Bytes{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x10, 0x00, 0x00}));
    CHECK(aml::interrupt(true, false, false, false, 16) == (Bytes{0x89, 0x06, 0x00, 0x01, 0x01, 0x10, 0x00, 0x00, 0x00}));
    // Package {5, 5, 0, 0}: PackageOp, PkgLength 8, 4 elements.
    CHECK(aml::package({aml::integer(5), aml::integer(5), aml::integer(0), aml::integer(0)}) ==
          (Bytes{0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00}));
    // Device with a body long enough for a 2-byte PkgLength.
    std::vector<Bytes> body;
    for (int i = 0; i < 20; ++i) body.push_back(aml::name("_UID", aml::integer(0x12345678)));
    Bytes d = aml::device("DEV0", body);
    CHECK_EQ(d[0], 0x5B);
    CHECK_EQ(d[1], 0x82);
    size_t used = 0;
    CHECK_EQ(decode_pkg(d.data() + 2, used), d.size() - 2);
    CHECK_EQ(used, 2u);
}

TEST(boot_acpi_tables_checksums_and_fields) {
    namespace p = vmm::platform;
    Ram ram(16 << 20);
    auto cfg = acpi_config(4, 3);
    vmm::boot::write_acpi(ram.mem, cfg);
    // Nothing outside [0xE0000, 0x100000) changed.
    bool outside_untouched = true;
    for (uint64_t a = 0; a < (16u << 20); a += (a >= p::kAcpiRsdp && a < 0x100000) ? 0x20000 : 1)
        if (!(a >= p::kAcpiRsdp && a < 0x100000) && *ram.at(a) != 0xCC) { outside_untouched = false; break; }
    CHECK(outside_untouched);

    uint8_t* rsdp = ram.at(p::kAcpiRsdp);
    CHECK(std::memcmp(rsdp, "RSD PTR ", 8) == 0);
    CHECK_EQ(sum(rsdp, 20), 0);
    CHECK_EQ(sum(rsdp, 36), 0);
    CHECK_EQ(rsdp[15], 2);
    CHECK_EQ(ram.u(p::kAcpiRsdp + 20, 4), 36u);
    uint64_t xsdt = ram.u(p::kAcpiRsdp + 24, 8), rsdt = ram.u(p::kAcpiRsdp + 16, 4);
    auto table_ok = [&](uint64_t addr, const char* sig) {
        if (addr < p::kAcpiRsdp || addr >= 0x100000) return false;
        uint64_t len = ram.u(addr + 4, 4);
        return std::memcmp(ram.at(addr), sig, 4) == 0 && len >= 36 && addr + len <= 0x100000 && sum(ram.at(addr), len) == 0;
    };
    CHECK(table_ok(xsdt, "XSDT"));
    CHECK(table_ok(rsdt, "RSDT"));
    CHECK_EQ(ram.u(xsdt + 4, 4), 36u + 16);
    uint64_t fadt = ram.u(xsdt + 36, 8), madt = ram.u(xsdt + 44, 8);
    CHECK_EQ(ram.u(rsdt + 36, 4), fadt);
    CHECK_EQ(ram.u(rsdt + 40, 4), madt);
    CHECK(table_ok(fadt, "FACP"));
    CHECK(table_ok(madt, "APIC"));

    // FADT: revision 6, full length, not hardware-reduced.
    CHECK_EQ(ram.u(fadt + 4, 4), 276u);
    CHECK_EQ(*ram.at(fadt + 8), 6);
    uint64_t dsdt = ram.u(fadt + 140, 8);
    CHECK_EQ(ram.u(fadt + 40, 4), dsdt);
    CHECK(table_ok(dsdt, "DSDT"));
    uint64_t facs = ram.u(fadt + 36, 4);
    CHECK_EQ(ram.u(fadt + 132, 8), 0u);  // X_FIRMWARE_CTRL unused
    CHECK(std::memcmp(ram.at(facs), "FACS", 4) == 0);
    CHECK_EQ(facs % 64, 0u);
    CHECK_EQ(ram.u(fadt + 46, 2), 9u);          // SCI_INT
    CHECK_EQ(ram.u(fadt + 48, 4), 0u);          // SMI_CMD
    CHECK_EQ(ram.u(fadt + 56, 4), p::kPm1aEvtPort);
    CHECK_EQ(ram.u(fadt + 64, 4), p::kPm1aCntPort);
    CHECK_EQ(*ram.at(fadt + 88), 4);
    CHECK_EQ(*ram.at(fadt + 89), 2);
    CHECK_EQ(ram.u(fadt + 109, 2), 0x6u);       // 8042 | no VGA
    uint64_t flags = ram.u(fadt + 112, 4);
    CHECK(flags & (1 << 10));                    // RESET_REG_SUP
    CHECK(!(flags & (1 << 20)));                 // not HW_REDUCED_ACPI
    CHECK(!(flags & (1 << 4)));                  // fixed-feature power button (PM1 PWRBTN)
    CHECK(flags & (1 << 5));                     // no sleep button
    CHECK_EQ(*ram.at(fadt + 116), 1);            // RESET_REG in system I/O
    CHECK_EQ(ram.u(fadt + 120, 8), p::kResetPort);
    CHECK_EQ(*ram.at(fadt + 128), 6);
    CHECK_EQ(ram.u(fadt + 152, 8), p::kPm1aEvtPort);  // X_PM1a_EVT_BLK address
    CHECK_EQ(ram.u(fadt + 176, 8), p::kPm1aCntPort);  // X_PM1a_CNT_BLK address

    // MADT: LAPIC address, PCAT_COMPAT, one enabled LAPIC per vCPU, IOAPIC, overrides.
    CHECK_EQ(ram.u(madt + 36, 4), 0xFEE00000u);
    CHECK_EQ(ram.u(madt + 40, 4), 1u);
    uint64_t end = madt + ram.u(madt + 4, 4), off = madt + 44;
    int lapics = 0, ioapics = 0, isos = 0;
    bool iso0 = false, iso9 = false;
    while (off + 2 <= end) {
        uint8_t type = *ram.at(off), len = *ram.at(off + 1);
        if (len < 2 || off + len > end) break;
        if (type == 0) {
            CHECK_EQ(*ram.at(off + 3), lapics);  // APIC ID = index
            CHECK_EQ(ram.u(off + 4, 4), 1u);
            ++lapics;
        } else if (type == 1) {
            CHECK_EQ(*ram.at(off + 2), 4);       // IOAPIC ID = vcpus
            CHECK_EQ(ram.u(off + 4, 4), 0xFEC00000u);
            CHECK_EQ(ram.u(off + 8, 4), 0u);
            ++ioapics;
        } else if (type == 2) {
            ++isos;
            if (*ram.at(off + 3) == 0 && ram.u(off + 4, 4) == 2) iso0 = true;
            if (*ram.at(off + 3) == 9 && ram.u(off + 4, 4) == 9 && ram.u(off + 8, 2) == 0xD) iso9 = true;
        }
        off += len;
    }
    CHECK_EQ(off, end);
    CHECK_EQ(lapics, 4);
    CHECK_EQ(ioapics, 1);
    CHECK_EQ(isos, 2);
    CHECK(iso0);
    CHECK(iso9);

    // DSDT: \_S5 package, the PNP devices and one LNRO0005 per virtio slot.
    uint64_t dlen = ram.u(dsdt + 4, 4);
    const uint8_t* aml_p = ram.at(dsdt + 36);
    size_t aml_n = dlen - 36;
    CHECK(contains(aml_p, aml_n, Bytes{0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00}));
    CHECK_EQ(count(aml_p, aml_n, "LNRO0005"), 3u);
    CHECK(contains(aml_p, aml_n, aml::eisa_id("PNP0501")));
    CHECK(contains(aml_p, aml_n, aml::eisa_id("PNP0303")));
    CHECK(contains(aml_p, aml_n, aml::eisa_id("PNP0F13")));
    CHECK(contains(aml_p, aml_n, aml::eisa_id("PNP0B00")));
    for (uint32_t i = 0; i < 3; ++i) {
        CHECK(contains(aml_p, aml_n, aml::memory32_fixed(true, static_cast<uint32_t>(p::kVirtioMmioBase + i * 0x1000), 0x1000)));
        CHECK(contains(aml_p, aml_n, aml::interrupt(true, false, false, false, p::kVirtioGsiBase + i)));
    }
    // The \_SB scope's PkgLength must cover exactly the rest of the table.
    size_t s5_len = 15;
    CHECK_EQ(aml_p[s5_len], 0x10);  // ScopeOp
    size_t used = 0;
    CHECK_EQ(decode_pkg(aml_p + s5_len + 1, used), aml_n - s5_len - 1);

    if (const char* dir = std::getenv("VMM_ACPI_DUMP_DIR")) {
        auto dump = [&](const char* file, uint64_t addr) {
            std::ofstream(std::string(dir) + "/" + file, std::ios::binary)
                .write(reinterpret_cast<const char*>(ram.at(addr)), static_cast<std::streamsize>(ram.u(addr + 4, 4)));
        };
        dump("dsdt.dat", dsdt);
        dump("facp.dat", fadt);
        dump("apic.dat", madt);
        dump("xsdt.dat", xsdt);
        dump("rsdt.dat", rsdt);
        std::ofstream(std::string(dir) + "/facs.dat", std::ios::binary).write(reinterpret_cast<const char*>(ram.at(facs)), 64);
        std::printf("     ACPI tables dumped to %s\n", dir);
    }
}

TEST(boot_acpi_limits) {
    Ram ram(16 << 20);
    auto many = acpi_config(254, 8);
    vmm::boot::write_acpi(ram.mem, many);  // the largest config fits
    for (auto cfg : {acpi_config(0, 0), acpi_config(255, 0), acpi_config(1, 9)}) {
        bool threw = false;
        try { vmm::boot::write_acpi(ram.mem, cfg); } catch (const vmm::boot::BootError&) { threw = true; }
        CHECK(threw);
    }
    auto bad = acpi_config(1, 1);
    bad.virtio[0].base = 0xFFFFF000;
    bad.virtio[0].size = 0x2000;  // crosses 4 GiB: not describable with Memory32Fixed
    bool threw = false;
    try { vmm::boot::write_acpi(ram.mem, bad); } catch (const vmm::boot::BootError&) { threw = true; }
    CHECK(threw);
    // RAM without the ACPI area: refused, nothing written out of bounds.
    Ram small(0xE0000 + 100);
    threw = false;
    try { vmm::boot::write_acpi(small.mem, acpi_config(1, 0)); } catch (const vmm::boot::BootError&) { threw = true; }
    CHECK(threw);
    bool guard_ok = true;
    for (uint64_t i = 0; i < Ram::kGuard; ++i)
        if (small.buf[i] != 0xCC || small.buf[small.buf.size() - 1 - i] != 0xCC) guard_ok = false;
    CHECK(guard_ok);
}
