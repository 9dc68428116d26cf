// Injection from another thread while a "vCPU" accesses the device through
// the Bus: nothing lost, no deadlock (callbacks re-enter the device). Run
// under -fsanitize=thread to check the locking.
#include <atomic>
#include <thread>

#include "check.h"
#include "core/device.h"
#include "devices/i8042.h"
#include "devices/pm.h"
#include "devices/rtc.h"
#include "devices/serial.h"

TEST(devices_serial_concurrent_input_and_guest) {
    std::shared_ptr<vmm::Serial> dev;
    std::atomic<size_t> echoed{0};
    dev = std::make_shared<vmm::Serial>(vmm::IrqLine(4, [](uint32_t, bool) {}), [&](const uint8_t*, size_t n) {
        echoed += n;
        dev->input_space();   // re-entering from the output callback is allowed
    });
    vmm::Bus bus;
    bus.add(0x3F8, vmm::Serial::kWindow, dev);
    constexpr size_t kBytes = 20000;
    std::thread host([&] {
        uint8_t pattern[128];
        for (size_t i = 0; i < sizeof pattern; ++i) pattern[i] = static_cast<uint8_t>(i % 64);
        size_t sent = 0;
        while (sent < kBytes) {
            size_t n = dev->push_input(pattern + sent % 64, std::min<size_t>(64, kBytes - sent));
            sent += n;
            if (!n) std::this_thread::yield();
        }
    });
    size_t got = 0;
    bool ordered = true;
    while (got < kBytes) {
        uint8_t lsr;
        bus.read(0x3FD, &lsr, 1);
        if (!(lsr & 1)) { std::this_thread::yield(); continue; }
        uint8_t b;
        bus.read(0x3F8, &b, 1);
        ordered &= b == static_cast<uint8_t>(got % 64);
        ++got;
        if (got % 1000 == 0) bus.write(0x3F8, &b, 1);
    }
    host.join();
    CHECK(ordered);
    CHECK_EQ(echoed.load(), kBytes / 1000);
}

TEST(devices_i8042_and_rtc_concurrent) {
    auto kbc = std::make_shared<vmm::I8042>(vmm::IrqLine(1, [](uint32_t, bool) {}),
                                            vmm::IrqLine(12, [](uint32_t, bool) {}), [] {});
    auto rtc = std::make_shared<vmm::Rtc>(vmm::IrqLine(8, [](uint32_t, bool) {}), 1 << 30);
    vmm::Bus bus;
    bus.add(0x60, vmm::I8042::kWindow, kbc);
    bus.add(0x70, vmm::Rtc::kWindow, rtc);
    const uint8_t regb[2] = {0x0B, 0x12};   // register B: UIE, 24-hour
    bus.write(0x70, &regb[0], 1);
    bus.write(0x71, &regb[1], 1);
    std::atomic<bool> done{false};
    std::thread host([&] {
        for (int i = 0; i < 20000; ++i) {
            kbc->key_event(0x1E, (i & 1) == 0);
            kbc->mouse_event(1, -1, 0, 0);
            if (i % 100 == 0) rtc->tick();
        }
        done = true;
    });
    size_t got = 0;
    for (;;) {
        bool finished = done;   // read before draining: nothing comes after
        uint8_t st;
        bus.read(0x64, &st, 1);
        if (st & 1) { bus.read(0x60, &st, 1); ++got; continue; }
        const uint8_t idx = 0x0C;
        bus.write(0x70, &idx, 1);
        bus.read(0x71, &st, 1);
        if (finished) break;
        std::this_thread::yield();
    }
    host.join();
    CHECK(got > 0);
}

// The agent's power button (control socket thread) against a guest that
// services PM1 from its vCPU thread: every press is seen, and the SCI line
// always ends up matching STS & EN.
TEST(devices_pm_power_button_concurrent_with_guest) {
    std::atomic<int> level{0};
    auto pm = std::make_shared<vmm::Pm>(vmm::IrqLine(9, [&](uint32_t, bool l) { level = l; }), [] {});
    vmm::Bus bus;
    bus.add(0x600, vmm::Pm::kWindow, pm);
    uint16_t en = vmm::Pm::kPwrBtnSts;
    bus.write(0x602, reinterpret_cast<const uint8_t*>(&en), 2);
    constexpr int kPresses = 2000;
    std::atomic<int> pressed{0}, handled{0};
    std::thread host([&] {
        for (int i = 0; i < kPresses; ++i) {
            // Press again only once the guest handled the previous one.
            while (handled.load() < i) std::this_thread::yield();
            pm->power_button();
            ++pressed;
        }
    });
    while (handled.load() < kPresses) {
        uint16_t sts = 0;
        bus.read(0x600, reinterpret_cast<uint8_t*>(&sts), 2);
        if (!(sts & vmm::Pm::kPwrBtnSts)) { std::this_thread::yield(); continue; }
        CHECK(level.load());
        bus.write(0x600, reinterpret_cast<const uint8_t*>(&sts), 2);  // write 1 to clear
        ++handled;
    }
    host.join();
    CHECK_EQ(pressed.load(), kPresses);
    uint16_t sts = 0xffff;
    bus.read(0x600, reinterpret_cast<uint8_t*>(&sts), 2);
    CHECK_EQ(sts, 0);
    CHECK(!level.load());
}
