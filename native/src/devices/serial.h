// 16550A UART (COM1). Register once: bus.add(platform::kCom1Port, Serial::kWindow, dev)
// with IrqLine(platform::kCom1Gsi, ...).
//
// Transmission is instantaneous: every THR write goes to on_output (outside
// loopback) and THRE/TEMT stay set. Host input is buffered in a bounded RX
// buffer (kRxBufferSize) the guest drains at its own pace; the guest sees a
// 16-byte FIFO window into it (1 byte with FIFOs disabled).
//
// IRQ: level = "an enabled interrupt is pending" AND MCR.OUT2 AND NOT
// loopback (OUT2 gates the UART's interrupt on PCs). The line is held high
// while the condition holds; each new condition after a clear makes a new
// rising edge for the edge-triggered ISA pin.
//
// Loopback (MCR bit 4): THR bytes go to the receiver (at most 16 with FIFOs,
// 1 without, then LSR.OE), MSR shows DTR/RTS/OUT1/OUT2 as DSR/CTS/RI/DCD,
// and push_input() takes nothing (the input pin is disconnected).
//
// Threading: read()/write() run on vCPU threads, push_input()/input_space()
// on any thread; all take the device's own mutex. on_output and
// on_input_space are called WITHOUT that mutex held (so they may call
// push_input()), on the vCPU thread that did the access; keep them short.
// The IrqLine setter is called with the mutex held and must not call back
// into this device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/device.h"
#include "core/irq.h"

namespace vmm {

class Serial : public Device {
public:
    using OutputFn = std::function<void(const uint8_t* data, size_t n)>;
    static constexpr uint64_t kWindow = 8;
    static constexpr size_t kRxBufferSize = 4096;
    static constexpr size_t kFifoSize = 16;

    Serial(IrqLine irq, OutputFn on_output);

    const char* name() const override { return "serial"; }
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

    // Takes as many bytes as fit in the RX buffer and returns that count;
    // the caller keeps the rest and retries later (backpressure).
    size_t push_input(const uint8_t* data, size_t n);
    // True when push_input() would take at least one byte.
    bool input_space();
    // Optional: called (no lock held, vCPU thread) when the guest has drained
    // a previously full RX buffer below half, so the caller can resume reading.
    void set_on_input_space(std::function<void()> cb);

private:
    uint8_t read_reg(uint32_t reg, bool& drained);
    void write_reg(uint32_t reg, uint8_t v, uint8_t* out, size_t& out_n);
    void rx_put_loopback(uint8_t b);
    size_t rx_visible() const;
    uint8_t pending_iir() const;   // IIR interrupt id bits (0x01 = none)
    void update_irq();

    std::mutex mu_;
    IrqLine irq_;
    OutputFn on_output_;
    std::function<void()> on_input_space_;

    // RX ring buffer.
    uint8_t rx_[kRxBufferSize] = {};
    size_t rx_head_ = 0, rx_count_ = 0;
    bool rx_was_full_ = false;

    uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, fcr_ = 0;
    uint8_t dll_ = 0x0C, dlm_ = 0;  // 9600 baud
    bool overrun_ = false;          // LSR.OE, cleared by reading LSR
    bool thre_pending_ = false;     // THR-empty interrupt latched
    uint8_t msr_delta_ = 0;         // MSR bits 0-3
    uint8_t last_msr_status_ = 0;   // MSR bits 4-7 as last computed
    bool irq_level_ = false;
};

}  // namespace vmm
