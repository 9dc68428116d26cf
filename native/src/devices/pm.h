// ACPI fixed hardware: the PM1a event/control block and the reset register.
//
//   Pm:            register at platform::kPm1aEvtPort with Pm::kWindow (6):
//                  offsets 0-1 PM1_STS (write 1 to clear), 2-3 PM1_EN,
//                  4-5 PM1_CNT (= platform::kPm1aCntPort). SCI_EN reads 1.
//                  SLP_EN with SLP_TYP == platform::kSlpTypS5 -> on_poweroff.
//   ResetRegister: register at platform::kResetPort with ResetRegister::kWindow (1):
//                  a write with bit 2 (RST_CPU) set -> on_reset.
//
// power_button() sets PWRBTN_STS (PM1_STS bit 8) and raises the SCI when the
// guest enabled PWRBTN_EN: an ACPI guest then shuts down cleanly. The SCI
// level is (PM1_STS & PM1_EN) != 0 (level-triggered; the GSI is whatever the
// FADT's SCI_INT says, conventionally 9). Pass IrqLine() to have no SCI.
//
// Threading: every public method takes the device mutex; callbacks are
// called WITHOUT it, on the calling (vCPU) thread. The IrqLine setter is
// called with it held and must not call back into this device.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "core/device.h"
#include "core/irq.h"

namespace vmm {

class Pm : public Device {
public:
    static constexpr uint64_t kWindow = 6;
    static constexpr uint16_t kPwrBtnSts = 1 << 8;
    static constexpr uint16_t kWakSts = 1 << 15;

    Pm(IrqLine sci, std::function<void()> on_poweroff);

    const char* name() const override { return "acpi-pm"; }
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

    void power_button();

private:
    uint8_t read_byte(uint64_t off) const;
    void update_sci();

    std::mutex mu_;
    IrqLine sci_;
    std::function<void()> on_poweroff_;
    uint16_t sts_ = 0, en_ = 0, cnt_ = 1;
    bool sci_level_ = false;
};

class ResetRegister : public Device {
public:
    static constexpr uint64_t kWindow = 1;
    static constexpr uint8_t kRstCpu = 1 << 2;

    explicit ResetRegister(std::function<void()> on_reset);

    const char* name() const override { return "reset"; }
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

private:
    std::mutex mu_;
    std::function<void()> on_reset_;
    uint8_t value_ = 0;
};

}  // namespace vmm
