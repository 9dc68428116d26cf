/* ACPI power button, as an OS drives it: the FADT's PM1 event block holds
 * PWRBTN_STS / PWRBTN_EN (fixed feature, unless the FADT's PWR_BUTTON flag
 * says the button is a control-method device), and the SCI signals it. On a
 * press the guest says so on COM1 and powers off through S5, the `poweroff`
 * path. */
#include "guest.h"

#define PM1_PWRBTN (1u << 8)       /* PM1_STS / PM1_EN */
#define PM1_SCI_EN 1u               /* PM1_CNT */
#define FADT_PWR_BUTTON (1u << 4)   /* no fixed-feature power button */
#define FADT_HW_REDUCED (1u << 20)  /* no PM1 fixed hardware at all */
#define SLP_EN (1u << 13)

static bool armed;

static uint16_t pm1_en_port(void) { return (uint16_t)(acpi.pm1a_evt + acpi.pm1_evt_len / 2); }
static uint16_t pm1_cnt_port(void) { return acpi.pm1a_cnt ? acpi.pm1a_cnt : PM1A_CNT; }

void power_off(void) {
    outw(pm1_cnt_port(), (uint16_t)((acpi.slp_typ_s5 << 10) | SLP_EN));
    for (;;) sys_halt();
}

void power_init(void) {
    if (!acpi.pm1a_evt || acpi.pm1_evt_len < 4 || (acpi.fadt_flags & (FADT_PWR_BUTTON | FADT_HW_REDUCED))) return;
    /* Legacy firmware starts in SMM mode: ask it for ACPI mode (bounded). */
    if (acpi.pm1a_cnt && !(inw(acpi.pm1a_cnt) & PM1_SCI_EN) && acpi.smi_cmd && acpi.smi_cmd < 0x10000 && acpi.acpi_enable) {
        outb((uint16_t)acpi.smi_cmd, acpi.acpi_enable);
        uint64_t until = now_us() + 1000000;
        while (!(inw(acpi.pm1a_cnt) & PM1_SCI_EN) && now_us() < until) cpu_relax();
    }
    outw(acpi.pm1a_evt, PM1_PWRBTN);                        /* drop a stale press (write 1 to clear) */
    outw(pm1_en_port(), inw(pm1_en_port()) | PM1_PWRBTN);  /* PWRBTN_EN */
    /* The SCI: an ISA IRQ (MADT overrides apply), by default level-triggered
     * and active low, unlike other ISA interrupts. */
    uint32_t irq = acpi.sci_irq, gsi = irq < 16 ? acpi.isa_gsi[irq] : irq;
    uint16_t f = irq < 16 ? acpi.isa_flags[irq] : 0;
    irq_route_gsi(gsi, (f & 0xC) != 0x4, (f & 0x3) != 0x1);
    armed = true;
}

bool power_poll(void) {
    if (!armed || !(inw(acpi.pm1a_evt) & PM1_PWRBTN)) return false;
    outw(acpi.pm1a_evt, PM1_PWRBTN); /* lowers the SCI before the EOI */
    con_write("power button: shutting down\n");
    power_off();
}
