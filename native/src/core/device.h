// The two kinds of guest-visible register windows a device can own, and the
// bus that routes KVM's PIO/MMIO exits to them.
//
// Offsets and values come straight from the guest: implementations must
// accept any offset inside their window and any access size 1..8, and must
// never index their own state with an unchecked guest value.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vmm {

class Device {
public:
    virtual ~Device() = default;
    virtual const char* name() const = 0;
    // `offset` is relative to the base the device was registered at;
    // `data` has `size` bytes (1, 2, 4 or 8). Reads fill data completely.
    virtual void read(uint64_t offset, uint8_t* data, uint32_t size) = 0;
    virtual void write(uint64_t offset, const uint8_t* data, uint32_t size) = 0;
};

// A set of non-overlapping [base, base+len) windows. One bus for port I/O,
// one for MMIO. Dispatch takes the device's own lock: devices are called from
// every vCPU thread and from the VMM's I/O thread.
class Bus {
public:
    struct Entry {
        uint64_t base;
        uint64_t len;
        std::shared_ptr<Device> dev;
        std::shared_ptr<std::mutex> lock;
    };

    // Returns false if the window overlaps an existing one.
    bool add(uint64_t base, uint64_t len, std::shared_ptr<Device> dev);

    // Returns false when no device owns the address (reads then see all ones).
    bool read(uint64_t addr, uint8_t* data, uint32_t size);
    bool write(uint64_t addr, const uint8_t* data, uint32_t size);

    const Entry* find(uint64_t addr) const;

private:
    std::vector<Entry> entries_;  // sorted by base
};

}  // namespace vmm
