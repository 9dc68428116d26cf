// Tight encoding (7) without JPEG, for one client.
//
// A rectangle is cut into pieces within Tight's limits (at most 2048 pixels
// wide and 65536 pixels in area); each piece goes out as its own rectangle:
// fill (one colour), mono (two colours, 1 bit per pixel, rows byte-padded),
// indexed (up to 256 colours, one byte per pixel) or basic full colour, the
// last three through their own zlib stream (0 full colour, 1 mono, 2
// indexed) that lives as long as the connection. Mono data is row-major
// across the whole piece, so zlib sees whole pixel rows of a text line and
// finds repeated text far better than in ZRLE's 64x64 tiles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <zlib.h>

#include "rfb/encode.h"
#include "rfb/protocol.h"

namespace vmm::rfb {

class TightEncoder {
public:
    TightEncoder();
    ~TightEncoder();
    TightEncoder(const TightEncoder&) = delete;
    TightEncoder& operator=(const TightEncoder&) = delete;
    // Appends rectangles (12-byte headers included) covering r; adds their
    // number to count. False if zlib failed.
    bool encode(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out, uint32_t& count);

    static constexpr uint32_t kMaxWidth = 2048;
    static constexpr uint32_t kMaxArea = 65536;

private:
    static void header(const Rect& r, std::vector<uint8_t>& out);
    // r in pieces within the limits: fills of *fill, or encoded pixels (fill null).
    bool split(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out, uint32_t& count,
               const uint32_t* fill);
    // One piece: header, then fill, mono, indexed or full colour.
    bool piece(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out);
    void put_tpixel(std::vector<uint8_t>& out, uint32_t v, const PixelConverter& pc) const;
    // Control byte already written: data as is (< 12 bytes) or length + zlib.
    bool put_data(std::vector<uint8_t>& out, unsigned stream, const std::vector<uint8_t>& data);

    z_stream zs_[3]{};
    bool ok_[3] = {false, false, false};
    std::vector<uint8_t> data_;
    std::vector<uint32_t> px_;
    std::vector<uint8_t> idx_;
};

// Tight's compact length: 7 bits per byte, at most 3 bytes (22 bits).
void put_compact_length(std::vector<uint8_t>& out, uint32_t len);

}  // namespace vmm::rfb
