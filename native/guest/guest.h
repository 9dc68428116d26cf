/* Shared declarations of the test guest. All of this code runs at CPL3 with
 * IOPL=3 (port I/O allowed) on an identity-mapped, user-accessible 0..4 GiB. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Machine layout (mirrors native/src/core/platform.h). */
#define COM1 0x3F8
#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define VBE_INDEX 0x1CE
#define VBE_DATA 0x1CF
#define FB_BASE 0xE0000000ULL
#define FB_MAX_SIZE (16u << 20)
#define PM1A_CNT 0x604
#define RESET_PORT 0xCF9
#define VIRTIO_MMIO_BASE 0xD0000000ULL
#define VIRTIO_MMIO_STRIDE 0x1000
#define VIRTIO_MMIO_SLOTS 8
#define VIRTIO_GSI_BASE 16
#define LAPIC_BASE 0xFEE00000ULL
#define IOAPIC_BASE 0xFEC00000ULL
#define AP_TRAMPOLINE 0x8000u /* below 1 MiB, page aligned: SIPI vector 0x08 */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }
static inline uint8_t mmio_read8(uint64_t addr) { return *(volatile uint8_t *)addr; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }
static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
/* Block until an interrupt arrives (start.S: CPL0 `sti; hlt; cli` behind a
 * ud2 the #UD handler recognises). Returns at once if irq_pending is set. */
void sys_halt(void);

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
uint64_t parse_num(const char **s); /* decimal or 0x hex, optional K/M/G suffix */
void timer_init(void);
uint64_t now_us(void);
void delay_us(uint64_t us);

/* serial.c */
void serial_init(void);
void serial_putc(char c);
int serial_getc(void); /* -1 when nothing is waiting */

/* console.c: everything printed goes to COM1 and to the framebuffer console */
void con_putc(char c);
void con_write(const char *s);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fb.c */
bool fb_init(void);
void fbcon_putc(char c);
void fbcon_suspend(void); /* leave the framebuffer alone (after `draw`) */
void fbcon_resume(void);  /* redraw the whole console and draw again */
bool fb_draw_pattern(uint32_t *checksum);
/* font.c */
extern uint8_t font_bits[95][16];
void font_init(void);

/* kbd.c */
void kbd_init(void);
bool kbd_poll(int *ch); /* true if a byte was consumed; *ch = ASCII or -1 */

/* acpi.c */
#define MAX_CPUS 64
#define MAX_IOAPICS 4
struct ioapic { uint64_t addr; uint32_t gsi_base, pins; };
struct acpi_info {
    int ncpus;
    uint8_t apic_ids[MAX_CPUS];
    int nioapics;
    struct ioapic ioapics[MAX_IOAPICS];
    uint32_t isa_gsi[16];    /* ISA IRQ -> GSI (interrupt source overrides) */
    uint16_t isa_flags[16];  /* MPS INTI flags of the override, 0 = bus default */
    /* FADT (0 when absent): the ACPI fixed hardware power.c drives. */
    uint32_t sci_irq, smi_cmd, fadt_flags;
    uint16_t pm1a_evt, pm1a_cnt; /* I/O ports */
    uint8_t pm1_evt_len, acpi_enable;
    uint8_t slp_typ_s5;          /* SLP_TYPa of the DSDT's \_S5 (5 if not found) */
};
extern struct acpi_info acpi;
void acpi_init(uint64_t rsdp_hint);

/* power.c: ACPI power button (fixed feature, SCI) and S5 poweroff */
void power_init(void);
bool power_poll(void); /* true if anything happened */
void power_off(void) __attribute__((noreturn));

/* irq.c */
/* Level vector in a lower priority class than edge: while a level interrupt
 * waits for the main loop's EOI, edge interrupts still get through. */
#define IRQ_LEVEL_VECTOR 0x30
#define IRQ_EDGE_VECTOR 0x40
extern volatile uint8_t irq_pending, irq_level_pending;
void irq_level_done(void);
void irq_init(void);
void irq_route_isa(uint32_t isa_irq);
void irq_route_gsi(uint32_t gsi, bool level, bool active_low);
uint32_t lapic_id(void);
void lapic_write(uint32_t reg, uint32_t v);
uint32_t lapic_read(uint32_t reg);

/* smp.c */
int smp_start(void);          /* sends INIT-SIPI-SIPI, returns APs expected */
int smp_wait(int expected);   /* bounded wait, returns vCPUs running */

/* virtio.c */
struct virtq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
#define VQ_SIZE 64
struct vq {
    /* Split virtqueue parts; natural alignment gives what virtio requires
     * (descriptors 16, driver area 2, device area 4). */
    struct virtq_desc desc[VQ_SIZE];
    struct { uint16_t flags, idx, ring[VQ_SIZE], used_event; } avail;
    struct { uint16_t flags, idx; struct { uint32_t id, len; } ring[VQ_SIZE]; uint16_t avail_event; } used;
    uint16_t num, last_used;
} __attribute__((aligned(4096)));
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
struct vdev { uint64_t base; uint32_t gsi; };
bool virtio_begin(struct vdev *d, uint32_t want_lo, uint32_t *got_lo);
bool virtio_queue(struct vdev *d, uint32_t index, struct vq *q);
void virtio_ready(struct vdev *d);
void virtio_notify(struct vdev *d, uint32_t index);
uint32_t virtio_ack_irq(struct vdev *d);
void virtio_discover(const char *cmdline);

/* blk.c / net.c */
bool blk_attach(struct vdev *d);
void blk_boot_counter(void);
extern bool blk_present;
extern uint32_t blk_boots;
bool net_attach(struct vdev *d);
bool net_present(void);
bool net_send_hello(void);
bool net_poll(void); /* true if anything happened */

/* main.c */
void shell_input(int c);
