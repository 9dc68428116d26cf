/* ACPI: RSDP -> RSDT/XSDT -> MADT for CPUs, IOAPICs and ISA overrides. */
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

void acpi_init(uint64_t rsdp_hint) {
    for (int i = 0; i < 16; i++) acpi.isa_gsi[i] = (uint32_t)i;
    uint64_t rsdp = find_rsdp(rsdp_hint);
    if (rsdp) {
        uint8_t rev = mmio_read8(rsdp + 15);
        uint64_t root = rev >= 2 ? rd64(rsdp + 24) : 0;
        int entry = 8;
        if (!table_len(root)) { root = rd32(rsdp + 16); entry = 4; }
        uint32_t rlen = table_len(root);
        for (uint32_t off = 36; rlen && off + entry <= rlen; off += entry) {
            uint64_t t = entry == 8 ? rd64(root + off) : rd32(root + off);
            uint32_t len = table_len(t);
            if (len >= 44 && memcmp((const void *)t, "APIC", 4) == 0 && sum_ok(t, len)) {
                parse_madt(t, len);
                break;
            }
        }
    }
    if (!acpi.nioapics) { /* no MADT: the conventional IOAPIC */
        acpi.nioapics = 1;
        acpi.ioapics[0].addr = IOAPIC_BASE;
        acpi.ioapics[0].gsi_base = 0;
    }
}
