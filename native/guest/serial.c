/* COM1 16550A: 115200 8N1, FIFO on, receive interrupt (IRQ 4) enabled. */
#include "guest.h"

static bool present;

void serial_init(void) {
    if (inb(COM1 + 5) == 0xFF) return; /* no UART: the bus floats */
    outb(COM1 + 1, 0x00);              /* IER off while configuring */
    outb(COM1 + 3, 0x80);              /* DLAB */
    outb(COM1 + 0, 0x01);              /* divisor 1 = 115200 */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);              /* 8N1 */
    outb(COM1 + 2, 0x07);              /* FIFO on, cleared */
    outb(COM1 + 4, 0x0B);              /* DTR | RTS | OUT2 (OUT2 gates the IRQ) */
    outb(COM1 + 1, 0x01);              /* IRQ on received data */
    present = true;
}

void serial_putc(char c) {
    if (!present) return;
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) cpu_relax();
    outb(COM1, (uint8_t)c);
}

int serial_getc(void) {
    if (!present || !(inb(COM1 + 5) & 0x01)) return -1;
    return inb(COM1);
}
