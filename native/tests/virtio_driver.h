// Test-only virtio driver: fake guest RAM plus a driver that programs the
// MMIO transport the way Linux's virtio_mmio (version 2) does, and builds
// split rings by hand. Shared by tests/virtio_*.cc.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/guest_memory.h"
#include "core/irq.h"
#include "virtio/mmio.h"
#include "virtio/queue.h"
#include "virtio/virtio.h"

namespace vtest {

using namespace vmm::virtio;

// Guest RAM at gpa 0 of `size` bytes, 4 KiB aligned.
struct FakeRam {
    explicit FakeRam(size_t size = 4 << 20) : buf(size + 4096) {
        uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
        base = reinterpret_cast<uint8_t*>((p + 4095) & ~uintptr_t{4095});
        mem = vmm::GuestMemory({vmm::MemoryRegion{0, size, base}});
        this->size = size;
    }
    uint8_t* at(uint64_t gpa) { return base + gpa; }
    template <typename T> T get(uint64_t gpa) { T v; std::memcpy(&v, at(gpa), sizeof v); return v; }
    template <typename T> void put(uint64_t gpa, T v) { std::memcpy(at(gpa), &v, sizeof v); }

    std::vector<uint8_t> buf;
    uint8_t* base;
    size_t size;
    vmm::GuestMemory mem;
};

struct IrqRecorder {
    std::shared_ptr<bool> level = std::make_shared<bool>(false);
    std::shared_ptr<int> raises = std::make_shared<int>(0);
    vmm::IrqLine line(uint32_t gsi = 16) {
        auto l = level;
        auto r = raises;
        return vmm::IrqLine(gsi, [l, r](uint32_t, bool v) { if (v && !*l) ++*r; *l = v; });
    }
};

// Driver side of one split ring living in FakeRam.
struct DriverQueue {
    FakeRam* ram = nullptr;
    uint16_t size = 0;
    uint64_t desc = 0, avail = 0, used = 0;
    uint16_t avail_idx = 0, last_used = 0, next_desc = 0;

    struct Buf { uint64_t gpa; uint32_t len; bool writable; };

    void write_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        uint64_t d = desc + 16ULL * i;
        ram->put<uint64_t>(d, addr);
        ram->put<uint32_t>(d + 8, len);
        ram->put<uint16_t>(d + 12, flags);
        ram->put<uint16_t>(d + 14, next);
    }
    // Descriptors are allocated round-robin; tests never have more in flight than `size`.
    uint16_t add_chain(const std::vector<Buf>& bufs) {
        uint16_t head = next_desc % size;
        for (size_t k = 0; k < bufs.size(); ++k) {
            uint16_t i = (next_desc + k) % size;
            uint16_t nxt = (next_desc + k + 1) % size;
            uint16_t flags = (bufs[k].writable ? kDescWrite : 0) | (k + 1 < bufs.size() ? kDescNext : 0);
            write_desc(i, bufs[k].gpa, bufs[k].len, flags, nxt);
        }
        next_desc = static_cast<uint16_t>(next_desc + bufs.size());
        publish(head);
        return head;
    }
    // Indirect: table at `table` gpa, one descriptor in the ring pointing at it.
    uint16_t add_indirect(uint64_t table, const std::vector<Buf>& bufs) {
        for (size_t k = 0; k < bufs.size(); ++k) {
            uint64_t d = table + 16 * k;
            ram->put<uint64_t>(d, bufs[k].gpa);
            ram->put<uint32_t>(d + 8, bufs[k].len);
            ram->put<uint16_t>(d + 12, (bufs[k].writable ? kDescWrite : 0) | (k + 1 < bufs.size() ? kDescNext : 0));
            ram->put<uint16_t>(d + 14, static_cast<uint16_t>(k + 1));
        }
        uint16_t head = next_desc % size;
        write_desc(head, table, static_cast<uint32_t>(16 * bufs.size()), kDescIndirect, 0);
        ++next_desc;
        publish(head);
        return head;
    }
    void publish(uint16_t head) {
        ram->put<uint16_t>(avail + 4 + 2 * (avail_idx % size), head);
        ++avail_idx;
        ram->put<uint16_t>(avail + 2, avail_idx);
    }
    std::optional<std::pair<uint32_t, uint32_t>> get_used() {
        uint16_t idx = ram->get<uint16_t>(used + 2);
        if (idx == last_used) return std::nullopt;
        uint64_t e = used + 4 + 8ULL * (last_used % size);
        ++last_used;
        return std::make_pair(ram->get<uint32_t>(e), ram->get<uint32_t>(e + 4));
    }
    uint16_t used_idx() { return ram->get<uint16_t>(used + 2); }
};

class Driver {
public:
    Driver(FakeRam& ram, MmioTransport& t) : ram_(ram), t_(t) {}

