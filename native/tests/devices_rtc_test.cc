// CMOS RTC: time formats, UIP, NVRAM, guest-set time, interrupts.
#include "check.h"
#include "devices/rtc.h"

namespace {

// 2026-11-24 21:05:09 UTC, a Tuesday.
constexpr int64_t kT0 = 1795554309LL * 1'000'000;

struct Cmos {
    int64_t now = kT0 + 500'000;
    bool level = false;
    int rises = 0;
    vmm::Rtc dev;
    explicit Cmos(uint64_t ram = 512ull << 20)
        : dev(vmm::IrqLine(8, [this](uint32_t, bool l) { if (l && !level) ++rises; level = l; }), ram,
              [this] { return now; }) {}
    uint8_t rd(uint8_t idx) {
        uint8_t v = idx | 0x80;   // NMI mask bit set: ignored
        dev.write(0, &v, 1);
        dev.read(1, &v, 1);
        return v;
    }
    void wr(uint8_t idx, uint8_t val) {
        dev.write(0, &idx, 1);
        dev.write(1, &val, 1);
    }
};

}  // namespace

TEST(rtc_bcd_binary_and_12_hour) {
    Cmos c;
    CHECK_EQ(c.rd(0x0B), 0x02);   // 24-hour BCD
    CHECK_EQ(c.rd(0x00), 0x09);
    CHECK_EQ(c.rd(0x02), 0x05);
    CHECK_EQ(c.rd(0x04), 0x21);
    CHECK_EQ(c.rd(0x06), 3);      // Sunday = 1
    CHECK_EQ(c.rd(0x07), 0x24);
    CHECK_EQ(c.rd(0x08), 0x11);
    CHECK_EQ(c.rd(0x09), 0x26);
    CHECK_EQ(c.rd(0x32), 0x20);
    c.wr(0x0B, 0x06);             // binary
    CHECK_EQ(c.rd(0x04), 21);
    CHECK_EQ(c.rd(0x07), 24);
    CHECK_EQ(c.rd(0x09), 26);
    c.wr(0x0B, 0x00);             // 12-hour BCD: 9 PM
    CHECK_EQ(c.rd(0x04), 0x89);
    c.wr(0x0B, 0x04);             // 12-hour binary
    CHECK_EQ(c.rd(0x04), 0x89);   // 9 | PM
    c.now += 60 * 1'000'000LL;    // the clock runs
    c.wr(0x0B, 0x02);
    CHECK_EQ(c.rd(0x02), 0x06);
}

TEST(rtc_uip_is_brief) {
    Cmos c;
    c.now = kT0 + 500'000;
    CHECK_EQ(c.rd(0x0A) & 0x80, 0);
    CHECK_EQ(c.rd(0x0A) & 0x7F, 0x26);
    c.now = kT0 + 999'900;
    CHECK_EQ(c.rd(0x0A) & 0x80, 0x80);
    c.now = kT0 + 1'000'100;
    CHECK_EQ(c.rd(0x0A) & 0x80, 0);
    CHECK_EQ(c.rd(0x00), 0x10);
    CHECK_EQ(c.rd(0x0D), 0x80);   // VRT
    // With the real clock a polling reader sees UIP clear almost at once.
    vmm::Rtc real(vmm::IrqLine(), 1 << 30);
    int clear = 0;
    for (int i = 0; i < 1000; ++i) {
        uint8_t idx = 0x0A, v = 0;
        real.write(0, &idx, 1);
        real.read(1, &v, 1);
        if (!(v & 0x80)) ++clear;
    }
    CHECK(clear > 0);
}

TEST(rtc_nvram_round_trip_and_memory_size) {
    Cmos c(4ull << 30);   // 3 GiB low + 1 GiB high
    CHECK_EQ(c.rd(0x34) | (c.rd(0x35) << 8), 0xBF00);   // (3 GiB - 16 MiB) / 64 KiB
    CHECK_EQ(c.rd(0x5B) | (c.rd(0x5C) << 8) | (c.rd(0x5D) << 16), 0x4000);
    CHECK_EQ(c.rd(0x15) | (c.rd(0x16) << 8), 640);
    CHECK_EQ(c.rd(0x17) | (c.rd(0x18) << 8), 0xFFFF);
    for (int i = 0x40; i < 0x80; ++i) c.wr(static_cast<uint8_t>(i), static_cast<uint8_t>(i * 7));
    bool same = true;
    for (int i = 0x40; i < 0x80; ++i) same &= c.rd(static_cast<uint8_t>(i)) == static_cast<uint8_t>(i * 7);
    CHECK(same);
    // Index port reads as all ones; writes past the window are ignored.
    uint8_t v = 0;
    c.dev.read(0, &v, 1);
    CHECK_EQ(v, 0xFF);
    uint8_t w[4] = {0x40, 0x55, 0x66, 0x77};
    c.dev.write(0, w, 4);   // index 0x40, then data 0x55; rest outside
    CHECK_EQ(c.rd(0x40), 0x55);
}

