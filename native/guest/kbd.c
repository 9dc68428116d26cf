/* PS/2 keyboard on the i8042, scancode set 1 (the controller translates). */
#include "guest.h"

static bool present, shift_l, shift_r, caps, ext;

/* US layout, make codes 0x00..0x39; 0 = no character. */
static const char normal[0x3A] =
    "\0\0331234567890-=\b\tqwertyuiop[]\n\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 ";
static const char shifted[0x3A] =
    "\0\033!@#$%^&*()_+\b\tQWERTYUIOP{}\n\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 ";

static bool wait_write(void) {
    for (int i = 0; i < 1000; i++) /* emulated: answers at once */
        if (!(inb(I8042_CMD) & 0x02)) return true;
    return false;
}

static int read_data(void) {
    for (int i = 0; i < 1000; i++) /* emulated: answers at once */
        if (inb(I8042_CMD) & 0x01) return inb(I8042_DATA);
    return -1;
}

void kbd_init(void) {
    if (inb(I8042_CMD) == 0xFF) return; /* no controller */
    for (int i = 0; i < 32 && (inb(I8042_CMD) & 0x01); i++) inb(I8042_DATA);
    int cmd = -1;
    if (wait_write()) { outb(I8042_CMD, 0x20); cmd = read_data(); }
    if (cmd < 0) cmd = 0x65; /* translate, keyboard IRQ, system flag, aux off */
    cmd = (cmd | 0x01 | 0x40) & ~0x10 & ~0x02; /* keyboard IRQ on and enabled, no aux IRQ */
    if (wait_write()) outb(I8042_CMD, 0x60);
    if (wait_write()) outb(I8042_DATA, (uint8_t)cmd);
    present = true;
}

bool kbd_poll(int *ch) {
    *ch = -1;
    if (!present) return false;
    uint8_t st = inb(I8042_CMD);
    if (!(st & 0x01)) return false;
    uint8_t b = inb(I8042_DATA);
    if (st & 0x20) return true; /* mouse byte */
    if (b == 0xE0) { ext = true; return true; }
    bool release = b & 0x80;
    b &= 0x7F;
    if (ext) { /* only keypad Enter matters among the E0 keys */
        ext = false;
        if (b == 0x1C && !release) *ch = '\n';
        return true;
    }
    if (b == 0x2A) { shift_l = !release; return true; }
    if (b == 0x36) { shift_r = !release; return true; }
    if (b == 0x3A) { if (!release) caps = !caps; return true; }
    if (release || b >= 0x3A) return true;
    bool shift = shift_l || shift_r;
    char c = normal[b];
    if (c >= 'a' && c <= 'z') c = (shift != caps) ? (char)(c - 32) : c;
    else if (shift) c = shifted[b];
    if (c) *ch = c;
    return true;
}
