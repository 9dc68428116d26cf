/* ACPI: RSDP -> RSDT/XSDT -> MADT for CPUs, IOAPICs and ISA overrides;
 * FADT for the SCI and the PM1 fixed hardware (power.c). */
#include "guest.h"

struct acpi_info acpi;

static bool sum_ok(uint64_t addr, uint32_t len) {
    uint8_t s = 0;
    for (uint32_t i = 0; i < len; i++) s += mmio_read8(addr + i);
    return s == 0;
}

static bool is_rsdp(uint64_t a) {
    return memcmp((const void *)a, "RSD PTR ", 8) == 0 && sum_ok(a, 20);
}

static uint64_t find_rsdp(uint64_t hint) {
    if (hint && hint < 0xFFFFF000u && is_rsdp(hint)) return hint;
    for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
        if (is_rsdp(a)) return a;
    return 0;
}

static uint32_t rd32(uint64_t a) { return *(const uint32_t *)a; }
static uint64_t rd64(uint64_t a) { return *(const uint64_t *)a; }

/* A table is trusted only below 4 GiB (our identity map) and of sane length. */
static uint32_t table_len(uint64_t a) {
    if (!a || a >= 0xFFFF0000u) return 0;
    uint32_t len = rd32(a + 4);
    if (len < 36 || len > 0x10000 || a + len > 0x100000000ull) return 0;
    return len;
}

static void parse_madt(uint64_t t, uint32_t len) {
    for (int i = 0; i < 16; i++) acpi.isa_gsi[i] = (uint32_t)i;
    for (uint64_t p = t + 44; p + 2 <= t + len;) {
        uint8_t type = mmio_read8(p), elen = mmio_read8(p + 1);
        if (elen < 2 || p + elen > t + len) break;
        if (type == 0 && elen >= 8) { /* processor local APIC */
            if ((rd32(p + 4) & 1) && acpi.ncpus < MAX_CPUS) acpi.apic_ids[acpi.ncpus++] = mmio_read8(p + 3);
        } else if (type == 1 && elen >= 12 && acpi.nioapics < MAX_IOAPICS) {
            struct ioapic *io = &acpi.ioapics[acpi.nioapics++];
            io->addr = rd32(p + 4);
            io->gsi_base = rd32(p + 8);
        } else if (type == 2 && elen >= 10) { /* interrupt source override */
            uint8_t src = mmio_read8(p + 3);
            if (src < 16) {
                acpi.isa_gsi[src] = rd32(p + 4);
                acpi.isa_flags[src] = *(const uint16_t *)(p + 8);
            }
        } else if (type == 9 && elen >= 16) { /* x2APIC entry: only xAPIC-reachable IDs */
            uint32_t id = rd32(p + 4);
            if ((rd32(p + 8) & 1) && id < 255 && acpi.ncpus < MAX_CPUS) acpi.apic_ids[acpi.ncpus++] = (uint8_t)id;
        }
        p += elen;
    }
}

static uint16_t rd16(uint64_t a) { return *(const uint16_t *)a; }

/* X_PM1a_* (a Generic Address Structure) wins over the 32-bit field when it
 * names a system I/O address. */
static uint16_t fadt_port(uint64_t t, uint32_t len, uint32_t legacy_off, uint32_t gas_off) {
    if (len >= gas_off + 12 && mmio_read8(t + gas_off) == 1) {
        uint64_t a = rd64(t + gas_off + 4);
        if (a && a < 0x10000) return (uint16_t)a;
    }
    uint32_t a = rd32(t + legacy_off);
    return a < 0x10000 ? (uint16_t)a : 0;
}

/* SLP_TYPa for S5 from the DSDT, the way small OSes do it without an AML
 * interpreter: NameOp "_S5_" PackageOp PkgLength NumElements, then the first
 * element as ZeroOp, OneOp or BytePrefix n. */
static void parse_s5(uint64_t dsdt) {
    uint32_t len = table_len(dsdt);
    if (!len || !sum_ok(dsdt, len)) return;
    for (uint64_t p = dsdt + 36; p + 4 + 5 <= dsdt + len; p++) {
        if (memcmp((const void *)p, "_S5_", 4) != 0) continue;
        uint8_t before = mmio_read8(p - 1), before2 = mmio_read8(p - 2);
        if (!(before == 0x08 || (before == '\\' && before2 == 0x08))) continue;
        uint64_t q = p + 4;
        if (mmio_read8(q++) != 0x12) continue;   /* PackageOp */
        q += (mmio_read8(q) >> 6) + 1;            /* PkgLength */
        q++;                                      /* NumElements */
        if (q + 2 > dsdt + len) return;
        uint8_t op = mmio_read8(q);
        if (op == 0x0A) acpi.slp_typ_s5 = mmio_read8(q + 1) & 7;
        else if (op == 0x00 || op == 0x01) acpi.slp_typ_s5 = op;
        return;
    }
}

static void parse_fadt(uint64_t t, uint32_t len) {
    if (len < 116) return;
    acpi.sci_irq = rd16(t + 46);
    acpi.smi_cmd = rd32(t + 48);
    acpi.acpi_enable = mmio_read8(t + 52);
    acpi.pm1a_evt = fadt_port(t, len, 56, 148);
    acpi.pm1a_cnt = fadt_port(t, len, 64, 172);
    acpi.pm1_evt_len = mmio_read8(t + 88);
    acpi.fadt_flags = rd32(t + 112);
    uint64_t dsdt = len >= 148 ? rd64(t + 140) : 0; /* X_DSDT, else DSDT */
    parse_s5(dsdt && dsdt < 0xFFFF0000u ? dsdt : rd32(t + 40));
}

void acpi_init(uint64_t rsdp_hint) {
    for (int i = 0; i < 16; i++) acpi.isa_gsi[i] = (uint32_t)i;
    acpi.slp_typ_s5 = 5;
    uint64_t rsdp = find_rsdp(rsdp_hint);
    if (rsdp) {
        uint8_t rev = mmio_read8(rsdp + 15);
        uint64_t root = rev >= 2 ? rd64(rsdp + 24) : 0;
        int entry = 8;
        bool madt = false, fadt = false; /* the first of each counts */
        if (!table_len(root)) { root = rd32(rsdp + 16); entry = 4; }
        uint32_t rlen = table_len(root);
        for (uint32_t off = 36; rlen && off + entry <= rlen; off += entry) {
            uint64_t t = entry == 8 ? rd64(root + off) : rd32(root + off);
            uint32_t len = table_len(t);
            if (len < 44 || !sum_ok(t, len)) continue;
            if (!madt && memcmp((const void *)t, "APIC", 4) == 0) { parse_madt(t, len); madt = true; }
            if (!fadt && memcmp((const void *)t, "FACP", 4) == 0) { parse_fadt(t, len); fadt = true; }
        }
    }
    if (!acpi.nioapics) { /* no MADT: the conventional IOAPIC */
        acpi.nioapics = 1;
        acpi.ioapics[0].addr = IOAPIC_BASE;
        acpi.ioapics[0].gsi_base = 0;
    }
}
