// Bochs VBE "DISPI" interface: register at platform::kVbeIndexPort with
// Vbe::kWindow (offset 0 = index port 0x1CE, offset 1 = data port 0x1CF;
// 16-bit accesses, smaller ones use the low bytes). It only describes the
// geometry of the linear framebuffer at platform::kFramebufferBase; the
// pixels are guest RAM. 32 bpp only.
//
// A write of ENABLE with bit 0 set and a valid new mode (32 bpp, 1..max in
// each direction, stride*height fits in the framebuffer) calls
// on_mode_change(width, height, stride_bytes). An invalid mode is refused:
// the geometry registers go back to the current mode. X/Y_OFFSET are stored
// and read back but do not move the scanout.
//
// Threading: read()/write()/mode() take the device mutex; on_mode_change is
// called WITHOUT it, on the vCPU thread that wrote ENABLE.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

#include "core/device.h"

namespace vmm {

class Vbe : public Device {
public:
    static constexpr uint64_t kWindow = 2;
    using ModeFn = std::function<void(uint32_t width, uint32_t height, uint32_t stride)>;

    struct Limits {
        uint32_t max_width = 1920;
        uint32_t max_height = 1080;
        uint64_t fb_bytes = 16ull << 20;
    };
    struct Mode {
        uint32_t width, height, stride;
    };

    // Register indices (Bochs vbe.h numbering).
    enum : uint16_t {
        kIndexId = 0, kIndexXres = 1, kIndexYres = 2, kIndexBpp = 3, kIndexEnable = 4,
        kIndexBank = 5, kIndexVirtWidth = 6, kIndexVirtHeight = 7, kIndexXOffset = 8,
        kIndexYOffset = 9, kIndexVideoMemory64k = 10,
    };
    static constexpr uint16_t kEnabled = 0x01, kGetCaps = 0x02, kLfbEnabled = 0x40;

    Vbe(uint32_t width, uint32_t height, Limits limits, ModeFn on_mode_change);

    const char* name() const override { return "vbe"; }
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

    Mode mode();   // the current scanout geometry

private:
    uint16_t read_data();
    bool write_data(uint16_t v, Mode& changed);
    void load_mode_regs();

    std::mutex mu_;
    Limits limits_;
    ModeFn on_mode_change_;
    Mode cur_;
    uint16_t index_ = 0;
    uint16_t id_ = 0xB0C5;
    uint16_t xres_ = 0, yres_ = 0, bpp_ = 32, enable_ = 0, bank_ = 0;
    uint16_t virt_width_ = 0, virt_height_ = 0, x_offset_ = 0, y_offset_ = 0;
};

}  // namespace vmm
