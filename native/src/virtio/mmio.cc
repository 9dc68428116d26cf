#include "virtio/mmio.h"

#include <cstring>

namespace vmm::virtio {

MmioTransport::MmioTransport(std::shared_ptr<VirtioDevice> dev, GuestMemory mem, IrqLine irq)
    : dev_(std::move(dev)), mem_(std::move(mem)), irq_(std::move(irq)) {
    uint16_t n = dev_->num_queues();
    queues_.reserve(n);
    for (uint16_t i = 0; i < n; ++i) {
        uint32_t max = dev_->queue_max(i);
        // QueueNumMax must be a power of two for split rings; round down.
        if (max == 0) max = 1;
        if (max > 32768) max = 32768;
        while (max & (max - 1)) max &= max - 1;
        queues_.emplace_back(static_cast<uint16_t>(max));
    }
}

MmioTransport::~MmioTransport() {
    // The device may outlive us (others hold it for stats): make sure no
    // backend thread keeps a pointer to this transport.
    std::lock_guard<std::mutex> g(dev_->mutex());
    dev_->reset();
}

const char* MmioTransport::name() const { return dev_->name(); }

uint32_t MmioTransport::status() {
    std::lock_guard<std::mutex> g(dev_->mutex());
    return status_;
}

uint32_t MmioTransport::interrupt_status() {
    std::lock_guard<std::mutex> g(dev_->mutex());
    return interrupt_status_;
}

Queue& MmioTransport::queue(uint16_t index) {
    return index < queues_.size() ? queues_[index] : none_;
}

Queue* MmioTransport::selected() {
    return queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
}

void MmioTransport::read(uint64_t offset, uint8_t* data, uint32_t size) {
    std::lock_guard<std::mutex> g(dev_->mutex());
    if (offset >= reg::kConfig) {
        std::memset(data, 0, size);
        dev_->read_config(offset - reg::kConfig, data, size);
        return;
    }
    // The register block is 32-bit only; other widths/misalignment read 0 (spec 4.2.2.2).
    std::memset(data, 0, size);
    if (size != 4 || offset % 4 != 0) return;
    uint32_t v = read_reg(offset);
    std::memcpy(data, &v, 4);
}

void MmioTransport::write(uint64_t offset, const uint8_t* data, uint32_t size) {
    std::lock_guard<std::mutex> g(dev_->mutex());
    if (offset >= reg::kConfig) {
        dev_->write_config(offset - reg::kConfig, data, size);
        return;
    }
    if (size != 4 || offset % 4 != 0) return;  // ignored, as above
    uint32_t v;
    std::memcpy(&v, data, 4);
    write_reg(offset, v);
}

uint32_t MmioTransport::read_reg(uint64_t offset) {
    Queue* q = selected();
    switch (offset) {
        case reg::kMagic: return kMmioMagic;
        case reg::kVersion: return kMmioVersion;
        case reg::kDeviceId: return dev_->device_id();
        case reg::kVendorId: return kMmioVendorId;
        case reg::kDeviceFeatures: {
            uint64_t f = dev_->features();
            if (device_features_sel_ == 0) return static_cast<uint32_t>(f);
            if (device_features_sel_ == 1) return static_cast<uint32_t>(f >> 32);
            return 0;
        }
        case reg::kQueueNumMax: return q ? q->max_size() : 0;
        case reg::kQueueNum: return q ? q->size : 0;
        case reg::kQueueReady: return q && q->ready() ? 1 : 0;
        case reg::kInterruptStatus: return interrupt_status_;
        case reg::kStatus: return status_;
        case reg::kQueueDescLow: return q ? static_cast<uint32_t>(q->desc_addr) : 0;
        case reg::kQueueDescHigh: return q ? static_cast<uint32_t>(q->desc_addr >> 32) : 0;
        case reg::kQueueDriverLow: return q ? static_cast<uint32_t>(q->avail_addr) : 0;
        case reg::kQueueDriverHigh: return q ? static_cast<uint32_t>(q->avail_addr >> 32) : 0;
        case reg::kQueueDeviceLow: return q ? static_cast<uint32_t>(q->used_addr) : 0;
        case reg::kQueueDeviceHigh: return q ? static_cast<uint32_t>(q->used_addr >> 32) : 0;
        case reg::kConfigGeneration: return config_generation_;
        // No shared memory regions: a length (and base) of all ones means "none".
        case reg::kShmLenLow: case reg::kShmLenHigh: case reg::kShmBaseLow: case reg::kShmBaseHigh:
            return 0xffffffff;
        default: return 0;
    }
}

static void set_low(uint64_t& v, uint32_t x) { v = (v & ~0xffffffffULL) | x; }
static void set_high(uint64_t& v, uint32_t x) { v = (v & 0xffffffffULL) | (static_cast<uint64_t>(x) << 32); }

void MmioTransport::write_reg(uint64_t offset, uint32_t v) {
    Queue* q = selected();
    // Queue layout is only writable while the queue is not live.
    Queue* cfgq = (q && !q->ready()) ? q : nullptr;
    switch (offset) {
        case reg::kDeviceFeaturesSel: device_features_sel_ = v; break;
        case reg::kDriverFeaturesSel: driver_features_sel_ = v; break;
        case reg::kDriverFeatures:
            if ((status_ & kStatusFeaturesOk) || !(status_ & kStatusDriver)) break;
            if (driver_features_sel_ == 0) set_low(driver_features_, v);
            else if (driver_features_sel_ == 1) set_high(driver_features_, v);
            break;
        case reg::kQueueSel: queue_sel_ = v; break;
        case reg::kQueueNum:
            if (cfgq) cfgq->size = v <= 0xffff ? static_cast<uint16_t>(v) : 0;
            break;
        case reg::kQueueReady:
            if (!q) break;
            if (v == 0) {
                q->disable();
            } else if (v == 1 && !q->ready() && (status_ & kStatusFeaturesOk) &&
                       !(status_ & (kStatusFailed | kStatusNeedsReset))) {
                // A bad layout leaves QueueReady at 0, which Linux reads back.
                q->enable(&mem_, driver_features_ & kFeatureIndirectDesc, driver_features_ & kFeatureEventIdx);
            }
            break;
        case reg::kQueueNotify:
            if (activated_ && v < queues_.size() && queues_[v].ready() && !(status_ & kStatusNeedsReset)) {
                dev_->on_queue_notify(static_cast<uint16_t>(v));
                // Catch queues the notify just found broken even if the device
                // did not signal.
                for (auto& qq : queues_) {
                    if (qq.broken()) { set_needs_reset(); break; }
                }
            }
            break;
        case reg::kInterruptAck:
            interrupt_status_ &= ~v;
            update_irq();
            break;
        case reg::kStatus: write_status(v); break;
        case reg::kQueueDescLow: if (cfgq) set_low(cfgq->desc_addr, v); break;
        case reg::kQueueDescHigh: if (cfgq) set_high(cfgq->desc_addr, v); break;
        case reg::kQueueDriverLow: if (cfgq) set_low(cfgq->avail_addr, v); break;
        case reg::kQueueDriverHigh: if (cfgq) set_high(cfgq->avail_addr, v); break;
        case reg::kQueueDeviceLow: if (cfgq) set_low(cfgq->used_addr, v); break;
        case reg::kQueueDeviceHigh: if (cfgq) set_high(cfgq->used_addr, v); break;
        default: break;  // read-only or unknown: ignored
    }
}

void MmioTransport::write_status(uint32_t v) {
    if (v == 0) {
        reset_locked();
        return;
    }
    uint32_t newly = v & ~status_;
    if (newly & kStatusFeaturesOk) {
        uint64_t offered = dev_->features();
        bool ok = ((v | status_) & kStatusDriver) && (driver_features_ & ~offered) == 0 &&
                  (driver_features_ & kFeatureVersion1);
        // Refused: FEATURES_OK stays clear and the driver sees that on readback.
        if (!ok) v &= ~kStatusFeaturesOk;
    }
    if (newly & kStatusDriverOk) {
        bool ok = ((v | status_) & kStatusFeaturesOk) && !(status_ & kStatusNeedsReset) && !activated_;
        if (!ok) v &= ~kStatusDriverOk;
    }
    // Only a reset clears bits; NEEDS_RESET is the device's to set.
    status_ = (status_ | v) & ~(kStatusNeedsReset & ~status_);
    if ((status_ & kStatusDriverOk) && !activated_) {
        activated_ = true;
        dev_->activate(*this);
    }
}

void MmioTransport::reset_locked() {
    if (activated_) dev_->reset();
    activated_ = false;
    for (auto& q : queues_) q.reset();
    status_ = 0;
    device_features_sel_ = driver_features_sel_ = queue_sel_ = 0;
    driver_features_ = 0;
    interrupt_status_ = 0;
    update_irq();
}

void MmioTransport::update_irq() {
    bool level = interrupt_status_ != 0;
    if (level == irq_level_) return;
    irq_level_ = level;
    irq_.set(level);
}

void MmioTransport::signal_used(uint16_t index) {
    if (index >= queues_.size()) return;
    Queue& q = queues_[index];
    if (q.broken()) {
        set_needs_reset();
        return;
    }
    if (q.needs_interrupt()) {
        interrupt_status_ |= kInterruptVring;
        update_irq();
    }
}

void MmioTransport::signal_config() {
    ++config_generation_;
    interrupt_status_ |= kInterruptConfig;
    update_irq();
}

void MmioTransport::set_needs_reset() {
    if (status_ & kStatusNeedsReset) return;
    status_ |= kStatusNeedsReset;
    // Spec 2.1.2: with DRIVER_OK set, tell the driver through a config interrupt.
    if (status_ & kStatusDriverOk) signal_config();
}

}  // namespace vmm::virtio
