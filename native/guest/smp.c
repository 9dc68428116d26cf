/* Application processors: INIT-SIPI-SIPI through the LAPIC. Each AP runs the
 * real-mode trampoline (start.S) into long mode, increments ap_count and
 * parks in `cli; hlt`. */
#include "guest.h"

extern const char ap_tramp_start[], ap_tramp_end[];
extern volatile uint32_t ap_count;

static void send_ipi(uint8_t apic, uint32_t lo) {
    lapic_write(0x310, (uint32_t)apic << 24);
    lapic_write(0x300, lo);
    for (int i = 0; i < 100000 && (lapic_read(0x300) & (1u << 12)); i++) cpu_relax();
}

int smp_start(void) {
    uint32_t self = lapic_id();
    int aps = 0;
    ap_count = 0; /* .data survives a reset on VMMs that do not reload the image */
    memcpy((void *)(uintptr_t)AP_TRAMPOLINE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
    mb();
    for (int i = 0; i < acpi.ncpus; i++)
        if (acpi.apic_ids[i] != self) { send_ipi(acpi.apic_ids[i], 0x4500); aps++; } /* INIT */
    if (!aps) return 0;
    delay_us(200);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < acpi.ncpus; i++)
            if (acpi.apic_ids[i] != self) send_ipi(acpi.apic_ids[i], 0x4600 | (AP_TRAMPOLINE >> 12)); /* SIPI */
        if (pass == 0) delay_us(200);
    }
    return aps;
}

int smp_wait(int expected) {
    uint64_t end = now_us() + 1000000; /* an AP that is not up within 1 s is not counted */
    while ((int)ap_count < expected && now_us() < end) cpu_relax();
    return 1 + (int)ap_count;
}
