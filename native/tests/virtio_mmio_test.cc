// virtio-mmio transport: registers, negotiation, reset, interrupts; fuzzing
// of random register traffic against every device type.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "check.h"
#include "virtio/block.h"
#include "virtio/input.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio_driver.h"

using namespace vmm::virtio;
using vtest::Rig;

TEST(virtio_mmio_identity_registers) {
    Rig<RngDevice> r(std::make_shared<RngDevice>());
    CHECK_EQ(r.drv.r32(reg::kMagic), 0x74726976u);
    CHECK_EQ(r.drv.r32(reg::kVersion), 2u);
    CHECK_EQ(r.drv.r32(reg::kDeviceId), kIdRng);
    // Wrong-size or misaligned accesses to the register block read 0 / are ignored.
    uint8_t b[8];
    std::memset(b, 0xee, 8);
    r.t->read(reg::kMagic, b, 2);
    CHECK_EQ(b[0], 0); CHECK_EQ(b[1], 0);
    r.t->read(reg::kMagic, b, 8);
    CHECK_EQ(b[7], 0);
    r.t->read(reg::kMagic + 1, b, 4);
    CHECK_EQ(b[0], 0);
    uint8_t one = kStatusAcknowledge;
    r.t->write(reg::kStatus, &one, 1);
    CHECK_EQ(r.drv.r32(reg::kStatus), 0u);
    CHECK_EQ(r.drv.r32(0xff0), 0u);  // unknown register
    CHECK_EQ(r.drv.r32(reg::kShmLenLow), 0xffffffffu);  // no shared memory regions
    CHECK_EQ(r.drv.cfg32(0x500), 0u);  // past the device config
}

TEST(virtio_mmio_feature_negotiation) {
    Rig<RngDevice> r(std::make_shared<RngDevice>());
    uint64_t offered = r.drv.device_features();
    CHECK(offered & kFeatureVersion1);
    // Without VERSION_1: refused.
    r.drv.w32(reg::kStatus, 0);
    r.drv.w32(reg::kStatus, kStatusAcknowledge | kStatusDriver);
    CHECK(!r.drv.set_features(0));
    // A feature the device did not offer: refused.
    r.drv.w32(reg::kStatus, 0);
    r.drv.w32(reg::kStatus, kStatusAcknowledge | kStatusDriver);
    CHECK(!r.drv.set_features(kFeatureVersion1 | (1ULL << 40)));
    // Queues cannot go live before FEATURES_OK.
    vtest::DriverQueue dq;
    CHECK(!r.drv.setup_queue(0, 8, 0x10000, dq));
    // A proper subset: accepted, then DRIVER_OK.
    CHECK(r.drv.negotiate(kFeatureVersion1));
    CHECK(r.drv.setup_queue(0, 8, 0x10000, dq));
    r.drv.driver_ok();
    CHECK(r.drv.r32(reg::kStatus) & kStatusDriverOk);
    // Features can no longer change after FEATURES_OK.
    r.drv.w32(reg::kDriverFeaturesSel, 0);
    r.drv.w32(reg::kDriverFeatures, 0xffffffff);
    CHECK_EQ(r.drv.r32(reg::kStatus) & kStatusNeedsReset, 0u);
}

TEST(virtio_mmio_queue_setup_and_reset) {
    Rig<RngDevice> r(std::make_shared<RngDevice>());
    CHECK(r.drv.negotiate(kFeatureVersion1));
    r.drv.w32(reg::kQueueSel, 0);
    CHECK_EQ(r.drv.r32(reg::kQueueNumMax), 256u);
    r.drv.w32(reg::kQueueSel, 5);  // no such queue
    CHECK_EQ(r.drv.r32(reg::kQueueNumMax), 0u);
    r.drv.w32(reg::kQueueReady, 1);
    CHECK_EQ(r.drv.r32(reg::kQueueReady), 0u);
    // Misaligned ring: the queue does not become ready.
    r.drv.w32(reg::kQueueSel, 0);
    r.drv.w32(reg::kQueueNum, 8);
    r.drv.w32(reg::kQueueDescLow, 0x10008);
    r.drv.w32(reg::kQueueDriverLow, 0x11000);
    r.drv.w32(reg::kQueueDeviceLow, 0x12000);
    r.drv.w32(reg::kQueueReady, 1);
    CHECK_EQ(r.drv.r32(reg::kQueueReady), 0u);
    // Ring above guest RAM.
    r.drv.w32(reg::kQueueDescLow, 0x10000);
    r.drv.w32(reg::kQueueDeviceHigh, 1);
    r.drv.w32(reg::kQueueReady, 1);
    CHECK_EQ(r.drv.r32(reg::kQueueReady), 0u);
    r.drv.w32(reg::kQueueDeviceHigh, 0);
    r.drv.w32(reg::kQueueReady, 1);
    CHECK_EQ(r.drv.r32(reg::kQueueReady), 1u);
    // Layout is frozen while ready.
    r.drv.w32(reg::kQueueDescLow, 0x20000);
    CHECK_EQ(r.drv.r32(reg::kQueueDescLow), 0x10000u);
    // Status 0 resets everything.
    r.drv.w32(reg::kStatus, 0);
    CHECK_EQ(r.drv.r32(reg::kStatus), 0u);
    CHECK_EQ(r.drv.r32(reg::kQueueReady), 0u);
    CHECK_EQ(r.drv.r32(reg::kQueueDescLow), 0u);
}

