// Split virtqueue (virtio 1.x section 2.7) over vmm::GuestMemory.
//
// Everything in the rings is written by the guest and treated as hostile:
// descriptor indices, lengths, addresses, flags and the avail index are all
// validated before use, chains are bounded, and a driver that moves the avail
// index impossibly far marks the queue broken (the transport then sets
// DEVICE_NEEDS_RESET). Device code sees only DescriptorChain segments whose
// host views were bounds-checked by GuestMemory when the chain was popped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/guest_memory.h"

namespace vmm::virtio {

// Descriptor flags.
constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;
// avail->flags
constexpr uint16_t kAvailNoInterrupt = 1;

// Upper bound on one indirect table (entries), as in common VMMs.
constexpr uint32_t kMaxIndirectEntries = 1024;

struct Segment {
    uint64_t gpa;
    uint32_t len;
    bool writable;                 // device-writable (driver -> device if false)
    std::span<uint8_t> bytes;      // host view of [gpa, gpa+len), checked at pop time
};

// One buffer handed over by the driver: device-readable segments first, then
// device-writable ones (chains that interleave them are rejected as malformed).
struct DescriptorChain {
    uint16_t head = 0;
    std::vector<Segment> segments;  // zero-length descriptors are dropped

    uint64_t readable_len() const;
    uint64_t writable_len() const;
    // Copy from the device-readable bytes starting at `offset`; returns bytes copied.
    size_t read(uint64_t offset, void* dst, size_t len) const;
    // Copy into the device-writable bytes starting at `offset`; returns bytes copied.
    size_t write(uint64_t offset, const void* src, size_t len) const;
};

class Queue {
public:
    explicit Queue(uint16_t max_size = 256);

    uint16_t max_size() const { return max_size_; }

    // Driver-programmed layout; the transport only changes these while the
    // queue is not ready.
    uint16_t size = 0;
    uint64_t desc_addr = 0;
    uint64_t avail_addr = 0;
    uint64_t used_addr = 0;

    // Validates size (power of two, 1..max) and the three ring areas
    // (alignment, entirely inside guest memory). On success the queue is
    // ready and remembers `mem` (which must outlive the queue's use).
    bool enable(const GuestMemory* mem, bool indirect, bool event_idx);
    // QueueReady <- 0: stop using the queue, keep the programmed layout.
    void disable() { ready_ = false; }
    // Back to the power-on state (not ready, layout zeroed).
    void reset();
    bool ready() const { return ready_; }
    bool broken() const { return broken_; }

    // Next available chain, or nullopt when the ring is empty or broken.
    // Malformed chains are returned to the driver (used, len 0) and skipped.
    std::optional<DescriptorChain> pop();
    // Give back the chain just popped (e.g. the backend had nothing to put in it).
    void undo_pop();
    bool has_available();
    // Put a finished chain on the used ring (release ordering on used->idx).
    void add_used(uint16_t head, uint32_t len);
    // After a batch of add_used: does the driver want an interrupt now?
    bool needs_interrupt();
    // Re-arm driver notifications (EVENT_IDX: publish avail_event); returns
    // true if more chains arrived meanwhile so the caller keeps processing.
    bool enable_notification();

    // Counters for tests and metrics.
    uint64_t malformed_chains() const { return malformed_; }

private:
    bool read_avail_idx(uint16_t& out);
    bool parse_chain(uint16_t head, DescriptorChain& out);
    bool add_segment(DescriptorChain& c, uint64_t addr, uint32_t len, bool writable, bool& seen_writable);

    uint16_t max_size_;
    const GuestMemory* mem_ = nullptr;
    bool ready_ = false;
    bool broken_ = false;
    bool indirect_ = false;
    bool event_idx_ = false;
    uint16_t next_avail_ = 0;
    uint16_t next_used_ = 0;
    uint16_t signalled_used_ = 0;
    bool signalled_valid_ = false;  // no interrupt sent yet since enable
    uint64_t malformed_ = 0;
};

}  // namespace vmm::virtio
