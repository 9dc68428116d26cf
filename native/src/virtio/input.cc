#include "virtio/input.h"

#include <cstring>

#include "virtio/queue.h"

namespace vmm::virtio {

namespace {

// virtio_input_config.select values.
constexpr uint8_t kCfgIdName = 0x01;
constexpr uint8_t kCfgIdSerial = 0x02;
constexpr uint8_t kCfgIdDevids = 0x03;
constexpr uint8_t kCfgPropBits = 0x10;
constexpr uint8_t kCfgEvBits = 0x11;
constexpr uint8_t kCfgAbsInfo = 0x12;

// Linux input event codes (uapi/linux/input-event-codes.h).
constexpr uint16_t kEvSyn = 0x00, kEvKey = 0x01, kEvRel = 0x02, kEvAbs = 0x03;
constexpr uint16_t kSynReport = 0;
constexpr uint16_t kBtnLeft = 0x110, kBtnRight = 0x111, kBtnMiddle = 0x112;
constexpr uint16_t kRelWheel = 0x08;
constexpr uint16_t kAbsX = 0x00, kAbsY = 0x01;
constexpr uint16_t kBusVirtual = 0x06;

constexpr size_t kCfgHeader = 8;  // select, subsel, size, reserved[5]
constexpr size_t kCfgUnion = 128;

void set_bit(uint8_t* bits, uint16_t n) { bits[n / 8] |= static_cast<uint8_t>(1u << (n % 8)); }

bool is_move_frame(const std::deque<InputEvent>& q, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i)
        if (q[i].type != kEvAbs && q[i].type != kEvSyn) return false;
    return true;
}

}  // namespace

InputDevice::InputDevice(std::string name, std::string serial) : name_(std::move(name)), serial_(std::move(serial)) {
    if (name_.size() > kCfgUnion) name_.resize(kCfgUnion);
    if (serial_.size() > kCfgUnion) serial_.resize(kCfgUnion);
}

uint64_t InputDevice::features() const { return kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx; }

uint8_t InputDevice::build_config(uint8_t* u) {
    std::memset(u, 0, kCfgUnion);
    switch (select_) {
        case kCfgIdName:
            if (subsel_ != 0) return 0;
            std::memcpy(u, name_.data(), name_.size());
            return static_cast<uint8_t>(name_.size());
        case kCfgIdSerial:
            if (subsel_ != 0) return 0;
            std::memcpy(u, serial_.data(), serial_.size());
            return static_cast<uint8_t>(serial_.size());
        case kCfgIdDevids: {
            if (subsel_ != 0) return 0;
            uint16_t ids[4] = {kBusVirtual, 0, 0x0002, 1};  // bustype, vendor, product, version
            std::memcpy(u, ids, sizeof ids);
            return sizeof ids;
        }
        case kCfgPropBits:
            return 0;  // a pointer with buttons, not a direct-touch screen
        case kCfgEvBits:
            if (subsel_ == kEvKey) {
                set_bit(u, kBtnLeft);
                set_bit(u, kBtnRight);
                set_bit(u, kBtnMiddle);
                return kBtnMiddle / 8 + 1;
            }
            if (subsel_ == kEvRel) {
                set_bit(u, kRelWheel);
                return kRelWheel / 8 + 1;
            }
            if (subsel_ == kEvAbs) {
                set_bit(u, kAbsX);
                set_bit(u, kAbsY);
                return 1;
            }
            return 0;
        case kCfgAbsInfo: {
            if (subsel_ != kAbsX && subsel_ != kAbsY) return 0;
            uint32_t info[5] = {0, kTabletAbsMax, 0, 0, 0};  // min, max, fuzz, flat, res
            std::memcpy(u, info, sizeof info);
            return sizeof info;
        }
        default:
            return 0;
    }
}

void InputDevice::read_config(uint64_t offset, uint8_t* data, uint32_t size) {
    uint8_t cfg[kCfgHeader + kCfgUnion] = {};
    cfg[0] = select_;
    cfg[1] = subsel_;
    cfg[2] = build_config(cfg + kCfgHeader);
    for (uint32_t i = 0; i < size; ++i) {
        uint64_t o = offset + i;
        data[i] = (o >= offset && o < sizeof cfg) ? cfg[o] : 0;
    }
}

void InputDevice::write_config(uint64_t offset, const uint8_t* data, uint32_t size) {
    // Only select (0) and subsel (1) are writable.
    for (uint32_t i = 0; i < size; ++i) {
        uint64_t o = offset + i;
        if (o == 0) select_ = data[i];
        else if (o == 1) subsel_ = data[i];
    }
}

