// virtio-input absolute tablet (virtio 1.x section 5.8): ABS_X/ABS_Y in
// 0..32767, left/right/middle buttons, vertical wheel. Queue 0 carries
// events to the driver; queue 1 (status, e.g. LEDs) is consumed and ignored.
//
// pointer_event() is thread-safe (takes the device mutex); the runner calls
// it from its VNC/input thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "virtio/virtio.h"

namespace vmm::virtio {

// Button bits for pointer_event(): the same order as an RFB (VNC)
// PointerEvent button-mask, so the VNC server can pass its mask's low bits.
constexpr uint8_t kButtonLeft = 1;
constexpr uint8_t kButtonMiddle = 2;
constexpr uint8_t kButtonRight = 4;

constexpr uint32_t kTabletAbsMax = 32767;
// Events buffered while the guest has no event buffers posted.
constexpr size_t kInputQueueLimit = 256;

struct InputEvent {
    uint16_t type;
    uint16_t code;
    uint32_t value;
};

class InputDevice : public VirtioDevice {
public:
    explicit InputDevice(std::string name = "VMM Virtio Tablet", std::string serial = "tablet0");

    // Pointer at (x, y) on a width x height screen (clamped), scaled to
    // 0..32767. `buttons` uses the kButton* bits; `wheel` > 0 scrolls up,
    // < 0 down (REL_WHEEL clicks). Emits ABS_X, ABS_Y, changed buttons,
    // REL_WHEEL, then SYN_REPORT.
    void pointer_event(uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint8_t buttons, int wheel);

    uint32_t device_id() const override { return kIdInput; }
    const char* name() const override { return "virtio-input"; }
    uint64_t features() const override;
    uint16_t num_queues() const override { return 2; }
    uint16_t queue_max(uint16_t index) const override { (void)index; return 64; }
    void read_config(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write_config(uint64_t offset, const uint8_t* data, uint32_t size) override;
    void activate(Transport& t) override;
    void reset() override;
    void on_queue_notify(uint16_t index) override;

    size_t pending_events();   // buffered, not yet delivered (takes the mutex)
    uint64_t dropped_events();

private:
    // Fills the 128-byte union part of the config for the current select/subsel.
    uint8_t build_config(uint8_t* out);
    void enqueue(std::deque<InputEvent>& frame);
    void deliver();
    void drain_status();

    std::string name_, serial_;
    uint8_t select_ = 0, subsel_ = 0;
    Transport* transport_ = nullptr;
    std::deque<InputEvent> pending_;
    uint8_t last_buttons_ = 0;
    uint64_t dropped_ = 0;
};

}  // namespace vmm::virtio
