// MC146818 CMOS RTC + 128 bytes of NVRAM. Register at platform::kRtcPort with
// Rtc::kWindow (0x70 index, bit 7 = NMI mask, ignored; 0x71 data) and
// IrqLine(platform::kRtcGsi, ...).
//
// Time of day is the host's UTC clock plus an offset the guest sets by
// writing the time registers (the host clock is never touched). Register B's
// DM (binary) and 24/12-hour bits are honoured. UIP is set only during the
// last 244 us of each second, so a polling guest never sees it stuck.
//
// Interrupts (periodic, alarm, update-ended): the device has no thread of
// its own; the VMM calls tick() from its I/O thread. tick() latches any
// flags whose time has passed, drives IRQ 8 (held high while register C's
// IRQF is set, dropped when the guest reads C) and returns the number of
// microseconds until it should be called again, or -1 when no interrupt is
// enabled (a guest write can enable one at any time, so also call it at
// least every 10-100 ms). The alarm is compared once per second, at the
// first tick() after each second boundary.
//
// Threading: read()/write()/tick() take the device mutex; the IrqLine setter
// is called with it held and must not call back into this device.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "core/device.h"
#include "core/irq.h"

namespace vmm {

class Rtc : public Device {
public:
    static constexpr uint64_t kWindow = 2;
    // Microseconds since the Unix epoch (UTC). Tests inject a fake clock.
    using Clock = std::function<int64_t()>;

    // ram_bytes fills the memory-size CMOS bytes (0x15-0x18, 0x30-0x31,
    // 0x34-0x35 and 0x5b-0x5d).
    Rtc(IrqLine irq, uint64_t ram_bytes, Clock clock = {});

    const char* name() const override { return "rtc"; }
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

    int64_t tick();

    static int64_t host_clock_us();

private:
    struct Fields { int sec, min, hour, mday, mon, year, wday; };   // wday: 0 = Sunday
    static Fields fields_at(int64_t us);
    static int64_t fields_to_us(const Fields& f);
    uint8_t time_reg(const Fields& f, uint8_t idx) const;   // encoded per register B

    int64_t now_us() const;              // guest time (host + offset)
    uint8_t read_reg(uint8_t idx);
    void write_reg(uint8_t idx, uint8_t v);
    uint8_t encode(int v) const;          // binary or BCD per register B
    int decode(uint8_t v) const;
    uint8_t encode_hour(int h) const;
    int decode_hour(uint8_t v) const;
    void set_time_field(uint8_t idx, uint8_t v);
    void latch_flags(int64_t now);
    void update_irq();
    int64_t periodic_us() const;

    std::mutex mu_;
    IrqLine irq_;
    Clock clock_;
    uint8_t index_ = 0;
    uint8_t cmos_[128] = {};
    int64_t offset_us_ = 0;              // guest time - host time
    int64_t last_tick_us_ = 0;           // guest time of the last latch
    bool irq_level_ = false;
};

}  // namespace vmm
