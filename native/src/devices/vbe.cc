#include "devices/vbe.h"

#include <algorithm>

namespace vmm {

namespace {
constexpr uint16_t kIdMin = 0xB0C0, kIdMax = 0xB0C5;
constexpr uint32_t kBytesPerPixel = 4;
}  // namespace

Vbe::Vbe(uint32_t width, uint32_t height, Limits limits, ModeFn on_mode_change)
    : limits_(limits), on_mode_change_(std::move(on_mode_change)) {
    // DISPI registers are 16 bits wide: clamp what the limits can express.
    limits_.max_width = std::min<uint32_t>(limits_.max_width, 0xFFFF);
    limits_.max_height = std::min<uint32_t>(limits_.max_height, 0xFFFF);
    cur_ = {std::min(width, limits_.max_width), std::min(height, limits_.max_height), 0};
    cur_.stride = cur_.width * kBytesPerPixel;
    load_mode_regs();
}

void Vbe::load_mode_regs() {
    xres_ = static_cast<uint16_t>(cur_.width);
    yres_ = static_cast<uint16_t>(cur_.height);
    bpp_ = 32;
    virt_width_ = static_cast<uint16_t>(cur_.stride / kBytesPerPixel);
    virt_height_ = static_cast<uint16_t>(cur_.height);
}

Vbe::Mode Vbe::mode() {
    std::lock_guard<std::mutex> g(mu_);
    return cur_;
}

uint16_t Vbe::read_data() {
    bool caps = (enable_ & kGetCaps) != 0;
    switch (index_) {
        case kIndexId: return id_;
        case kIndexXres: return caps ? static_cast<uint16_t>(limits_.max_width) : xres_;
        case kIndexYres: return caps ? static_cast<uint16_t>(limits_.max_height) : yres_;
        case kIndexBpp: return caps ? 32 : bpp_;
        case kIndexEnable: return enable_;
        case kIndexBank: return bank_;
        case kIndexVirtWidth: return virt_width_;
        case kIndexVirtHeight: return virt_height_;
        case kIndexXOffset: return x_offset_;
        case kIndexYOffset: return y_offset_;
        case kIndexVideoMemory64k: return static_cast<uint16_t>(std::min<uint64_t>(limits_.fb_bytes >> 16, 0xFFFF));
        default: return 0;
    }
}

// Returns true when the scanout mode changed (then `changed` holds it).
bool Vbe::write_data(uint16_t v, Mode& changed) {
    switch (index_) {
        case kIndexId:
            if (v >= kIdMin && v <= kIdMax) id_ = v;
            return false;
        case kIndexXres: xres_ = v; return false;
        case kIndexYres: yres_ = v; return false;
        case kIndexBpp: bpp_ = v; return false;
        case kIndexBank: bank_ = v; return false;
        case kIndexVirtWidth: virt_width_ = v; return false;
        case kIndexVirtHeight: virt_height_ = v; return false;
        case kIndexXOffset: x_offset_ = v; return false;
        case kIndexYOffset: y_offset_ = v; return false;
        case kIndexEnable: break;
        default: return false;   // unknown index: ignored
    }
    enable_ = v & 0xE3;   // enabled, getcaps, 8-bit DAC, LFB, noclearmem
    if (!(v & kEnabled)) return false;

    // All arithmetic in 64 bits: every operand is a 16-bit guest value.
    uint64_t w = xres_, h = yres_;
    uint64_t vw = std::max<uint64_t>(virt_width_, w);
    uint64_t vh = std::max<uint64_t>(virt_height_, h);
    uint64_t stride = vw * kBytesPerPixel;
    bool valid = bpp_ == 32 && w >= 1 && h >= 1 && w <= limits_.max_width && h <= limits_.max_height &&
                 stride * vh <= limits_.fb_bytes;
    if (!valid) {
        load_mode_regs();   // refuse: the registers show the mode still in use
        return false;
    }
    virt_width_ = static_cast<uint16_t>(vw);
    virt_height_ = static_cast<uint16_t>(vh);
    Mode m{static_cast<uint32_t>(w), static_cast<uint32_t>(h), static_cast<uint32_t>(stride)};
    if (m.width == cur_.width && m.height == cur_.height && m.stride == cur_.stride) return false;
    cur_ = m;
    changed = m;
    return true;
}

void Vbe::read(uint64_t offset, uint8_t* data, uint32_t size) {
    uint16_t v = 0xFFFF;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (offset == 0) v = index_;
        else if (offset == 1) v = read_data();
    }
    for (uint32_t i = 0; i < size; ++i) data[i] = i < 2 ? static_cast<uint8_t>(v >> (8 * i)) : 0;
}

void Vbe::write(uint64_t offset, const uint8_t* data, uint32_t size) {
    if (size == 0) return;
    uint16_t v = data[0];
    if (size >= 2) v = static_cast<uint16_t>(v | (data[1] << 8));
    Mode m{};
    bool changed = false;
    ModeFn cb;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (offset == 0) index_ = v;
        else if (offset == 1) changed = write_data(v, m);
        if (changed) cb = on_mode_change_;
    }
    if (changed && cb) cb(m.width, m.height, m.stride);
}

}  // namespace vmm
