// virtio-mmio transport, version 2 ("modern") register layout (virtio 1.x
// section 4.2.2). One instance per virtio device; register it on the MMIO bus
// at platform::kVirtioMmioBase + i * kVirtioMmioStride with length
// kVirtioMmioStride and an IrqLine for GSI kVirtioGsiBase + i
// (level-triggered: level = InterruptStatus != 0).
//
//   auto blk = vmm::virtio::BlockDevice::open(path, read_only, serial, &err);
//   auto t = std::make_shared<vmm::virtio::MmioTransport>(blk, mem, irq);
//   mmio_bus.add(base, platform::kVirtioMmioStride, t);
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/device.h"
#include "core/guest_memory.h"
#include "core/irq.h"
#include "virtio/queue.h"
#include "virtio/virtio.h"

namespace vmm::virtio {

// Register offsets.
namespace reg {
constexpr uint64_t kMagic = 0x000;
constexpr uint64_t kVersion = 0x004;
constexpr uint64_t kDeviceId = 0x008;
constexpr uint64_t kVendorId = 0x00c;
constexpr uint64_t kDeviceFeatures = 0x010;
constexpr uint64_t kDeviceFeaturesSel = 0x014;
constexpr uint64_t kDriverFeatures = 0x020;
constexpr uint64_t kDriverFeaturesSel = 0x024;
constexpr uint64_t kQueueSel = 0x030;
constexpr uint64_t kQueueNumMax = 0x034;
constexpr uint64_t kQueueNum = 0x038;
constexpr uint64_t kQueueReady = 0x044;
constexpr uint64_t kQueueNotify = 0x050;
constexpr uint64_t kInterruptStatus = 0x060;
constexpr uint64_t kInterruptAck = 0x064;
constexpr uint64_t kStatus = 0x070;
constexpr uint64_t kQueueDescLow = 0x080;
constexpr uint64_t kQueueDescHigh = 0x084;
constexpr uint64_t kQueueDriverLow = 0x090;
constexpr uint64_t kQueueDriverHigh = 0x094;
constexpr uint64_t kQueueDeviceLow = 0x0a0;
constexpr uint64_t kQueueDeviceHigh = 0x0a4;
constexpr uint64_t kShmSel = 0x0ac;
constexpr uint64_t kShmLenLow = 0x0b0;
constexpr uint64_t kShmLenHigh = 0x0b4;
constexpr uint64_t kShmBaseLow = 0x0b8;
constexpr uint64_t kShmBaseHigh = 0x0bc;
constexpr uint64_t kConfigGeneration = 0x0fc;
constexpr uint64_t kConfig = 0x100;
}  // namespace reg

constexpr uint32_t kMmioMagic = 0x74726976;  // "virt"
constexpr uint32_t kMmioVersion = 2;
constexpr uint32_t kMmioVendorId = 0;  // Linux only reports it

class MmioTransport : public vmm::Device, private Transport {
public:
    // `mem` is copied (a list of regions; the host mappings must outlive the
    // transport). The transport keeps `dev` alive.
    MmioTransport(std::shared_ptr<VirtioDevice> dev, GuestMemory mem, IrqLine irq);
    ~MmioTransport() override;

    const char* name() const override;
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

    VirtioDevice& device() { return *dev_; }
    // Snapshot for tests / diagnostics (takes the device mutex).
    uint32_t status();
    uint32_t interrupt_status();

private:
    // Transport (called with the device mutex held).
    const GuestMemory& mem() const override { return mem_; }
    Queue& queue(uint16_t index) override;
    uint64_t acked_features() const override { return driver_features_; }
    void signal_used(uint16_t index) override;
    void signal_config() override;
    void set_needs_reset() override;

    uint32_t read_reg(uint64_t offset);
    void write_reg(uint64_t offset, uint32_t value);
    void write_status(uint32_t value);
    void reset_locked();
    void update_irq();
    Queue* selected();

    std::shared_ptr<VirtioDevice> dev_;
    GuestMemory mem_;
    IrqLine irq_;
    std::vector<Queue> queues_;
    Queue none_{1};  // handed out for out-of-range indices: never ready

    uint32_t status_ = 0;
    uint32_t device_features_sel_ = 0;
    uint32_t driver_features_sel_ = 0;
    uint64_t driver_features_ = 0;
    uint32_t queue_sel_ = 0;
    uint32_t interrupt_status_ = 0;
    uint32_t config_generation_ = 0;
    bool activated_ = false;
    bool irq_level_ = false;
};

}  // namespace vmm::virtio
