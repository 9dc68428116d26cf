// Pixel conversion and rectangle encodings (Raw, ZRLE) for one client.
//
// Input is always the server's shadow framebuffer: 32-bit XRGB8888 little-
// endian pixels (what the guest draws), `stride` bytes per row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <zlib.h>

#include "rfb/protocol.h"

namespace vmm::rfb {

struct Frame {
    const uint8_t* data = nullptr;
    uint32_t width = 0, height = 0, stride = 0;
    uint32_t pixel(uint32_t x, uint32_t y) const {
        const uint8_t* p = data + size_t(y) * stride + size_t(x) * 4;
        return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16;
    }
};

// XRGB8888 -> the client's pixel value and its bytes on the wire.
class PixelConverter {
public:
    PixelConverter() { set(PixelFormat::native()); }
    void set(const PixelFormat& pf);  // pf must have passed check()
    const PixelFormat& format() const { return pf_; }
    uint32_t convert(uint32_t xrgb) const { return r_[(xrgb >> 16) & 255] | g_[(xrgb >> 8) & 255] | b_[xrgb & 255]; }
    unsigned bytes() const { return bytes_; }
    void put(uint8_t* out, uint32_t v) const;  // bytes() bytes
    // ZRLE's compressed pixel: bytes [cpixel_offset, +cpixel_bytes) of put().
    unsigned cpixel_bytes() const { return cbytes_; }
    void put_cpixel(uint8_t* out, uint32_t v) const;

private:
    PixelFormat pf_;
    uint32_t r_[256], g_[256], b_[256];
    unsigned bytes_ = 4, cbytes_ = 3, coff_ = 0;
};

// Appends the rectangle's pixels in the client's format (Raw encoding body).
void encode_raw(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out);

// ZRLE: 64x64 tiles, each solid / packed palette / plain RLE / palette RLE /
// raw, whichever is smallest, through one zlib stream per client that lives
// as long as the connection (the client keeps one inflate stream).
class ZrleEncoder {
public:
    ZrleEncoder();
    ~ZrleEncoder();
    ZrleEncoder(const ZrleEncoder&) = delete;
    ZrleEncoder& operator=(const ZrleEncoder&) = delete;
    // Appends the rectangle body: u32 length + zlib data. False if zlib failed.
    bool encode(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out);
    uint64_t raw_bytes() const { return raw_total_; }  // before compression

private:
    void tile(const Frame& f, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, const PixelConverter& pc);

    z_stream zs_{};
    bool ok_ = false;
    std::vector<uint8_t> raw_;
    uint64_t raw_total_ = 0;
    uint32_t px_[64 * 64];
};

}  // namespace vmm::rfb
