#include "devices/rtc.h"

#include <algorithm>
#include <chrono>

namespace vmm {

namespace {
enum : uint8_t {
    kSec = 0x00, kSecAlarm = 0x01, kMin = 0x02, kMinAlarm = 0x03, kHour = 0x04, kHourAlarm = 0x05,
    kWday = 0x06, kMday = 0x07, kMonth = 0x08, kYear = 0x09, kRegA = 0x0A, kRegB = 0x0B,
    kRegC = 0x0C, kRegD = 0x0D, kCentury = 0x32,
};
constexpr uint8_t kAUip = 0x80;
constexpr uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10, kBBinary = 0x04, kB24h = 0x02;
constexpr uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;
constexpr uint8_t kDVrt = 0x80;
constexpr int64_t kUsPerSec = 1'000'000;
constexpr int64_t kUipUs = 244;   // UIP rises this long before each update

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Proleptic Gregorian calendar <-> days since 1970-01-01 (Howard Hinnant's
// well-known civil-date algorithms).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

}  // namespace

Rtc::Fields Rtc::fields_at(int64_t us) {
    int64_t secs = floor_div(us, kUsPerSec);
    int64_t days = floor_div(secs, 86400);
    int64_t sod = secs - days * 86400;
    Fields f{};
    f.sec = static_cast<int>(sod % 60);
    f.min = static_cast<int>(sod / 60 % 60);
    f.hour = static_cast<int>(sod / 3600);
    f.wday = static_cast<int>(((days % 7) + 11) % 7);   // 1970-01-01 was a Thursday; 0 = Sunday
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    f.mday = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    f.mon = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    f.year = static_cast<int>(yoe + era * 400 + (f.mon <= 2));
    return f;
}

int64_t Rtc::fields_to_us(const Fields& f) {
    // Guest values were clamped when written; clamp again so nothing overflows.
    int64_t y = std::clamp(f.year, 0, 9999), m = std::clamp(f.mon, 1, 12), d = std::clamp(f.mday, 1, 31);
    int64_t s = days_from_civil(y, m, d) * 86400 + std::clamp(f.hour, 0, 23) * 3600 +
                std::clamp(f.min, 0, 59) * 60 + std::clamp(f.sec, 0, 59);
    return s * kUsPerSec;
}

namespace {
bool is_time_reg(uint8_t idx) {
    return idx == kSec || idx == kMin || idx == kHour || idx == kMday || idx == kMonth || idx == kYear ||
           idx == kCentury || idx == kWday;
}
}  // namespace

int64_t Rtc::host_clock_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Rtc::Rtc(IrqLine irq, uint64_t ram_bytes, Clock clock) : irq_(std::move(irq)), clock_(std::move(clock)) {
    if (!clock_) clock_ = &Rtc::host_clock_us;
    cmos_[kRegA] = 0x26;              // 32.768 kHz time base, 1024 Hz periodic rate
    cmos_[kRegB] = kB24h;             // 24-hour, BCD, no interrupts
    cmos_[kRegD] = kDVrt;

    // Memory size bytes, as PC BIOSes leave them.
    constexpr uint64_t kMiB = 1 << 20;
    uint64_t low = std::min<uint64_t>(ram_bytes, 0xC000'0000ULL);
    uint64_t high = ram_bytes > low ? ram_bytes - low : 0;
    auto put16 = [&](uint8_t at, uint64_t v) {
        v = std::min<uint64_t>(v, 0xFFFF);
        cmos_[at] = static_cast<uint8_t>(v);
        cmos_[at + 1] = static_cast<uint8_t>(v >> 8);
    };
    put16(0x15, 640);                                              // base memory, KiB
    uint64_t ext_kib = low > kMiB ? (low - kMiB) >> 10 : 0;
    put16(0x17, ext_kib);                                          // above 1 MiB, KiB
    put16(0x30, ext_kib);
    put16(0x34, low > 16 * kMiB ? (low - 16 * kMiB) >> 16 : 0);   // above 16 MiB, 64 KiB units
    uint64_t hi64k = std::min<uint64_t>(high >> 16, 0xFFFFFF);     // above 4 GiB, 64 KiB units
    cmos_[0x5b] = static_cast<uint8_t>(hi64k);
    cmos_[0x5c] = static_cast<uint8_t>(hi64k >> 8);
    cmos_[0x5d] = static_cast<uint8_t>(hi64k >> 16);
    unsigned sum = 0;
    for (int i = 0x10; i <= 0x2D; ++i) sum += cmos_[i];
    cmos_[0x2E] = static_cast<uint8_t>(sum >> 8);
    cmos_[0x2F] = static_cast<uint8_t>(sum);

    last_tick_us_ = now_us();
}

int64_t Rtc::now_us() const { return clock_() + offset_us_; }

uint8_t Rtc::encode(int v) const {
    if (cmos_[kRegB] & kBBinary) return static_cast<uint8_t>(v);
    return static_cast<uint8_t>(((v / 10 % 10) << 4) | (v % 10));
}

int Rtc::decode(uint8_t v) const {
    if (cmos_[kRegB] & kBBinary) return v;
    return (v >> 4) * 10 + (v & 0x0F);   // invalid BCD digits just give odd values, clamped later
}

uint8_t Rtc::encode_hour(int h) const {
    if (cmos_[kRegB] & kB24h) return encode(h);
    int h12 = h % 12 == 0 ? 12 : h % 12;
    return static_cast<uint8_t>(encode(h12) | (h >= 12 ? 0x80 : 0));
}

int Rtc::decode_hour(uint8_t v) const {
    if (cmos_[kRegB] & kB24h) return decode(v);
    return decode(v & 0x7F) % 12 + ((v & 0x80) ? 12 : 0);
}

uint8_t Rtc::time_reg(const Fields& f, uint8_t idx) const {
    switch (idx) {
        case kSec: return encode(f.sec);
        case kMin: return encode(f.min);
        case kHour: return encode_hour(f.hour);
        case kWday: return encode(f.wday + 1);   // 1 = Sunday
        case kMday: return encode(f.mday);
        case kMonth: return encode(f.mon);
        case kYear: return encode(f.year % 100);
        default: return encode(f.year / 100 % 100);   // century
    }
}

uint8_t Rtc::read_reg(uint8_t idx) {
    if (is_time_reg(idx)) {
        // While SET is on the clock is frozen at what the guest wrote.
        if (cmos_[kRegB] & kBSet) return cmos_[idx];
        return time_reg(fields_at(now_us()), idx);
    }
    switch (idx) {
        case kRegA: {
            uint8_t v = cmos_[kRegA] & 0x7F;
            int64_t now = now_us();
            int64_t sub = now - floor_div(now, kUsPerSec) * kUsPerSec;
            if (!(cmos_[kRegB] & kBSet) && sub >= kUsPerSec - kUipUs) v |= kAUip;
            return v;
        }
        case kRegC: {
            latch_flags(now_us());
            uint8_t v = cmos_[kRegC];
            cmos_[kRegC] = 0;   // read-to-clear; drops IRQ 8
            update_irq();
            return v;
        }
        case kRegD: return kDVrt;
        default: return cmos_[idx & 0x7F];
    }
}

void Rtc::set_time_field(uint8_t idx, uint8_t v) {
    // Start from the registers as the guest sees them, change one field,
    // and turn the result back into an offset from the host clock.
    Fields f{};
    const bool frozen = cmos_[kRegB] & kBSet;
    if (frozen) {
        f.sec = decode(cmos_[kSec]);
        f.min = decode(cmos_[kMin]);
        f.hour = decode_hour(cmos_[kHour]);
        f.mday = decode(cmos_[kMday]);
        f.mon = decode(cmos_[kMonth]);
        f.year = decode(cmos_[kCentury]) * 100 + decode(cmos_[kYear]);
    } else {
        f = fields_at(now_us());
    }
    int d = decode(v);
    switch (idx) {
        case kSec: f.sec = std::clamp(d, 0, 59); break;
        case kMin: f.min = std::clamp(d, 0, 59); break;
        case kHour: f.hour = std::clamp(decode_hour(v), 0, 23); break;
        case kMday: f.mday = std::clamp(d, 1, 31); break;
        case kMonth: f.mon = std::clamp(d, 1, 12); break;
        case kYear: f.year = f.year / 100 * 100 + std::clamp(d, 0, 99); break;
        case kCentury: f.year = std::clamp(d, 0, 99) * 100 + f.year % 100; break;
        default:   // day of week: kept while frozen, else follows from the date
            if (frozen) cmos_[idx] = v;
            return;
    }
    if (frozen) {
        cmos_[idx] = v;
        return;
    }
    offset_us_ = fields_to_us(f) - clock_();
    last_tick_us_ = now_us();
}

void Rtc::write_reg(uint8_t idx, uint8_t v) {
    if (is_time_reg(idx)) {
        set_time_field(idx, v);
        return;
    }
    switch (idx) {
        case kRegA: cmos_[kRegA] = v & 0x7F; break;   // UIP is read-only
        case kRegB: {
            bool was_set = cmos_[kRegB] & kBSet;
            if (v & kBSet) v &= static_cast<uint8_t>(~kBUie);   // SET clears UIE
            if (!was_set && (v & kBSet)) {
                // Freeze: snapshot the running clock into the registers, in
                // the format the same write selects.
                Fields f = fields_at(now_us());
                cmos_[kRegB] = static_cast<uint8_t>((cmos_[kRegB] & ~(kBBinary | kB24h)) | (v & (kBBinary | kB24h)));
                for (uint8_t r : {kSec, kMin, kHour, kWday, kMday, kMonth, kYear, kCentury}) {
                    cmos_[r] = time_reg(f, r);
                }
            }
            if (was_set && !(v & kBSet)) {
                // Unfreeze: the registers (in the format in force while they
                // were written) become the new time, starting at .000000 s.
                Fields f{};
                f.sec = std::clamp(decode(cmos_[kSec]), 0, 59);
                f.min = std::clamp(decode(cmos_[kMin]), 0, 59);
                f.hour = std::clamp(decode_hour(cmos_[kHour]), 0, 23);
                f.mday = std::clamp(decode(cmos_[kMday]), 1, 31);
                f.mon = std::clamp(decode(cmos_[kMonth]), 1, 12);
                f.year = std::clamp(decode(cmos_[kCentury]), 0, 99) * 100 + std::clamp(decode(cmos_[kYear]), 0, 99);
                offset_us_ = fields_to_us(f) - clock_();
                last_tick_us_ = now_us();
            }
            cmos_[kRegB] = v;
            update_irq();
            break;
        }
        case kRegC:
        case kRegD:
            break;   // read-only
        default: cmos_[idx & 0x7F] = v; break;
    }
}

int64_t Rtc::periodic_us() const {
    int rate = cmos_[kRegA] & 0x0F;
    if (rate == 0) return 0;
    if (rate < 3) rate += 7;   // rates 1 and 2 repeat 8 and 9 at 32.768 kHz
    return std::max<int64_t>(1, (int64_t{1} << (rate - 1)) * kUsPerSec / 32768);
}

void Rtc::latch_flags(int64_t now) {
    int64_t last = last_tick_us_;
    if (now <= last) return;
    last_tick_us_ = now;
    uint8_t& c = cmos_[kRegC];
    if (int64_t p = periodic_us(); p && floor_div(now, p) != floor_div(last, p)) c |= kCPf;
    if (!(cmos_[kRegB] & kBSet) && floor_div(now, kUsPerSec) != floor_div(last, kUsPerSec)) {
        c |= kCUf;
        // Alarm: compared against the current second only ("don't care"
        // when the top two bits are set). tick() is called every second
        // while AIE is on, so no second is skipped in practice.
        Fields f = fields_at(now);
        auto match = [&](uint8_t alarm, uint8_t cur) { return (alarm & 0xC0) == 0xC0 || alarm == cur; };
        if (match(cmos_[kSecAlarm], encode(f.sec)) && match(cmos_[kMinAlarm], encode(f.min)) &&
            match(cmos_[kHourAlarm], encode_hour(f.hour))) {
            c |= kCAf;
        }
    }
    uint8_t b = cmos_[kRegB];
    if (((c & kCPf) && (b & kBPie)) || ((c & kCAf) && (b & kBAie)) || ((c & kCUf) && (b & kBUie))) c |= kCIrqf;
}

void Rtc::update_irq() {
    bool level = cmos_[kRegC] & kCIrqf;
    if (level != irq_level_) {
        irq_level_ = level;
        irq_.set(level);
    }
}

int64_t Rtc::tick() {
    std::lock_guard<std::mutex> g(mu_);
    int64_t now = now_us();
    latch_flags(now);
    update_irq();
    int64_t next = -1;
    uint8_t b = cmos_[kRegB];
    if ((b & kBPie) && periodic_us()) {
        int64_t p = periodic_us();
        next = p - (now - floor_div(now, p) * p);
    }
    if (b & (kBAie | kBUie)) {
        int64_t s = kUsPerSec - (now - floor_div(now, kUsPerSec) * kUsPerSec);
        next = next < 0 ? s : std::min(next, s);
    }
    return next < 0 ? -1 : std::max<int64_t>(next, 1);
}

void Rtc::read(uint64_t offset, uint8_t* data, uint32_t size) {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i = 0; i < size; ++i) {
        uint64_t off = offset + i;
        if (offset < kWindow && i < kWindow - offset && off == 1) data[i] = read_reg(index_);
        else data[i] = 0xff;   // the index port is write-only
    }
}

void Rtc::write(uint64_t offset, const uint8_t* data, uint32_t size) {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i = 0; i < size; ++i) {
        if (offset >= kWindow || i >= kWindow - offset) break;
        if (offset + i == 0) index_ = data[i] & 0x7F;   // bit 7 masks NMI: ignored
        else write_reg(index_, data[i]);
    }
}

}  // namespace vmm
