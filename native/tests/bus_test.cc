#include "check.h"
#include "core/device.h"
#include "core/guest_memory.h"

namespace {
struct Recorder : vmm::Device {
    uint64_t last_off = ~0ull;
    uint8_t reg = 0;
    const char* name() const override { return "recorder"; }
    void read(uint64_t off, uint8_t* d, uint32_t n) override { last_off = off; for (uint32_t i = 0; i < n; ++i) d[i] = reg; }
    void write(uint64_t off, const uint8_t* d, uint32_t) override { last_off = off; reg = d[0]; }
};
}  // namespace

TEST(bus_routes_by_window_and_refuses_overlap) {
    vmm::Bus bus;
    auto a = std::make_shared<Recorder>();
    auto b = std::make_shared<Recorder>();
    CHECK(bus.add(0x3f8, 8, a));
    CHECK(bus.add(0x60, 1, b));
    CHECK(!bus.add(0x3fc, 8, b));          // overlaps a
    CHECK(!bus.add(~0ull - 1, 8, b));      // wraps around
    uint8_t v = 0x42;
    CHECK(bus.write(0x3fb, &v, 1));
    CHECK_EQ(a->last_off, 3u);
    uint8_t out[4] = {};
    CHECK(!bus.read(0x1000, out, 4));      // nobody home: all ones
    CHECK_EQ(out[0], 0xff);
}

TEST(guest_memory_refuses_out_of_bounds) {
    std::vector<uint8_t> ram(4096);
    vmm::GuestMemory mem({{0x1000, ram.size(), ram.data()}});
    CHECK(mem.ptr(0x1000, 4096) != nullptr);
    CHECK(mem.ptr(0x1000, 4097) == nullptr);
    CHECK(mem.ptr(0x1fff, 1) != nullptr);
    CHECK(mem.ptr(0x2000, 1) == nullptr);
    CHECK(mem.ptr(0xfff, 1) == nullptr);
    CHECK(mem.ptr(~0ull, 2) == nullptr);   // gpa + len overflows
    CHECK(mem.ptr(0x1800, ~0ull) == nullptr);
    uint32_t x = 0xdeadbeef;
    CHECK(mem.store(0x1ffc, x));
    CHECK(!mem.store(0x1ffd, x));
}
