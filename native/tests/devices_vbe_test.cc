// Bochs VBE DISPI: mode changes as bochs-drm / a VBE guest programs them.
#include <vector>

#include "check.h"
#include "devices/vbe.h"

namespace {

struct Dispi {
    struct Change { uint32_t w, h, stride; };
    std::vector<Change> changes;
    vmm::Vbe dev;
    explicit Dispi(vmm::Vbe::Limits lim = {})
        : dev(1024, 768, lim, [this](uint32_t w, uint32_t h, uint32_t s) { changes.push_back({w, h, s}); }) {}
    void set(uint16_t idx, uint16_t v) {
        dev.write(0, reinterpret_cast<const uint8_t*>(&idx), 2);
        dev.write(1, reinterpret_cast<const uint8_t*>(&v), 2);
    }
    uint16_t get(uint16_t idx) {
        uint16_t v = 0;
        dev.write(0, reinterpret_cast<const uint8_t*>(&idx), 2);
        dev.read(1, reinterpret_cast<uint8_t*>(&v), 2);
        return v;
    }
    void mode(uint16_t w, uint16_t h, uint16_t bpp, uint16_t vw = 0) {
        set(vmm::Vbe::kIndexEnable, 0);
        set(vmm::Vbe::kIndexBpp, bpp);
        set(vmm::Vbe::kIndexXres, w);
        set(vmm::Vbe::kIndexYres, h);
        set(vmm::Vbe::kIndexVirtWidth, vw);
        set(vmm::Vbe::kIndexEnable, vmm::Vbe::kEnabled | vmm::Vbe::kLfbEnabled);
    }
};

}  // namespace

TEST(vbe_id_and_capabilities) {
    Dispi d;
    CHECK_EQ(d.get(vmm::Vbe::kIndexId), 0xB0C5);
    d.set(vmm::Vbe::kIndexId, 0xB0C0);
    CHECK_EQ(d.get(vmm::Vbe::kIndexId), 0xB0C0);
    d.set(vmm::Vbe::kIndexId, 0x1234);   // not a DISPI version: ignored
    CHECK_EQ(d.get(vmm::Vbe::kIndexId), 0xB0C0);
    CHECK_EQ(d.get(vmm::Vbe::kIndexXres), 1024);
    CHECK_EQ(d.get(vmm::Vbe::kIndexBpp), 32);
    CHECK_EQ(d.get(vmm::Vbe::kIndexVideoMemory64k), 256);
    d.set(vmm::Vbe::kIndexEnable, vmm::Vbe::kGetCaps);
    CHECK_EQ(d.get(vmm::Vbe::kIndexXres), 1920);
    CHECK_EQ(d.get(vmm::Vbe::kIndexYres), 1080);
    CHECK_EQ(d.get(vmm::Vbe::kIndexBpp), 32);
    d.set(vmm::Vbe::kIndexEnable, 0);
    CHECK_EQ(d.get(vmm::Vbe::kIndexXres), 1024);
    CHECK_EQ(d.get(0x20), 0);            // unknown index
    d.set(0x20, 5);
    CHECK_EQ(d.get(0x20), 0);
    CHECK_EQ(d.get(0xFFFF), 0);
    CHECK(d.changes.empty());
}

TEST(vbe_valid_and_invalid_mode_changes) {
    Dispi d;
    d.mode(1280, 720, 32);
    CHECK_EQ(d.changes.size(), 1u);
    CHECK_EQ(d.changes.back().w, 1280u);
    CHECK_EQ(d.changes.back().h, 720u);
    CHECK_EQ(d.changes.back().stride, 5120u);
    CHECK_EQ(d.dev.mode().width, 1280u);
    CHECK_EQ(d.get(vmm::Vbe::kIndexVirtWidth), 1280);
    d.mode(1280, 720, 32);               // same mode again: no call
    CHECK_EQ(d.changes.size(), 1u);
    d.mode(800, 600, 24);                // 24 bpp refused
    d.mode(0, 600, 32);
    d.mode(1921, 600, 32);
    d.mode(800, 1081, 32);
    CHECK_EQ(d.changes.size(), 1u);
    CHECK_EQ(d.get(vmm::Vbe::kIndexXres), 1280);   // registers show the mode in use
    CHECK_EQ(d.get(vmm::Vbe::kIndexBpp), 32);
    CHECK_EQ(d.dev.mode().height, 720u);
    d.mode(800, 600, 32, 1024);          // wider virtual width sets the stride
    CHECK_EQ(d.changes.size(), 2u);
    CHECK_EQ(d.changes.back().stride, 4096u);
    // A framebuffer too small for the mode refuses it.
    vmm::Vbe::Limits small;
    small.fb_bytes = 2 << 20;
    Dispi s(small);
    s.mode(1024, 600, 32);               // 2.4 MB
    CHECK(s.changes.empty());
    s.mode(640, 480, 32);
    CHECK_EQ(s.changes.size(), 1u);
    s.mode(640, 480, 32, 0xFFFF);        // huge virtual width
    CHECK_EQ(s.changes.size(), 1u);
    CHECK_EQ(s.get(vmm::Vbe::kIndexVirtWidth), 640);
}

FUZZ_TARGET(fuzz_vbe) {
    uint64_t calls = 0;
    vmm::Vbe::Limits lim;
    lim.fb_bytes = 1 << 22;
    vmm::Vbe dev(640, 480, lim, [&](uint32_t w, uint32_t h, uint32_t s) {
        calls += w + h + s;
        if (static_cast<uint64_t>(s) * h > lim.fb_bytes || w > lim.max_width || h > lim.max_height) __builtin_trap();
    });
    static const uint32_t sizes[4] = {1, 2, 4, 8};
    size_t i = 0;
    auto next = [&] { return i < size ? data[i++] : uint8_t{0}; };
    while (i < size) {
        uint8_t op = next();
        uint64_t off = next();
        if (off >= 0xF0) off = ~0ull - (off & 7);
        else off &= 0x03;
        uint32_t sz = sizes[op >> 6];
        uint8_t buf[8];
        switch (op & 3) {
            case 0: dev.read(off, buf, sz); break;
            case 1: case 2:
                for (auto& b : buf) b = next();
                if (op & 4) buf[1] = 0;   // small values: plausible indices
                dev.write(off, buf, sz);
                break;
            default: dev.mode(); break;
        }
    }
}
