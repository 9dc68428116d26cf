// Virtio 1.x constants and the interface between the MMIO transport and the
// device models (block, net, rng, input).
//
// Threading: every device owns one mutex (VirtioDevice::mutex()). The
// transport takes it for every register access and queue notification;
// backend threads (net RX, the runner delivering tablet events) take it
// before touching queues. All VirtioDevice virtual methods and all Transport
// methods are called with that mutex held.
#pragma once

#include <cstdint>
#include <mutex>

#include "core/guest_memory.h"

namespace vmm::virtio {

// Device IDs (virtio 1.x, section 5).
constexpr uint32_t kIdNet = 1;
constexpr uint32_t kIdBlock = 2;
constexpr uint32_t kIdRng = 4;
constexpr uint32_t kIdInput = 18;

// Device status bits.
constexpr uint32_t kStatusAcknowledge = 1;
constexpr uint32_t kStatusDriver = 2;
constexpr uint32_t kStatusDriverOk = 4;
constexpr uint32_t kStatusFeaturesOk = 8;
constexpr uint32_t kStatusNeedsReset = 0x40;
constexpr uint32_t kStatusFailed = 0x80;

// Transport/ring feature bits (bit numbers).
constexpr uint64_t kFeatureIndirectDesc = 1ULL << 28;
constexpr uint64_t kFeatureEventIdx = 1ULL << 29;
constexpr uint64_t kFeatureVersion1 = 1ULL << 32;

// InterruptStatus bits.
constexpr uint32_t kInterruptVring = 1;
constexpr uint32_t kInterruptConfig = 2;

class Queue;

// What a device may ask of its transport. Only valid between activate() and
// reset(), and only with the device mutex held.
class Transport {
public:
    virtual ~Transport() = default;
    virtual const GuestMemory& mem() const = 0;
    virtual Queue& queue(uint16_t index) = 0;
    virtual uint64_t acked_features() const = 0;
    // Raise the used-buffer interrupt for queue `index` if the ring's
    // suppression state (flags / EVENT_IDX) asks for one.
    virtual void signal_used(uint16_t index) = 0;
    // Device configuration changed: bumps ConfigGeneration, raises the config interrupt.
    virtual void signal_config() = 0;
    // The driver broke the protocol: set DEVICE_NEEDS_RESET and tell it.
    virtual void set_needs_reset() = 0;
};

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    virtual uint32_t device_id() const = 0;
    virtual const char* name() const = 0;
    // Offered feature bits (VERSION_1 must be among them).
    virtual uint64_t features() const = 0;
    virtual uint16_t num_queues() const = 0;
    virtual uint16_t queue_max(uint16_t index) const { (void)index; return 256; }
    // Device-specific configuration space (offset relative to 0x100). Must
    // accept any offset/size; reads past the end return zeros.
    virtual void read_config(uint64_t offset, uint8_t* data, uint32_t size) = 0;
    virtual void write_config(uint64_t offset, const uint8_t* data, uint32_t size) {
        (void)offset; (void)data; (void)size;
    }
    // DRIVER_OK: queues that the driver made ready are usable through `t`
    // until reset(). `t` outlives the device's use of it.
    virtual void activate(Transport& t) = 0;
    // Status 0 written (or transport destroyed): forget the transport and
    // every queue position. Must not block for long.
    virtual void reset() = 0;
    // The driver wrote QueueNotify (only delivered while activated).
    virtual void on_queue_notify(uint16_t index) = 0;

    std::mutex& mutex() { return mu_; }

private:
    std::mutex mu_;
};

}  // namespace vmm::virtio