TEST(virtio_mmio_interrupt_and_ack) {
    Rig<RngDevice> r(std::make_shared<RngDevice>());
    CHECK(r.bring_up(kFeatureVersion1, 8));
    r.qs[0].add_chain({{0x100000, 32, true}});
    r.drv.notify(0);
    CHECK_EQ(r.drv.r32(reg::kInterruptStatus), kInterruptVring);
    CHECK(*r.irq.level);
    r.drv.ack_interrupts();
    CHECK_EQ(r.drv.r32(reg::kInterruptStatus), 0u);
    CHECK(!*r.irq.level);
    CHECK_EQ(*r.irq.raises, 1);
}

TEST(virtio_mmio_broken_driver_needs_reset) {
    Rig<RngDevice> r(std::make_shared<RngDevice>());
    CHECK(r.bring_up(kFeatureVersion1, 8));
    r.ram.put<uint16_t>(r.qs[0].avail + 2, 100);  // avail idx far beyond queue size
    r.drv.notify(0);
    CHECK(r.drv.r32(reg::kStatus) & kStatusNeedsReset);
    CHECK(r.drv.r32(reg::kInterruptStatus) & kInterruptConfig);
    // Further notifies are ignored; a reset recovers.
    r.drv.notify(0);
    CHECK(r.bring_up(kFeatureVersion1, 8));
    CHECK_EQ(r.drv.r32(reg::kStatus) & kStatusNeedsReset, 0u);
    r.qs[0].add_chain({{0x100000, 32, true}});
    r.drv.notify(0);
    CHECK(r.qs[0].get_used().has_value());
}

// (b) Random register traffic (offsets, sizes, values, notifies) on every
// device type with random guest RAM contents.
FUZZ_TARGET(virtio_mmio_fuzz) {
    if (size < 4) return;
    constexpr size_t kRam = 256 * 1024;
    static vtest::FakeRam ram{kRam};
    for (size_t i = 0; i < kRam; i += 64) ram.base[i] = data[i % size];  // sparse noise
    std::shared_ptr<VirtioDevice> dev;
    static char path[] = "/tmp/virtio_mmio_fuzz_XXXXXX";
    static int img = -1;
    if (img < 0) {
        img = mkstemp(path);
        if (img >= 0) { unlink(path); (void)!ftruncate(img, 64 * 1024); }
    }
    switch (data[0] % 4) {
        case 0: dev = std::make_shared<RngDevice>(); break;
        case 1: dev = std::make_shared<InputDevice>(); break;
        case 2: dev = std::make_shared<BlockDevice>(dup(img), data[1] & 1, "fuzz"); break;
        default: {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) return;
            // Something to receive, so the RX path runs too.
            uint8_t frame[60] = {};
            (void)!write(sv[1], frame, sizeof frame);
            dev = std::make_shared<NetDevice>(sv[0], NetDevice::random_mac());
            close(sv[1]);
        }
    }
    auto t = std::make_shared<MmioTransport>(dev, ram.mem, vmm::IrqLine());
    // Mostly a sane bring-up first, so random traffic reaches the queues.
    vtest::Driver drv(ram, *t);
    if (data[1] & 2) {
        drv.negotiate(~0ULL);
        for (uint16_t q = 0; q < dev->num_queues(); ++q) {
            vtest::DriverQueue dq;
            if (!drv.setup_queue(q, 1 << (data[2] % 6), 0x1000 + 0x4000ULL * q, dq)) continue;
            // A few fuzz-shaped chains, so notifies reach the device code.
            for (uint16_t k = 0; k < 4 && k < dq.size; ++k) {
                const uint8_t* b = data + (7 * (k + 4 * q)) % size;
                auto at = [&](int j) { return b[j % 7]; };
                uint64_t addr = 0x20000 + (at(0) | at(1) << 8) * 2;
                uint16_t flags = at(4) & 7;
                if (!(data[1] & 4)) flags &= ~kDescIndirect;
                dq.write_desc(k, addr, (at(2) | at(3) << 8) % 4096, flags, static_cast<uint16_t>(at(5) % dq.size));
                dq.publish(static_cast<uint16_t>(at(6) % dq.size));
            }
        }
        drv.driver_ok();
    }
    static const uint64_t kRegs[] = {0x000, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038, 0x044,
                                     0x050, 0x060, 0x064, 0x070, 0x080, 0x084, 0x090, 0x094, 0x0a0,
                                     0x0a4, 0x0fc, 0x100, 0x104, 0x108};
    for (size_t i = 3; i + 6 <= size; i += 6) {
        const uint8_t* op = data + i;
        uint64_t off = (op[0] & 0x80) ? (op[0] | (op[1] << 8)) % 0x1000 : kRegs[op[0] % (sizeof kRegs / 8)];
        uint32_t sz = 1u << (op[1] % 4);
        uint8_t buf[8];
        std::memcpy(buf, op + 2, 4);
        std::memcpy(buf + 4, op + 2, 4);
        auto* input = dynamic_cast<InputDevice*>(dev.get());
        if (input && (op[1] & 0x08)) {
            input->pointer_event(op[2] * 8, op[3] * 4, op[4] * 8, op[5] * 4, op[2] & 7, static_cast<int8_t>(op[3]) / 64);
        } else if (op[1] & 0x10) {
            uint32_t q = op[2] % 4;
            std::memcpy(buf, &q, 4);
            t->write(reg::kQueueNotify, buf, (op[1] & 0x20) ? 1 : 4);  // sometimes a wrong-size notify
        } else if (op[1] & 0x40) {
            t->read(off, buf, sz);
        } else {
            t->write(off, buf, sz);
        }
        // Occasionally scribble over guest RAM (the rings) between accesses.
        if (op[5] == 0x80) std::memcpy(ram.base + (op[2] | op[3] << 8) * 4 % (kRam - 4), op + 2, 4);
    }
    if (auto* n = dynamic_cast<NetDevice*>(dev.get())) n->stop();
}