TEST(rtc_guest_sets_time_without_touching_host) {
    Cmos c;
    int64_t host = c.now;
    // As Linux's mc146818_set_time: SET, write fields, clear SET.
    c.wr(0x0B, 0x82);
    c.wr(0x00, 0x30); c.wr(0x02, 0x45); c.wr(0x04, 0x07);
    c.wr(0x07, 0x01); c.wr(0x08, 0x02); c.wr(0x09, 0x99); c.wr(0x32, 0x19);
    CHECK_EQ(c.rd(0x02), 0x45);   // frozen: reads what was written
    c.now += 5'000'000;
    CHECK_EQ(c.rd(0x00), 0x30);
    c.wr(0x0B, 0x02);
    CHECK_EQ(c.now, host + 5'000'000);   // our clock was never written
    CHECK_EQ(c.rd(0x00), 0x30);
    c.now += 2'000'000;
    CHECK_EQ(c.rd(0x00), 0x32);
    CHECK_EQ(c.rd(0x09), 0x99);
    CHECK_EQ(c.rd(0x32), 0x19);
    CHECK_EQ(c.rd(0x08), 0x02);
    // Without SET a single field changes at once.
    c.wr(0x04, 0x23);
    CHECK_EQ(c.rd(0x04), 0x23);
    CHECK_EQ(c.rd(0x02), 0x45);
}

TEST(rtc_update_and_periodic_interrupts) {
    Cmos c;
    CHECK_EQ(c.dev.tick(), -1);   // nothing enabled
    c.wr(0x0B, 0x12);             // UIE
    int64_t wait = c.dev.tick();
    CHECK_EQ(wait, 500'000);
    CHECK(!c.level);
    c.now += wait;
    c.dev.tick();
    CHECK(c.level);
    CHECK_EQ(c.rd(0x0C) & 0xB0, 0x90);   // IRQF | UF (PF also runs at 1024 Hz, unmasked)
    CHECK(!c.level);
    CHECK_EQ(c.rd(0x0C), 0x00);
    c.wr(0x0B, 0x42);             // PIE, 1024 Hz
    wait = c.dev.tick();
    CHECK(wait > 0 && wait <= 977);
    c.now += wait;
    c.dev.tick();
    CHECK(c.level);
    CHECK_EQ(c.rd(0x0C) & 0xC0, 0xC0);
    // Alarm with "don't care" hour and minute.
    c.wr(0x0B, 0x22);
    c.wr(0x01, 0x15); c.wr(0x03, 0xC0); c.wr(0x05, 0xC0);
    c.rd(0x0C);
    c.now = kT0 + 6'000'000 + 10;   // :15
    c.dev.tick();
    CHECK(c.level);
    CHECK_EQ(c.rd(0x0C) & 0xA0, 0xA0);
}

FUZZ_TARGET(fuzz_rtc) {
    int64_t now = kT0;
    vmm::Rtc dev(vmm::IrqLine(8, [](uint32_t, bool) {}), 1ull << 33, [&now] { return now; });
    static const uint32_t sizes[4] = {1, 2, 4, 8};
    size_t i = 0;
    auto next = [&] { return i < size ? data[i++] : uint8_t{0}; };
    while (i < size) {
        uint8_t op = next();
        uint64_t off = next();
        if (off >= 0xF0) off = ~0ull - (off & 7);
        else off &= 0x03;
        uint32_t sz = sizes[op >> 6];
        uint8_t buf[8];
        switch (op & 3) {
            case 0: dev.read(off, buf, sz); break;
            case 1:
                for (auto& b : buf) b = next();
                dev.write(off, buf, sz);
                break;
            case 2: now += static_cast<int64_t>(next()) * ((op & 4) ? 1'000'000'000LL : 997); break;
            default: dev.tick(); break;
        }
    }
}
