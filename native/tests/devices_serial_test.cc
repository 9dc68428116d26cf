// 16550A UART: what Linux's 8250 driver probes and relies on.
#include <vector>

#include "check.h"
#include "devices/serial.h"

namespace {

struct Irq {
    bool level = false;
    int rises = 0;
    vmm::IrqLine line() {
        return vmm::IrqLine(4, [this](uint32_t, bool l) {
            if (l && !level) ++rises;
            level = l;
        });
    }
};

struct Uart {
    Irq irq;
    std::vector<uint8_t> out;
    vmm::Serial dev{irq.line(), [this](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); }};
    uint8_t in(uint64_t reg) { uint8_t v = 0; dev.read(reg, &v, 1); return v; }
    void outb(uint64_t reg, uint8_t v) { dev.write(reg, &v, 1); }
};

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

}  // namespace

TEST(serial_8250_autoconfig_probe) {
    Uart u;
    // Scratch register.
    u.outb(SCR, 0x55); CHECK_EQ(u.in(SCR), 0x55);
    u.outb(SCR, 0xAA); CHECK_EQ(u.in(SCR), 0xAA);
    // IER: the low nibble is read/write, the rest reads 0 (not an XScale UUE bit).
    u.outb(IER, 0); CHECK_EQ(u.in(IER) & 0x0f, 0);
    u.outb(IER, 0x0F); CHECK_EQ(u.in(IER), 0x0F);
    u.outb(IER, 0xFF); CHECK_EQ(u.in(IER), 0x0F);
    u.outb(IER, 0);
    // Divisor latch behind DLAB.
    u.outb(LCR, 0x80);
    u.outb(0, 0x01); u.outb(1, 0x00);
    CHECK_EQ(u.in(0), 0x01); CHECK_EQ(u.in(1), 0x00);
    u.outb(0, 0x0C);
    u.outb(LCR, 0x03);
    CHECK_EQ(u.in(LCR), 0x03);
    CHECK_EQ(u.in(IER), 0);   // DLAB off: IER again
    CHECK(u.out.empty());     // divisor writes are not output
    // FIFO: IIR bits 7:6 = 11 means 16550A; bit 5 stays 0 (no 16750 64-byte FIFO).
    u.outb(FCR, 0x01);
    CHECK_EQ(u.in(IIR) >> 6, 3);
    u.outb(FCR, 0x21);
    CHECK_EQ(u.in(IIR) & 0x20, 0);
    // With DLAB set, offset 2 still reads IIR (non-zero): no EFR, not a 16650.
    u.outb(LCR, 0xBF);
    CHECK(u.in(2) != 0);
    u.outb(LCR, 0x03);
    // Loopback: MCR outputs appear in MSR (RTS->CTS, OUT2->DCD).
    u.outb(MCR, 0x10 | 0x0A);
    CHECK_EQ(u.in(MSR) & 0xF0, 0x90);
    u.outb(MCR, 0x10 | 0x05);   // DTR->DSR, OUT1->RI
    CHECK_EQ(u.in(MSR) & 0xF0, 0x60);
    // size_fifo(): 256 bytes in loopback, count what arrives = 16.
    u.outb(FCR, 0x07);
    u.outb(MCR, 0x10);
    for (int i = 0; i < 256; ++i) u.outb(RBR, static_cast<uint8_t>(i));
    int count = 0;
    uint8_t first = 0;
    while ((u.in(LSR) & 0x01) && count < 256) {
        uint8_t b = u.in(RBR);
        if (count == 0) first = b;
        ++count;
    }
    CHECK_EQ(count, 16);
    CHECK_EQ(first, 0);
    CHECK(u.out.empty());   // loopback bytes never reach the host
    // Out of loopback: modem lines present, output flows.
    u.outb(MCR, 0x0B);
    CHECK_EQ(u.in(MSR) & 0xF0, 0xB0);
    u.outb(RBR, 'x');
    CHECK_EQ(u.out.size(), 1u);
    CHECK_EQ(u.in(LSR) & 0x60, 0x60);   // THRE + TEMT
}

TEST(serial_thre_interrupt_after_ier_write) {
    Uart u;
    u.outb(MCR, 0x0B);   // DTR, RTS, OUT2
    CHECK(!u.irq.level);
    u.outb(IER, 0x02);
    CHECK(u.irq.level);
    CHECK_EQ(u.in(IIR), 0x02);   // THRE, FIFOs off
    CHECK(!u.irq.level);          // reading IIR acknowledged it
    CHECK_EQ(u.in(IIR), 0x01);
    // Linux's THRE re-assert test: IER 0 then THRI again raises it again.
    u.outb(IER, 0);
    u.outb(IER, 0x02);
    CHECK_EQ(u.in(IIR) & 0x0F, 0x02);
    // A THR write empties at once: THRE is pending again.
    u.outb(RBR, 'a');
    CHECK(u.irq.level);
    CHECK_EQ(u.in(IIR) & 0x0F, 0x02);
    // OUT2 gates the line: pending but not raised.
    u.outb(MCR, 0x03);
    u.outb(IER, 0);
    u.outb(IER, 0x02);
    CHECK(!u.irq.level);
    CHECK_EQ(u.in(IIR) & 0x0F, 0x02);
}

