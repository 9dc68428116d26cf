/* Console output: COM1 and the framebuffer text console get the same bytes. */
#include "guest.h"

void con_putc(char c) {
    if (c == '\n') serial_putc('\r');
    serial_putc(c);
    fbcon_putc(c);
}

void con_write(const char *s) {
    while (*s) con_putc(*s++);
}

static void put_num(uint64_t v, unsigned base, int width, char pad) {
    char buf[24];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n < width) buf[n++] = pad;
    while (n) con_putc(buf[--n]);
}

/* printf subset: %s %c %d %u %x with optional zero pad/width and l/ll. */
void kprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') { con_putc(*fmt); continue; }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') { pad = '0'; fmt++; }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') { lng++; fmt++; }
        switch (*fmt) {
        case 's': { const char *s = va_arg(ap, const char *); con_write(s ? s : "(null)"); break; }
        case 'c': con_putc((char)va_arg(ap, int)); break;
        case 'd': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            if (v < 0) { con_putc('-'); v = -v; }
            put_num((uint64_t)v, 10, width, pad);
            break;
        }
        case 'u': put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad); break;
        case 'x': put_num(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad); break;
        case '%': con_putc('%'); break;
        default: con_putc('%'); if (*fmt) con_putc(*fmt); else fmt--; break;
        }
    }
    va_end(ap);
}

/* CPU exception (start.S, runs at CPL0): report once and stop. */
struct fault_frame { uint64_t vec, err, rip, cs, rflags, rsp, ss; };
void fault_report(struct fault_frame *f);
void fault_report(struct fault_frame *f) {
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    serial_init(); /* the fault may predate it */
    kprintf("\nguest fault: vector=%lu err=%lx rip=%lx rsp=%lx rflags=%lx cs=%lx cr2=%lx\n", f->vec, f->err, f->rip, f->rsp, f->rflags, f->cs, cr2);
}
