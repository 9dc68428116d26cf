// virtio-input tablet and virtio-rng.
#include <cstring>
#include <thread>
#include <vector>

#include "check.h"
#include "core/device.h"
#include "virtio/input.h"
#include "virtio/rng.h"
#include "virtio_driver.h"

using namespace vmm::virtio;
using vtest::Rig;

namespace {

constexpr uint64_t kEvBufs = 0x200000;

struct InputRig : Rig<InputDevice> {
    InputRig() : Rig(std::make_shared<InputDevice>("Test Tablet", "ser1")) {}
    void post(int n) {
        for (int i = 0; i < n; ++i) {
            uint64_t b = kEvBufs + 8ULL * (posted++ % 64);
            std::memset(ram.at(b), 0xcc, 8);
            qs[0].add_chain({{b, 8, true}});
        }
        drv.notify(0);
    }
    // Collect delivered events in used-ring order.
    std::vector<InputEvent> take() {
        std::vector<InputEvent> v;
        while (auto u = qs[0].get_used()) {
            if (u->second != 8) continue;
            uint64_t b = kEvBufs + 8ULL * u->first;  // head == buffer slot (ring of 64)
            InputEvent e;
            e.type = ram.get<uint16_t>(b);
            e.code = ram.get<uint16_t>(b + 2);
            e.value = ram.get<uint32_t>(b + 4);
            v.push_back(e);
        }
        return v;
    }
    int posted = 0;
};

bool same(const InputEvent& e, uint16_t type, uint16_t code, uint32_t value) {
    return e.type == type && e.code == code && e.value == value;
}

}  // namespace

TEST(virtio_input_config) {
    InputRig r;
    CHECK_EQ(r.drv.r32(reg::kDeviceId), kIdInput);
    auto sel = [&](uint8_t s, uint8_t sub) { r.drv.wcfg8(0, s); r.drv.wcfg8(1, sub); return r.drv.cfg8(2); };
    CHECK_EQ(sel(0x01, 0), 11);  // ID_NAME
    CHECK_EQ(r.drv.cfg8(8), 'T');
    CHECK_EQ(r.drv.cfg8(8 + 10), 't');
    CHECK_EQ(sel(0x02, 0), 4);  // ID_SERIAL
    CHECK_EQ(sel(0x03, 0), 8);  // ID_DEVIDS
    CHECK_EQ(sel(0x10, 0), 0);  // no properties
    CHECK_EQ(sel(0x11, 0x01), 0x112 / 8 + 1);  // EV_KEY bitmap up to BTN_MIDDLE
    CHECK_EQ(r.drv.cfg8(8 + 0x110 / 8), 0x07);  // BTN_LEFT, RIGHT, MIDDLE
    CHECK_EQ(sel(0x11, 0x03), 1);  // EV_ABS
    CHECK_EQ(r.drv.cfg8(8), 0x03);
    CHECK_EQ(sel(0x11, 0x02), 2);  // EV_REL: REL_WHEEL (8)
    CHECK_EQ(r.drv.cfg8(9), 0x01);
    CHECK_EQ(sel(0x11, 0x05), 0);  // EV_SW: none
    CHECK_EQ(sel(0x12, 0x00), 20);  // ABS_INFO X
    CHECK_EQ(r.drv.cfg32(8 + 4), 32767u);
    CHECK_EQ(sel(0x12, 0x05), 0);
    CHECK_EQ(sel(0x77, 0), 0);
    CHECK_EQ(r.drv.cfg8(300), 0);
}

TEST(virtio_input_events_in_order) {
    InputRig r;
    CHECK(r.bring_up(kFeatureVersion1 | kFeatureEventIdx, 64));
    r.post(32);
    r.dev->pointer_event(639, 0, 640, 480, kButtonLeft, 0);
    r.dev->pointer_event(320, 240, 640, 480, 0, -1);
    auto ev = r.take();
    CHECK_EQ(ev.size(), 9u);
    if (ev.size() == 9) {
        CHECK(same(ev[0], 3, 0, 32767));
        CHECK(same(ev[1], 3, 1, 0));
        CHECK(same(ev[2], 1, 0x110, 1));
        CHECK(same(ev[3], 0, 0, 0));
        CHECK(same(ev[4], 3, 0, 320u * 32767 / 639));
        CHECK(same(ev[5], 3, 1, 240u * 32767 / 479));
        CHECK(same(ev[6], 1, 0x110, 0));
        CHECK(same(ev[7], 2, 8, 0xffffffffu));
        CHECK(same(ev[8], 0, 0, 0));
    }
    CHECK(*r.irq.level);
    // Out-of-range coordinates clamp; zero-size screens don't divide by zero.
    r.dev->pointer_event(5000, 5000, 640, 480, 0, 0);
    r.dev->pointer_event(1, 1, 0, 0, 0, 0);
    ev = r.take();
    CHECK_EQ(ev.size(), 6u);
    if (ev.size() == 6) { CHECK_EQ(ev[0].value, 32767u); CHECK_EQ(ev[3].value, 0u); }
}