TEST(serial_interrupt_priority_and_overrun) {
    Uart u;
    u.outb(MCR, 0x10);   // loopback, no FIFO: the holding register takes 1 byte
    u.outb(RBR, 'a');
    u.outb(RBR, 'b');    // overrun
    u.outb(IER, 0x0F);
    CHECK_EQ(u.in(IIR), 0x06);          // line status first
    uint8_t lsr = u.in(LSR);
    CHECK_EQ(lsr & 0x03, 0x03);         // DR + OE
    CHECK_EQ(u.in(LSR) & 0x02, 0);      // OE clears on read
    CHECK_EQ(u.in(IIR), 0x04);          // then received data
    CHECK_EQ(u.in(RBR), 'a');
    CHECK_EQ(u.in(IIR), 0x02);          // then THR empty
    CHECK_EQ(u.in(IIR), 0x00);          // then modem status (MCR changes made deltas)
    u.in(MSR);
    CHECK_EQ(u.in(IIR), 0x01);
}

TEST(serial_rx_buffer_backpressure_and_fifo_trigger) {
    Uart u;
    int resumed = 0;
    u.dev.set_on_input_space([&] { ++resumed; });
    u.outb(MCR, 0x0B);
    u.outb(FCR, 0xC1);   // FIFO on, trigger 14
    u.outb(IER, 0x01);
    std::vector<uint8_t> big(5000);
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
    CHECK_EQ(u.dev.push_input(big.data(), 3), 3u);
    CHECK(u.irq.level);
    CHECK_EQ(u.in(IIR), 0xCC);   // below trigger: character timeout
    CHECK_EQ(u.dev.push_input(big.data() + 3, big.size() - 3), vmm::Serial::kRxBufferSize - 3);
    CHECK(!u.dev.input_space());
    CHECK_EQ(u.in(IIR), 0xC4);   // at/above trigger: data available
    size_t got = 0;
    bool ordered = true;
    while (u.in(LSR) & 0x01) {
        uint8_t b = u.in(RBR);
        ordered &= b == static_cast<uint8_t>(got);
        ++got;
    }
    CHECK(ordered);
    CHECK_EQ(got, vmm::Serial::kRxBufferSize);
    CHECK_EQ(resumed, 1);
    CHECK(u.dev.input_space());
    CHECK(!u.irq.level);
    // FCR RX clear drops what the guest can see (16 bytes), not the backlog.
    CHECK_EQ(u.dev.push_input(big.data(), 40), 40u);
    u.outb(FCR, 0xC3);
    int left = 0;
    while (u.in(LSR) & 0x01) { u.in(RBR); ++left; }
    CHECK_EQ(left, 24);
    // Host input is refused during loopback.
    u.outb(MCR, 0x1B);
    CHECK(!u.dev.input_space());
    CHECK_EQ(u.dev.push_input(big.data(), 1), 0u);
}

TEST(serial_output_callback_may_push_input) {
    // The callback runs without the device lock: an echo must not deadlock.
    Irq irq;
    vmm::Serial* self = nullptr;
    vmm::Serial dev(irq.line(), [&](const uint8_t* p, size_t n) { self->push_input(p, n); });
    self = &dev;
    uint8_t v = 'z';
    dev.write(0, &v, 1);
    uint8_t lsr = 0;
    dev.read(5, &lsr, 1);
    CHECK(lsr & 1);
    dev.read(0, &v, 1);
    CHECK_EQ(v, 'z');
}

FUZZ_TARGET(fuzz_serial) {
    Irq irq;
    vmm::Serial* self = nullptr;
    size_t outn = 0;
    vmm::Serial dev(irq.line(), [&](const uint8_t* p, size_t n) {
        outn += n;
        if (n && (p[0] & 0x0F) == 0) self->push_input(p, n);   // sometimes echo from the callback
    });
    self = &dev;
    dev.set_on_input_space([&] { self->input_space(); });
    static const uint32_t sizes[4] = {1, 2, 4, 8};
    size_t i = 0;
    auto next = [&] { return i < size ? data[i++] : uint8_t{0}; };
    while (i < size) {
        uint8_t op = next();
        uint64_t off = next();
        if (off >= 0xF0) off = ~0ull - (off & 7);   // far outside the window
        else off &= 0x0F;                          // inside or just past it
        uint32_t sz = sizes[op >> 6];
        uint8_t buf[8];
        switch (op & 3) {
            case 0: dev.read(off, buf, sz); break;
            case 1:
                for (auto& b : buf) b = next();
                dev.write(off, buf, sz);
                break;
            case 2: {
                uint8_t in[64];
                size_t n = next() % sizeof in;
                for (size_t k = 0; k < n; ++k) in[k] = next();
                dev.push_input(in, (op & 4) ? n : n * 100 % sizeof in);
                break;
            }
            default: dev.input_space(); break;
        }
    }
}
