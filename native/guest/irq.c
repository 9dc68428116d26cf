/* IDT (filled from CPL3: it is ordinary user-accessible memory), LAPIC and
 * IOAPIC routing. Edge-triggered sources share one vector, level-triggered
 * ones another (see start.S); the main loop polls every device after each
 * wake-up, so the handlers need not know which device it was. */
#include "guest.h"

extern uint8_t idt[256 * 16];
extern const uint64_t exc_table[32];
extern char irq_edge_entry[], irq_level_entry[], spurious_entry[];

#define KCODE64 0x10

static void idt_set(int vec, uint64_t handler, int dpl) {
    uint8_t *g = idt + vec * 16;
    uint8_t e[16] = {
        (uint8_t)handler, (uint8_t)(handler >> 8), KCODE64, 0, 0, (uint8_t)(0x8E | (dpl << 5)),
        (uint8_t)(handler >> 16), (uint8_t)(handler >> 24),
        (uint8_t)(handler >> 32), (uint8_t)(handler >> 40), (uint8_t)(handler >> 48), (uint8_t)(handler >> 56),
        0, 0, 0, 0,
    };
    memcpy(g, e, 16);
}

uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
uint32_t lapic_id(void) { return lapic_read(0x20) >> 24; }

void irq_init(void) {
    for (int i = 0; i < 32; i++) idt_set(i, exc_table[i], 0);
    idt_set(IRQ_EDGE_VECTOR, (uint64_t)irq_edge_entry, 0);
    idt_set(IRQ_LEVEL_VECTOR, (uint64_t)irq_level_entry, 0);
    idt_set(0xFF, (uint64_t)spurious_entry, 0);
    outb(0x21, 0xFF); /* mask both legacy PICs: the IOAPIC delivers */
    outb(0xA1, 0xFF);
    lapic_write(0x80, 0);         /* TPR: accept everything */
    lapic_write(0xF0, 0x100 | 0xFF); /* software enable, spurious vector 0xFF */
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v) {
    mmio_write32(base, reg);
    mmio_write32(base + 0x10, v);
}
static uint32_t ioapic_read(uint64_t base, uint32_t reg) {
    mmio_write32(base, reg);
    return mmio_read32(base + 0x10);
}

void irq_route_gsi(uint32_t gsi, bool level, bool active_low) {
    for (int i = 0; i < acpi.nioapics; i++) {
        struct ioapic *io = &acpi.ioapics[i];
        if (!io->pins) io->pins = ((ioapic_read(io->addr, 1) >> 16) & 0xFF) + 1;
        if (gsi < io->gsi_base || gsi >= io->gsi_base + io->pins) continue;
        uint32_t pin = gsi - io->gsi_base;
        uint32_t lo = (level ? IRQ_LEVEL_VECTOR : IRQ_EDGE_VECTOR) | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0);
        ioapic_write(io->addr, 0x11 + 2 * pin, lapic_id() << 24);
        ioapic_write(io->addr, 0x10 + 2 * pin, lo);
        return;
    }
}

/* ISA IRQs are edge/active-high unless the MADT overrides them. */
void irq_route_isa(uint32_t irq) {
    uint16_t f = acpi.isa_flags[irq];
    irq_route_gsi(acpi.isa_gsi[irq], (f & 0xC) == 0xC, (f & 0x3) == 0x3);
}

/* After the main loop has acknowledged the level-triggered devices: finish
 * the interrupt the level handler left in service. */
void irq_level_done(void) {
    if (!irq_level_pending) return;
    irq_level_pending = 0;
    lapic_write(0xB0, 0);
}