TEST(virtio_input_buffers_when_no_guest_buffers) {
    InputRig r;
    // Events before the driver is even up are kept.
    r.dev->pointer_event(10, 10, 100, 100, kButtonRight, 0);
    CHECK(r.bring_up(kFeatureVersion1, 64));
    CHECK_EQ(r.dev->pending_events(), 4u);
    r.post(2);
    CHECK_EQ(r.dev->pending_events(), 2u);
    r.post(10);
    auto ev = r.take();
    CHECK_EQ(ev.size(), 4u);
    if (ev.size() == 4) CHECK(same(ev[2], 1, 0x111, 1));
    // Flood with moves plus one click while the guest posts nothing: bounded, click kept.
    for (int i = 0; i < 1000; ++i) r.dev->pointer_event(i % 100, 5, 100, 100, i == 500 ? kButtonMiddle : 0, 0);
    CHECK(r.dev->pending_events() <= kInputQueueLimit);
    CHECK(r.dev->dropped_events() > 0);
    bool press = false, release = false;
    for (int round = 0; round < 5; ++round) {
        r.post(64);
        for (const auto& e : r.take()) {
            press |= same(e, 1, 0x112, 1);
            release |= same(e, 1, 0x112, 0);
        }
    }
    CHECK_EQ(r.dev->pending_events(), 0u);
    CHECK(press);
    CHECK(release);
}

TEST(virtio_input_status_queue_and_reset) {
    InputRig r;
    CHECK(r.bring_up(kFeatureVersion1, 64));
    r.qs[1].add_chain({{0x210000, 8, false}});
    r.drv.notify(1);
    CHECK(r.qs[1].get_used().has_value());
    r.dev->pointer_event(1, 1, 2, 2, 0, 0);
    CHECK_EQ(r.dev->pending_events(), 3u);  // ABS_X, ABS_Y, SYN
    r.drv.w32(reg::kStatus, 0);
    CHECK_EQ(r.dev->pending_events(), 0u);
}

TEST(virtio_rng_fills_buffers) {
    Rig<RngDevice> r(std::make_shared<RngDevice>());
    CHECK(r.bring_up(kFeatureVersion1 | kFeatureIndirectDesc, 8));
    std::memset(r.ram.at(0x200000), 0, 4096);
    r.qs[0].add_chain({{0x200000, 1000, true}, {0x201000, 24, true}});
    r.qs[0].add_indirect(0x1f0000, {{0x202000, 64, true}});
    r.drv.notify(0);
    auto u1 = r.qs[0].get_used();
    auto u2 = r.qs[0].get_used();
    CHECK(u1.has_value() && u2.has_value());
    if (u1) CHECK_EQ(u1->second, 1024u);
    if (u2) CHECK_EQ(u2->second, 64u);
    int zeros = 0;
    for (int i = 0; i < 1000; ++i) zeros += r.ram.at(0x200000)[i] == 0;
    CHECK(zeros < 30);  // ~4 expected from random bytes
    CHECK_EQ(r.dev->bytes_served(), 1088u);
    CHECK(*r.irq.level);
}

TEST(virtio_input_concurrent_with_bus_traffic) {
    // A VNC thread feeding events while a vCPU thread hits the registers
    // through the bus (bus lock, then device mutex): no deadlock, nothing lost
    // beyond the documented move-dropping.
    InputRig r;
    CHECK(r.bring_up(kFeatureVersion1 | kFeatureEventIdx, 64));
    vmm::Bus bus;
    CHECK(bus.add(0xd0000000, 0x1000, r.t));
    r.post(64);
    std::thread vnc([&] {
        for (int i = 0; i < 2000; ++i) r.dev->pointer_event(i % 640, i % 480, 640, 480, (i / 100) & 1, 0);
    });
    std::thread vcpu([&] {
        for (int i = 0; i < 2000; ++i) {
            uint32_t v = 0;
            bus.read(0xd0000000 + reg::kInterruptStatus, reinterpret_cast<uint8_t*>(&v), 4);
            bus.write(0xd0000000 + reg::kInterruptAck, reinterpret_cast<uint8_t*>(&v), 4);
            uint32_t q = 0;
            bus.write(0xd0000000 + reg::kQueueNotify, reinterpret_cast<uint8_t*>(&q), 4);
        }
    });
    vnc.join();
    vcpu.join();
    CHECK_EQ(r.qs[0].used_idx(), 64);  // all posted buffers were filled
    CHECK(r.dev->pending_events() <= 4 * kInputQueueLimit);
}
