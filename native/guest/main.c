/* Boot (hvm_start_info, e820, devices, APs), the ready line and the shell. */
#include "guest.h"

extern uint64_t boot_info_paddr;
extern char __bss_start[], __bss_end[];

#define HVM_START_MAGIC 0x336EC578u
struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};
struct hvm_memmap_entry { uint64_t addr, size; uint32_t type, reserved; };

static char cmdline[1024];
static uint64_t low_top, high_bytes;
static bool tramp_is_ram;

static void read_boot_info(uint64_t *rsdp) {
    const struct hvm_start_info *si = (const void *)(uintptr_t)boot_info_paddr;
    *rsdp = 0;
    if (!si || boot_info_paddr >= 0xFFFFF000u || si->magic != HVM_START_MAGIC) return;
    *rsdp = si->rsdp_paddr;
    if (si->cmdline_paddr && si->cmdline_paddr < 0xFFFFF000u) {
        const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
        for (size_t i = 0; i < sizeof cmdline - 1 && c[i]; i++) cmdline[i] = c[i];
    }
    if (si->version < 1 || !si->memmap_paddr || si->memmap_paddr >= 0xFFFF0000u) return;
    const struct hvm_memmap_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
    for (uint32_t i = 0; i < si->memmap_entries && i < 128; i++) {
        if (e[i].type != 1) continue;
        uint64_t end = e[i].addr + e[i].size;
        if (end <= 0x100000000ull) {
            if (end > low_top) low_top = end;
        } else {
            uint64_t start = e[i].addr > 0x100000000ull ? e[i].addr : 0x100000000ull;
            high_bytes += end - start;
            if (0x100000000ull > low_top && e[i].addr < 0x100000000ull) low_top = 0x100000000ull;
        }
        if (e[i].addr <= AP_TRAMPOLINE && end >= AP_TRAMPOLINE + 0x1000) tramp_is_ram = true;
    }
}

/* ---- Shell. */
static char line[256];
static size_t len;
static bool last_cr;

static void prompt(void) { con_write("> "); }

static void run(char *cmd) {
    while (*cmd == ' ') cmd++;
    size_t n = strlen(cmd);
    while (n && cmd[n - 1] == ' ') cmd[--n] = 0;
    if (!n) {
    } else if (!strncmp(cmd, "echo", 4) && (cmd[4] == ' ' || !cmd[4])) {
        kprintf("%s\n", cmd[4] ? cmd + 5 : "");
    } else if (!strncmp(cmd, "poweroff", 9)) {
        power_off(); /* SLP_TYP=S5 | SLP_EN to PM1a_CNT */
    } else if (!strncmp(cmd, "reboot", 7)) {
        outb(I8042_CMD, 0xFE); /* i8042 pulse reset line */
        outb(RESET_PORT, 0x06);
        for (;;) sys_halt();
    } else if (!strncmp(cmd, "draw", 5)) {
        uint32_t sum;
        if (fb_draw_pattern(&sum)) {
            fbcon_suspend(); /* keep the pattern until the next command */
            kprintf("draw checksum=%08x\n", sum);
        } else {
            con_write("draw: no framebuffer\n");
        }
    } else if (!strncmp(cmd, "disk", 5)) {
        if (blk_present) kprintf("disk boots=%u\n", blk_boots);
        else con_write("disk: none\n");
    } else if (!strncmp(cmd, "net", 4)) {
        if (!net_present()) con_write("net: none\n");
        else if (net_send_hello()) con_write("net: sent\n");
        else con_write("net: send failed\n");
    } else {
        char *sp = cmd;
        while (*sp && *sp != ' ') sp++;
        *sp = 0;
        kprintf("unknown command: %s\n", cmd);
    }
    prompt();
}

void shell_input(int c) {
    bool cr = last_cr;
    last_cr = c == '\r';
    if (c == '\n' && cr) return; /* CR LF counts once */
    if (c == '\r' || c == '\n') {
        con_putc('\n');
        line[len] = 0;
        len = 0;
        fbcon_resume(); /* a finished line ends the `draw` picture */
        run(line);
    } else if (c == '\b' || c == 0x7F) {
        if (len) { len--; con_write("\b \b"); }
    } else if (c >= 32 && c < 127 && len < sizeof line - 1) {
        line[len++] = (char)c;
        con_putc((char)c);
    }
}

void guest_main(void);
void guest_main(void) {
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    irq_init();
    serial_init();
    timer_init();
    uint64_t rsdp;
    read_boot_info(&rsdp);
    acpi_init(rsdp);
    int aps = tramp_is_ram ? smp_start() : 0; /* APs boot while we set up the rest */
    fb_init();
    kbd_init();
    virtio_discover(cmdline);
    blk_boot_counter();
    irq_route_isa(4);
    irq_route_isa(1);
    power_init();
    int vcpus = smp_wait(aps);
    uint64_t mib = (low_top + high_bytes + (1u << 19)) >> 20;
    kprintf("guest ready vcpus=%d memory=%lu boots=%u\n", vcpus, mib, blk_boots);
    prompt();
    for (;;) {
        bool busy = false;
        int c;
        irq_pending = 0; /* any interrupt from here on makes sys_halt return */
        while ((c = serial_getc()) >= 0) { shell_input(c); busy = true; }
        while (kbd_poll(&c)) { if (c >= 0) shell_input(c); busy = true; }
        if (net_poll()) busy = true;
        if (power_poll()) busy = true;
        irq_level_done();
        if (!busy) sys_halt();
    }
}
