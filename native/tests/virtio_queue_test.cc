// Split virtqueue parsing against hostile rings.
#include <cstring>
#include <random>

#include "check.h"
#include "virtio/queue.h"
#include "virtio_driver.h"

using namespace vmm::virtio;
using vtest::DriverQueue;
using vtest::FakeRam;

namespace {

// A ready Queue plus a driver-side view of the same rings.
struct QRig {
    explicit QRig(uint16_t size = 8, bool indirect = true, bool event_idx = false) : q(256) {
        dq.ram = &ram;
        dq.size = size;
        dq.desc = 0x1000;
        dq.avail = 0x2000;
        dq.used = 0x3000;
        q.size = size;
        q.desc_addr = dq.desc;
        q.avail_addr = dq.avail;
        q.used_addr = dq.used;
        ok = q.enable(&ram.mem, indirect, event_idx);
    }
    FakeRam ram{1 << 20};
    DriverQueue dq;
    Queue q;
    bool ok;
};

}  // namespace

TEST(virtio_queue_basic_chain) {
    QRig r;
    CHECK(r.ok);
    CHECK(!r.q.pop());
    uint16_t head = r.dq.add_chain({{0x10000, 16, false}, {0x11000, 512, true}, {0x12000, 1, true}});
    auto c = r.q.pop();
    CHECK(c.has_value());
    if (!c) return;
    CHECK_EQ(c->head, head);
    CHECK_EQ(c->segments.size(), 3u);
    CHECK_EQ(c->readable_len(), 16u);
    CHECK_EQ(c->writable_len(), 513u);
    std::memcpy(r.ram.at(0x10000), "0123456789abcdef", 16);
    char buf[8] = {};
    CHECK_EQ(c->read(4, buf, 4), 4u);
    CHECK(std::memcmp(buf, "4567", 4) == 0);
    // Writes span segment boundaries.
    uint8_t data[4] = {1, 2, 3, 4};
    CHECK_EQ(c->write(510, data, 4), 3u);
    CHECK_EQ(r.ram.at(0x11000)[511], 2);
    CHECK_EQ(r.ram.at(0x12000)[0], 3);
    r.q.add_used(c->head, 100);
    auto u = r.dq.get_used();
    CHECK(u.has_value());
    if (u) { CHECK_EQ(u->first, head); CHECK_EQ(u->second, 100u); }
    CHECK(r.q.needs_interrupt());
    CHECK(!r.q.needs_interrupt());  // nothing new since
    CHECK(!r.q.pop());
}

TEST(virtio_queue_enable_validation) {
    FakeRam ram{1 << 20};
    Queue q(256);
    auto try_enable = [&](uint16_t size, uint64_t d, uint64_t a, uint64_t u) {
        q.reset();
        q.size = size; q.desc_addr = d; q.avail_addr = a; q.used_addr = u;
        return q.enable(&ram.mem, false, false);
    };
    CHECK(try_enable(256, 0x1000, 0x2000, 0x3000));
    CHECK(!try_enable(0, 0x1000, 0x2000, 0x3000));
    CHECK(!try_enable(12, 0x1000, 0x2000, 0x3000));     // not a power of two
    CHECK(!try_enable(512, 0x1000, 0x2000, 0x3000));    // above max
    CHECK(!try_enable(8, 0x1008, 0x2000, 0x3000));      // desc not 16-aligned
    CHECK(!try_enable(8, 0x1000, 0x2001, 0x3000));      // avail not 2-aligned
    CHECK(!try_enable(8, 0x1000, 0x2000, 0x3002));      // used not 4-aligned
    CHECK(!try_enable(8, (1 << 20) - 64, 0x2000, 0x3000));  // desc table runs off RAM
    CHECK(!try_enable(8, 0x1000, 0x2000, (1 << 20) - 8));
    CHECK(!try_enable(8, 0x1000, 0xfffffffffffffff0ULL, 0x3000));  // wraps
    CHECK(!q.ready());
}

TEST(virtio_queue_loop_is_malformed) {
    QRig r;
    // 0 -> 1 -> 0 -> ...
    r.dq.write_desc(0, 0x10000, 16, kDescNext, 1);
    r.dq.write_desc(1, 0x10000, 16, kDescNext, 0);
    r.dq.publish(0);
    CHECK(!r.q.pop());
    CHECK_EQ(r.q.malformed_chains(), 1u);
    auto u = r.dq.get_used();  // handed back with len 0
    CHECK(u.has_value());
    if (u) CHECK_EQ(u->second, 0u);
    CHECK(!r.q.broken());
    // The queue keeps working afterwards.
    r.dq.next_desc = 2;
    r.dq.add_chain({{0x10000, 8, false}});
    CHECK(r.q.pop().has_value());
}

