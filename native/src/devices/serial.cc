#include "devices/serial.h"

#include <algorithm>

namespace vmm {

namespace {
// Register offsets.
enum : uint32_t { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr uint8_t kIerRdi = 0x01, kIerThri = 0x02, kIerRlsi = 0x04, kIerMsi = 0x08;
constexpr uint8_t kIirNone = 0x01, kIirMsi = 0x00, kIirThri = 0x02, kIirRdi = 0x04, kIirRlsi = 0x06,
                  kIirTimeout = 0x0C, kIirFifo = 0xC0;
constexpr uint8_t kFcrEnable = 0x01, kFcrClearRx = 0x02;
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kTriggerLevels[4] = {1, 4, 8, 14};
}  // namespace

Serial::Serial(IrqLine irq, OutputFn on_output) : irq_(std::move(irq)), on_output_(std::move(on_output)) {
    last_msr_status_ = 0xB0;   // DCD, DSR, CTS: a modem that is always there
}

size_t Serial::rx_visible() const {
    return std::min(rx_count_, (fcr_ & kFcrEnable) ? kFifoSize : size_t{1});
}

uint8_t Serial::pending_iir() const {
    // 16550 priority: line status > received data > THR empty > modem status.
    if ((ier_ & kIerRlsi) && overrun_) return kIirRlsi;
    if ((ier_ & kIerRdi) && rx_count_ > 0) {
        // Below the trigger level a real FIFO reports a character timeout
        // once the line goes quiet; we report it at once.
        if ((fcr_ & kFcrEnable) && rx_visible() < kTriggerLevels[fcr_ >> 6]) return kIirTimeout;
        return kIirRdi;
    }
    if ((ier_ & kIerThri) && thre_pending_) return kIirThri;
    if ((ier_ & kIerMsi) && msr_delta_) return kIirMsi;
    return kIirNone;
}

void Serial::update_irq() {
    // OUT2 gates the UART's interrupt onto the ISA bus on PCs; in loopback
    // the OUT2 pin is forced inactive.
    bool level = pending_iir() != kIirNone && (mcr_ & kMcrOut2) && !(mcr_ & kMcrLoop);
    if (level != irq_level_) {
        irq_level_ = level;
        irq_.set(level);
    }
}

static uint8_t msr_status_for(uint8_t mcr) {
    if (!(mcr & kMcrLoop)) return 0xB0;
    // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
    return static_cast<uint8_t>(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4));
}

void Serial::rx_put_loopback(uint8_t b) {
    if (rx_count_ >= ((fcr_ & kFcrEnable) ? kFifoSize : size_t{1})) {
        overrun_ = true;   // the FIFO (or the holding register) is full: byte lost
        return;
    }
    rx_[(rx_head_ + rx_count_) % kRxBufferSize] = b;
    ++rx_count_;
}

uint8_t Serial::read_reg(uint32_t reg, bool& drained) {
    switch (reg) {
        case kRbrThr: {
            if (lcr_ & kLcrDlab) return dll_;
            if (rx_count_ == 0) return 0;
            uint8_t b = rx_[rx_head_];
            rx_head_ = (rx_head_ + 1) % kRxBufferSize;
            --rx_count_;
            if (rx_was_full_ && rx_count_ < kRxBufferSize / 2 && !(mcr_ & kMcrLoop)) {
                rx_was_full_ = false;
                drained = true;
            }
            return b;
        }
        case kIer: return (lcr_ & kLcrDlab) ? dlm_ : ier_;
        case kIirFcr: {
            uint8_t id = pending_iir();
            if (id == kIirThri) thre_pending_ = false;   // reading IIR acknowledges THRE
            return static_cast<uint8_t>(id | ((fcr_ & kFcrEnable) ? kIirFifo : 0));
        }
        case kLcr: return lcr_;
        case kMcr: return mcr_;
        case kLsr: {
            uint8_t v = kLsrThre | kLsrTemt;   // transmission is instantaneous
            if (rx_count_ > 0) v |= kLsrDr;
            if (overrun_) v |= kLsrOe;
            overrun_ = false;
            return v;
        }
        case kMsr: {
            uint8_t v = static_cast<uint8_t>(msr_status_for(mcr_) | msr_delta_);
            msr_delta_ = 0;
            return v;
        }
        default: return scr_;
    }
}

void Serial::write_reg(uint32_t reg, uint8_t v, uint8_t* out, size_t& out_n) {
    switch (reg) {
        case kRbrThr:
            if (lcr_ & kLcrDlab) { dll_ = v; break; }
            if (mcr_ & kMcrLoop) rx_put_loopback(v);
            else out[out_n++] = v;
            thre_pending_ = true;   // sent at once: THR is empty again
            break;
        case kIer:
            if (lcr_ & kLcrDlab) { dlm_ = v; break; }
            // Enabling THRI while THR is empty raises THRE (Linux tests this).
            if (!(ier_ & kIerThri) && (v & kIerThri)) thre_pending_ = true;
            ier_ = v & 0x0F;
            break;
        case kIirFcr: {
            bool was_on = fcr_ & kFcrEnable;
            bool on = v & kFcrEnable;
            // Toggling the FIFO enable, or CLEAR_RCVR, empties the receive
            // FIFO: the 16 bytes the guest can see, not our whole buffer.
            if (was_on != on || (on && (v & kFcrClearRx))) {
                size_t drop = std::min(rx_count_, kFifoSize);
                rx_head_ = (rx_head_ + drop) % kRxBufferSize;
                rx_count_ -= drop;
            }
            fcr_ = on ? (v & 0xC9) : 0;   // enable, DMA mode, trigger level
            break;
        }
        case kLcr: lcr_ = v; break;
        case kMcr: {
            mcr_ = v & 0x1F;
            uint8_t st = msr_status_for(mcr_);
            uint8_t changed = st ^ last_msr_status_;
            if (changed & 0x10) msr_delta_ |= 0x01;                           // DCTS
            if (changed & 0x20) msr_delta_ |= 0x02;                           // DDSR
            if ((changed & 0x40) && !(st & 0x40)) msr_delta_ |= 0x04;         // TERI: RI trailing edge
            if (changed & 0x80) msr_delta_ |= 0x08;                           // DDCD
            last_msr_status_ = st;
            break;
        }
        case kLsr:
        case kMsr:
            break;   // read-only (factory test registers)
        default: scr_ = v; break;
    }
}

void Serial::read(uint64_t offset, uint8_t* data, uint32_t size) {
    bool drained = false;
    std::function<void()> cb;
    {
        std::lock_guard<std::mutex> g(mu_);
        // A wider access is a series of byte accesses, as on the ISA bus.
        for (uint32_t i = 0; i < size; ++i) {
            if (offset < kWindow && i < kWindow - offset) data[i] = read_reg(static_cast<uint32_t>(offset + i), drained);
            else data[i] = 0xff;
        }
        update_irq();
        if (drained) cb = on_input_space_;
    }
    if (cb) cb();
}

void Serial::write(uint64_t offset, const uint8_t* data, uint32_t size) {
    uint8_t out[kWindow];
    size_t out_n = 0;
    std::function<void()> cb;
    {
        std::lock_guard<std::mutex> g(mu_);
        bool was_loop = mcr_ & kMcrLoop;
        for (uint32_t i = 0; i < size; ++i) {
            if (offset >= kWindow || i >= kWindow - offset) break;
            write_reg(static_cast<uint32_t>(offset + i), data[i], out, out_n);
        }
        // Host input is refused during loopback; leaving it lets it resume.
        if (was_loop && !(mcr_ & kMcrLoop) && rx_was_full_ && rx_count_ < kRxBufferSize / 2) {
            rx_was_full_ = false;
            cb = on_input_space_;
        }
        update_irq();
    }
    if (out_n && on_output_) on_output_(out, out_n);
    if (cb) cb();
}

size_t Serial::push_input(const uint8_t* data, size_t n) {
    std::lock_guard<std::mutex> g(mu_);
    // In loopback the serial input pin is disconnected: refuse, so the
    // 8250 FIFO-size probe counts only its own bytes.
    size_t take = (mcr_ & kMcrLoop) ? 0 : std::min(n, kRxBufferSize - rx_count_);
    for (size_t i = 0; i < take; ++i) rx_[(rx_head_ + rx_count_ + i) % kRxBufferSize] = data[i];
    rx_count_ += take;
    if (take < n) rx_was_full_ = true;
    update_irq();
    return take;
}

bool Serial::input_space() {
    std::lock_guard<std::mutex> g(mu_);
    return !(mcr_ & kMcrLoop) && rx_count_ < kRxBufferSize;
}

void Serial::set_on_input_space(std::function<void()> cb) {
    std::lock_guard<std::mutex> g(mu_);
    on_input_space_ = std::move(cb);
}

}  // namespace vmm