    uint32_t r32(uint64_t off) {
        uint8_t b[4];
        t_.read(off, b, 4);
        uint32_t v;
        std::memcpy(&v, b, 4);
        return v;
    }
    void w32(uint64_t off, uint32_t v) {
        uint8_t b[4];
        std::memcpy(b, &v, 4);
        t_.write(off, b, 4);
    }
    uint64_t device_features() {
        w32(reg::kDeviceFeaturesSel, 1);
        uint64_t hi = r32(reg::kDeviceFeatures);
        w32(reg::kDeviceFeaturesSel, 0);
        return (hi << 32) | r32(reg::kDeviceFeatures);
    }
    // Reset, ACK, DRIVER, negotiate `wanted & offered`, FEATURES_OK and its readback.
    bool negotiate(uint64_t wanted) {
        w32(reg::kStatus, 0);
        w32(reg::kStatus, kStatusAcknowledge);
        w32(reg::kStatus, kStatusAcknowledge | kStatusDriver);
        uint64_t f = device_features() & wanted;
        return set_features(f);
    }
    bool set_features(uint64_t f) {
        w32(reg::kDriverFeaturesSel, 1);
        w32(reg::kDriverFeatures, static_cast<uint32_t>(f >> 32));
        w32(reg::kDriverFeaturesSel, 0);
        w32(reg::kDriverFeatures, static_cast<uint32_t>(f));
        w32(reg::kStatus, r32(reg::kStatus) | kStatusFeaturesOk);
        return r32(reg::kStatus) & kStatusFeaturesOk;
    }
    // Rings for queue `index` at `base` (desc, then avail at +16*size, used at the next 4 KiB).
    bool setup_queue(uint16_t index, uint16_t size, uint64_t base, DriverQueue& q) {
        w32(reg::kQueueSel, index);
        if (r32(reg::kQueueReady) != 0) return false;
        uint32_t max = r32(reg::kQueueNumMax);
        if (max == 0) return false;
        if (size > max) size = static_cast<uint16_t>(max);
        // A fresh ring, as a driver re-creates its vring after a reset: indices
        // carried over from before would claim more buffers than the ring holds.
        q = DriverQueue{};
        q.ram = &ram_;
        q.size = size;
        q.desc = base;
        q.avail = base + 16ULL * size;
        q.used = (q.avail + 6 + 2ULL * size + 4095) & ~4095ULL;
        std::memset(ram_.at(base), 0, q.used + 6 + 8ULL * size - base);
        w32(reg::kQueueNum, size);
        w32(reg::kQueueDescLow, static_cast<uint32_t>(q.desc));
        w32(reg::kQueueDescHigh, static_cast<uint32_t>(q.desc >> 32));
        w32(reg::kQueueDriverLow, static_cast<uint32_t>(q.avail));
        w32(reg::kQueueDriverHigh, static_cast<uint32_t>(q.avail >> 32));
        w32(reg::kQueueDeviceLow, static_cast<uint32_t>(q.used));
        w32(reg::kQueueDeviceHigh, static_cast<uint32_t>(q.used >> 32));
        w32(reg::kQueueReady, 1);
        return r32(reg::kQueueReady) == 1;
    }
    void driver_ok() { w32(reg::kStatus, r32(reg::kStatus) | kStatusDriverOk); }
    void notify(uint16_t q) { w32(reg::kQueueNotify, q); }
    void ack_interrupts() { w32(reg::kInterruptAck, r32(reg::kInterruptStatus)); }

    uint8_t cfg8(uint64_t off) { uint8_t b = 0; t_.read(reg::kConfig + off, &b, 1); return b; }
    uint32_t cfg32(uint64_t off) { uint8_t b[4]; t_.read(reg::kConfig + off, b, 4); uint32_t v; std::memcpy(&v, b, 4); return v; }
    void wcfg8(uint64_t off, uint8_t v) { t_.write(reg::kConfig + off, &v, 1); }

private:
    FakeRam& ram_;
    MmioTransport& t_;
};

// Everything a device test needs: RAM, IRQ recorder, transport, driver.
template <typename Dev>
struct Rig {
    explicit Rig(std::shared_ptr<Dev> d) : dev(std::move(d)),
        t(std::make_shared<MmioTransport>(dev, ram.mem, irq.line())), drv(ram, *t) {}
    // Full Linux-style bring-up with every queue at `qsize`, rings from 0x10000 up.
    bool bring_up(uint64_t wanted, uint16_t qsize = 16) {
        if (!drv.negotiate(wanted)) return false;
        qs.resize(dev->num_queues());
        for (uint16_t i = 0; i < dev->num_queues(); ++i)
            if (!drv.setup_queue(i, qsize, 0x10000 + 0x10000ULL * i, qs[i])) return false;
        drv.driver_ok();
        return (drv.r32(reg::kStatus) & kStatusDriverOk) != 0;
    }
    FakeRam ram;
    IrqRecorder irq;
    std::shared_ptr<Dev> dev;
    std::shared_ptr<MmioTransport> t;
    Driver drv;
    std::vector<DriverQueue> qs;
};

}  // namespace vtest