TEST(virtio_queue_bad_descriptors) {
    QRig r;
    r.dq.add_chain({{(1 << 20) - 4, 16, false}});          // runs off RAM
    r.dq.add_chain({{0xffffffffffffff00ULL, 0x200, true}});  // wraps
    r.dq.write_desc(5, 0x10000, 4, kDescNext, 200);         // next out of range
    r.dq.publish(5);
    r.dq.next_desc = 6;
    r.dq.add_chain({{0x11000, 4, true}, {0x12000, 4, false}});  // readable after writable
    CHECK(!r.q.pop());
    CHECK_EQ(r.q.malformed_chains(), 4u);
    int used = 0;
    while (r.dq.get_used()) ++used;
    CHECK_EQ(used, 4);
}

TEST(virtio_queue_indirect) {
    QRig r;
    r.dq.add_indirect(0x20000, {{0x10000, 16, false}, {0x11000, 64, true}});
    auto c = r.q.pop();
    CHECK(c.has_value());
    if (c) { CHECK_EQ(c->readable_len(), 16u); CHECK_EQ(c->writable_len(), 64u); }

    // Nested indirect.
    r.ram.put<uint64_t>(0x21000, 0x20000);
    r.ram.put<uint32_t>(0x21008, 32);
    r.ram.put<uint16_t>(0x2100c, kDescIndirect);
    r.dq.write_desc(r.dq.next_desc % 8, 0x21000, 16, kDescIndirect, 0);
    r.dq.publish(r.dq.next_desc++ % 8);
    // Length not a multiple of 16.
    r.dq.write_desc(r.dq.next_desc % 8, 0x20000, 20, kDescIndirect, 0);
    r.dq.publish(r.dq.next_desc++ % 8);
    // INDIRECT together with NEXT.
    r.dq.write_desc(r.dq.next_desc % 8, 0x20000, 32, kDescIndirect | kDescNext, 0);
    r.dq.publish(r.dq.next_desc++ % 8);
    // Table outside RAM.
    r.dq.write_desc(r.dq.next_desc % 8, (1 << 20) - 16, 32, kDescIndirect, 0);
    r.dq.publish(r.dq.next_desc++ % 8);
    // Loop inside the table: entry 1 points back at 0.
    r.ram.put<uint64_t>(0x22000, 0x10000); r.ram.put<uint32_t>(0x22008, 4);
    r.ram.put<uint16_t>(0x2200c, kDescNext); r.ram.put<uint16_t>(0x2200e, 1);
    r.ram.put<uint64_t>(0x22010, 0x10000); r.ram.put<uint32_t>(0x22018, 4);
    r.ram.put<uint16_t>(0x2201c, kDescNext); r.ram.put<uint16_t>(0x2201e, 0);
    r.dq.write_desc(r.dq.next_desc % 8, 0x22000, 32, kDescIndirect, 0);
    r.dq.publish(r.dq.next_desc++ % 8);
    CHECK(!r.q.pop());
    CHECK_EQ(r.q.malformed_chains(), 5u);

    // Without the feature, indirect descriptors are malformed.
    QRig n(8, false);
    n.dq.add_indirect(0x20000, {{0x10000, 16, false}});
    CHECK(!n.q.pop());
    CHECK_EQ(n.q.malformed_chains(), 1u);
}

TEST(virtio_queue_avail_jump_breaks) {
    QRig r;
    r.ram.put<uint16_t>(r.dq.avail + 2, 9);  // 9 > size 8
    CHECK(!r.q.pop());
    CHECK(r.q.broken());
    CHECK(!r.q.has_available());
    CHECK(!r.q.enable_notification());
}

TEST(virtio_queue_head_out_of_range_breaks) {
    QRig r;
    r.ram.put<uint16_t>(r.dq.avail + 4, 100);
    r.ram.put<uint16_t>(r.dq.avail + 2, 1);
    CHECK(!r.q.pop());
    CHECK(r.q.broken());
}

TEST(virtio_queue_no_interrupt_flag) {
    QRig r;
    r.ram.put<uint16_t>(r.dq.avail, kAvailNoInterrupt);
    r.dq.add_chain({{0x10000, 8, true}});
    auto c = r.q.pop();
    CHECK(c.has_value());
    r.q.add_used(c->head, 0);
    CHECK(!r.q.needs_interrupt());
}

