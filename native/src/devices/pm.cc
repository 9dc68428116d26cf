#include "devices/pm.h"

#include "core/platform.h"

namespace vmm {

namespace {
constexpr uint16_t kEnMask = 0x0721;     // TMR, GBL, PWRBTN, SLPBTN, RTC enables
constexpr uint16_t kCntKeep = 0x1C02;    // BM_RLD and SLP_TYP are read/write
constexpr uint16_t kSlpTypShift = 10;
}  // namespace

Pm::Pm(IrqLine sci, std::function<void()> on_poweroff)
    : sci_(std::move(sci)), on_poweroff_(std::move(on_poweroff)) {}

uint8_t Pm::read_byte(uint64_t off) const {
    uint16_t reg;
    switch (off / 2) {
        case 0: reg = sts_; break;
        case 1: reg = en_; break;
        case 2: reg = static_cast<uint16_t>(cnt_ | 1); break;  // SCI_EN: no SMI_CMD, ACPI mode always on
        default: return 0xff;
    }
    return static_cast<uint8_t>(reg >> (8 * (off & 1)));
}

void Pm::read(uint64_t offset, uint8_t* data, uint32_t size) {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i = 0; i < size; ++i) {
        data[i] = (offset < kWindow && i < kWindow - offset) ? read_byte(offset + i) : 0xff;
    }
}

void Pm::write(uint64_t offset, const uint8_t* data, uint32_t size) {
    bool poweroff = false;
    {
        std::lock_guard<std::mutex> g(mu_);
        uint16_t cnt_new = cnt_;   // this access's view of PM1_CNT
        bool cnt_touched = false;
        for (uint32_t i = 0; i < size; ++i) {
            if (offset >= kWindow || i >= kWindow - offset) break;
            uint64_t off = offset + i;
            uint16_t v = static_cast<uint16_t>(data[i] << (8 * (off & 1)));
            uint16_t keep = (off & 1) ? 0x00ff : 0xff00;   // the other byte
            switch (off / 2) {
                case 0: sts_ &= static_cast<uint16_t>(~v); break;   // write 1 to clear
                case 1: en_ = static_cast<uint16_t>(((en_ & keep) | v) & kEnMask); break;
                case 2: cnt_new = static_cast<uint16_t>((cnt_new & keep) | v); cnt_touched = true; break;
            }
        }
        if (cnt_touched) {
            // SLP_EN is write-only: it acts now and is never stored.
            if ((cnt_new & platform::kSlpEn) && ((cnt_new >> kSlpTypShift) & 7) == platform::kSlpTypS5) {
                poweroff = true;
            }
            cnt_ = cnt_new & kCntKeep;
        }
        update_sci();
    }
    if (poweroff && on_poweroff_) on_poweroff_();
}

void Pm::power_button() {
    std::lock_guard<std::mutex> g(mu_);
    sts_ |= kPwrBtnSts;
    update_sci();
}

void Pm::update_sci() {
    bool level = (sts_ & en_) != 0;
    if (level != sci_level_) {
        sci_level_ = level;
        sci_.set(level);
    }
}

ResetRegister::ResetRegister(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}

void ResetRegister::read(uint64_t offset, uint8_t* data, uint32_t size) {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i = 0; i < size; ++i) data[i] = (offset == 0 && i == 0) ? value_ : 0xff;
}

void ResetRegister::write(uint64_t offset, const uint8_t* data, uint32_t size) {
    bool reset = false;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (offset != 0 || size == 0) return;
        // Only SYS_RST (bit 1) and FULL_RST (bit 3) are remembered; RST_CPU
        // is an action (Linux writes 0x02, then 0x06).
        value_ = data[0] & 0x0a;
        reset = (data[0] & kRstCpu) != 0;
    }
    if (reset && on_reset_) on_reset_();
}

}  // namespace vmm
