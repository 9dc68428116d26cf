// virtio-rng (entropy device, virtio 1.x section 5.4): fills every
// device-writable buffer the driver posts with getrandom() bytes.
#pragma once

#include <atomic>
#include <cstdint>

#include "virtio/virtio.h"

namespace vmm::virtio {

class RngDevice : public VirtioDevice {
public:
    RngDevice() = default;

    uint32_t device_id() const override { return kIdRng; }
    const char* name() const override { return "virtio-rng"; }
    uint64_t features() const override;
    uint16_t num_queues() const override { return 1; }
    void read_config(uint64_t offset, uint8_t* data, uint32_t size) override;
    void activate(Transport& t) override;
    void reset() override;
    void on_queue_notify(uint16_t index) override;

    uint64_t bytes_served() const { return bytes_.load(std::memory_order_relaxed); }

private:
    Transport* transport_ = nullptr;
    std::atomic<uint64_t> bytes_{0};
};

}  // namespace vmm::virtio