TEST(virtio_queue_event_idx) {
    QRig r(8, true, true);
    // used_event = 1: the driver wants an interrupt once used idx passes 1 (i.e. reaches 2).
    r.ram.put<uint16_t>(r.dq.avail + 4 + 2 * 8, 1);
    for (int i = 0; i < 3; ++i) r.dq.add_chain({{0x10000, 8, true}});
    auto c = r.q.pop();
    r.q.add_used(c->head, 0);
    CHECK(r.q.needs_interrupt());  // first one always
    c = r.q.pop();
    r.q.add_used(c->head, 0);     // used idx 2: crossed used_event 1
    CHECK(r.q.needs_interrupt());
    c = r.q.pop();
    r.q.add_used(c->head, 0);     // used idx 3: used_event still 1, already signalled
    CHECK(!r.q.needs_interrupt());
    // Re-arming publishes avail_event = next avail position.
    CHECK(!r.q.enable_notification());
    CHECK_EQ(r.ram.get<uint16_t>(r.dq.used + 4 + 8 * 8), 3);
    r.dq.add_chain({{0x10000, 8, true}});
    CHECK(r.q.enable_notification());
}

TEST(virtio_queue_wraparound) {
    QRig r(4);
    // Run the 16-bit indices across 65535 -> 0.
    for (int i = 0; i < 70000; ++i) {
        r.dq.add_chain({{0x10000, 8, true}});
        auto c = r.q.pop();
        if (!c) { CHECK(false); return; }
        r.q.add_used(c->head, 8);
        if (!r.dq.get_used()) { CHECK(false); return; }
    }
    CHECK(!r.q.broken());
}

// (a) Random guest RAM contents, random layout and avail idx: pop everything.
FUZZ_TARGET(virtio_queue_fuzz) {
    if (size < 16) return;
    constexpr size_t kRam = 16 * 1024;
    static FakeRam ram{kRam};
    std::memset(ram.base, 0, kRam);
    // First bytes choose layout; the rest is RAM contents, repeated to fill.
    uint16_t qsize = static_cast<uint16_t>(1u << (data[0] % 10));
    if (data[1] & 1) qsize = static_cast<uint16_t>(data[1] | (data[2] << 8));  // maybe not a power of two
    auto addr = [&](int i) { return (uint64_t{data[3 + i * 2]} | uint64_t{data[4 + i * 2]} << 8) * 16 % (kRam + 4096); };
    bool indirect = data[9] & 1, event_idx = data[9] & 2;
    for (size_t i = 0; i < kRam; ++i) ram.base[i] = data[10 + i % (size - 10)];
    Queue q(256);
    q.size = qsize;
    q.desc_addr = addr(0);
    q.avail_addr = addr(1) | (data[9] & 4 ? 1 : 0);
    q.used_addr = addr(2);
    if (!q.enable(&ram.mem, indirect, event_idx)) return;
    // Often keep indices plausible so parsing goes deep instead of stopping at
    // the first range check.
    if (data[9] & 8) {
        ram.put<uint16_t>(q.avail_addr + 2, static_cast<uint16_t>(data[8] % (qsize + 2)));
        for (uint32_t i = 0; i < qsize; ++i) {
            uint64_t e = q.avail_addr + 4 + 2 * i;
            ram.put<uint16_t>(e, static_cast<uint16_t>(ram.get<uint16_t>(e) % qsize));
        }
    }
    if (data[9] & 16) {
        for (uint32_t i = 0; i < qsize; ++i) {
            uint64_t d = q.desc_addr + 16 * i;
            if (data[9] & 32) ram.put<uint64_t>(d, ram.get<uint64_t>(d) % kRam);
            ram.put<uint32_t>(d + 8, ram.get<uint32_t>(d + 8) % 8192);
            ram.put<uint16_t>(d + 14, static_cast<uint16_t>(ram.get<uint16_t>(d + 14) % qsize));
        }
    }
    for (int i = 0; i < 1024; ++i) {
        auto c = q.pop();
        if (!c) break;
        for (const auto& s : c->segments) {
            // Every segment must be a view into RAM.
            if (s.len && (s.bytes.data() < ram.base || s.bytes.data() + s.len > ram.base + kRam)) std::abort();
            if (s.len) s.bytes[s.len - 1] ^= 0x5a;
        }
        q.add_used(c->head, static_cast<uint32_t>(c->writable_len()));
        q.needs_interrupt();
        if (i % 3 == 0) q.enable_notification();
    }
}