void InputDevice::activate(Transport& t) {
    transport_ = &t;
    deliver();
}

void InputDevice::reset() {
    transport_ = nullptr;
    select_ = subsel_ = 0;
    // The driver starts over: stale motion and button state are meaningless to it.
    pending_.clear();
    last_buttons_ = 0;
}

void InputDevice::on_queue_notify(uint16_t index) {
    if (!transport_) return;
    if (index == 0) deliver();
    else if (index == 1) drain_status();
}

void InputDevice::pointer_event(uint32_t x, uint32_t y, uint32_t width, uint32_t height, uint8_t buttons, int wheel) {
    auto scale = [](uint32_t v, uint32_t extent) -> uint32_t {
        if (extent <= 1) return 0;
        if (v >= extent) v = extent - 1;
        return static_cast<uint32_t>(uint64_t{v} * kTabletAbsMax / (extent - 1));
    };
    std::deque<InputEvent> frame;
    frame.push_back({kEvAbs, kAbsX, scale(x, width)});
    frame.push_back({kEvAbs, kAbsY, scale(y, height)});
    std::lock_guard<std::mutex> g(mutex());
    static constexpr struct { uint8_t bit; uint16_t code; } kMap[] = {
        {kButtonLeft, kBtnLeft}, {kButtonMiddle, kBtnMiddle}, {kButtonRight, kBtnRight}};
    for (const auto& m : kMap) {
        bool now = buttons & m.bit, before = last_buttons_ & m.bit;
        if (now != before) frame.push_back({kEvKey, m.code, now ? 1u : 0u});
    }
    last_buttons_ = buttons & (kButtonLeft | kButtonMiddle | kButtonRight);
    if (wheel != 0) frame.push_back({kEvRel, kRelWheel, static_cast<uint32_t>(static_cast<int32_t>(wheel))});
    frame.push_back({kEvSyn, kSynReport, 0});
    enqueue(frame);
    if (transport_) deliver();
}

void InputDevice::enqueue(std::deque<InputEvent>& frame) {
    // Full: drop the oldest pure pointer moves first; clicks and wheel are kept.
    size_t begin = 0;
    while (pending_.size() + frame.size() > kInputQueueLimit && begin < pending_.size()) {
        size_t end = begin;
        while (end < pending_.size() && pending_[end].type != kEvSyn) ++end;
        if (end < pending_.size()) ++end;  // include the SYN
        if (is_move_frame(pending_, begin, end)) {
            dropped_ += end - begin;
            pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(begin),
                           pending_.begin() + static_cast<std::ptrdiff_t>(end));
        } else {
            begin = end;
        }
    }
    bool move = is_move_frame(frame, 0, frame.size());
    // Still full: a new move is dropped; a click still gets in, up to a hard cap.
    if (pending_.size() + frame.size() > (move ? kInputQueueLimit : 4 * kInputQueueLimit)) {
        dropped_ += frame.size();
        return;
    }
    for (auto& e : frame) pending_.push_back(e);
}

void InputDevice::deliver() {
    Queue& q = transport_->queue(0);
    while (!pending_.empty()) {
        auto c = q.pop();
        if (!c) {
            if (q.enable_notification()) continue;
            break;
        }
        const InputEvent& e = pending_.front();
        uint8_t raw[8];
        std::memcpy(raw, &e.type, 2);
        std::memcpy(raw + 2, &e.code, 2);
        std::memcpy(raw + 4, &e.value, 4);
        if (c->writable_len() < sizeof raw) {  // too small for an event: return it unused
            q.add_used(c->head, 0);
            continue;
        }
        c->write(0, raw, sizeof raw);
        q.add_used(c->head, sizeof raw);
        pending_.pop_front();
    }
    transport_->signal_used(0);
}

void InputDevice::drain_status() {
    Queue& q = transport_->queue(1);
    for (;;) {
        while (auto c = q.pop()) q.add_used(c->head, 0);  // LED state etc.: nothing to drive
        if (!q.enable_notification()) break;
    }
    transport_->signal_used(1);
}

size_t InputDevice::pending_events() {
    std::lock_guard<std::mutex> g(mutex());
    return pending_.size();
}

uint64_t InputDevice::dropped_events() {
    std::lock_guard<std::mutex> g(mutex());
    return dropped_;
}

}  // namespace vmm::virtio
