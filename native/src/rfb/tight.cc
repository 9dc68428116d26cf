#include "rfb/tight.h"
#include "rfb/palette.h"

#include <algorithm>
#include <cstring>

namespace vmm::rfb {

namespace {

// Tight's indexed filter: up to 256 colours.
using TightPalette = Palette<256, 10>;

// Control bytes: stream number in bits 4-5, bit 6 = a filter id follows.
constexpr uint8_t kFill = 0x80;
constexpr uint8_t kExplicitFilter = 0x40;
constexpr uint8_t kFilterPalette = 1;
constexpr unsigned kStreamFull = 0, kStreamMono = 1, kStreamIndexed = 2;

}  // namespace

void put_compact_length(std::vector<uint8_t>& out, uint32_t len) {
    out.push_back(uint8_t((len & 0x7f) | (len > 0x7f ? 0x80 : 0)));
    if (len > 0x7f) {
        out.push_back(uint8_t(((len >> 7) & 0x7f) | (len > 0x3fff ? 0x80 : 0)));
        if (len > 0x3fff) out.push_back(uint8_t(len >> 14));
    }
}

TightEncoder::TightEncoder() = default;

TightEncoder::~TightEncoder() {
    for (unsigned i = 0; i < 3; ++i)
        if (ok_[i]) deflateEnd(&zs_[i]);
}

void TightEncoder::put_tpixel(std::vector<uint8_t>& out, uint32_t v, const PixelConverter& pc) const {
    const PixelFormat& pf = pc.format();
    // TPIXEL: R, G, B bytes for 32 bpp depth 24 with 8-bit channels, else the pixel as in Raw.
    if (pf.bpp == 32 && pf.depth == 24 && pf.red_max == 255 && pf.green_max == 255 && pf.blue_max == 255) {
        out.push_back(uint8_t(v >> pf.red_shift));
        out.push_back(uint8_t(v >> pf.green_shift));
        out.push_back(uint8_t(v >> pf.blue_shift));
        return;
    }
    uint8_t b[4];
    pc.put(b, v);
    out.insert(out.end(), b, b + pc.bytes());
}

bool TightEncoder::put_data(std::vector<uint8_t>& out, unsigned stream, const std::vector<uint8_t>& data) {
    if (data.size() < 12) {  // sent as is, not through zlib
        out.insert(out.end(), data.begin(), data.end());
        return true;
    }
    // Streams start on first use (256 KiB each). Level 9 saves 1-15% on
    // text screens for 2-4x the CPU: not worth it.
    if (!ok_[stream] && deflateInit(&zs_[stream], 6) != Z_OK) return false;
    ok_[stream] = true;
    z_stream& zs = zs_[stream];
    // Length first: compress after a 3-byte gap, then close it up.
    size_t len_at = out.size();
    out.resize(len_at + 3);
    size_t start = out.size();
    zs.next_in = const_cast<uint8_t*>(data.data());
    zs.avail_in = uInt(data.size());
    for (;;) {
        size_t room = deflateBound(&zs, zs.avail_in) + 64;
        size_t at = out.size();
        out.resize(at + room);
        zs.next_out = out.data() + at;
        zs.avail_out = uInt(room);
        int rc = deflate(&zs, Z_SYNC_FLUSH);  // the client inflates each rectangle on its own
        out.resize(at + (room - zs.avail_out));
        if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
        if (zs.avail_in == 0 && zs.avail_out != 0) break;
    }
    size_t produced = out.size() - start;
    if (produced >= (1u << 22)) return false;  // cannot happen within kMaxArea
    std::vector<uint8_t> len;
    put_compact_length(len, uint32_t(produced));
    std::memmove(out.data() + len_at + len.size(), out.data() + start, produced);
    std::memcpy(out.data() + len_at, len.data(), len.size());
    out.resize(len_at + len.size() + produced);
    return true;
}

bool TightEncoder::piece(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out) {
    header(r, out);
    const size_t n = r.area();
    px_.resize(n);
    idx_.resize(n);
    static thread_local TightPalette pal;
    pal.clear();
    bool indexed = true;
    uint32_t last = 0;
    int last_i = -1;
    size_t k = 0;
    for (uint32_t y = r.y; y < r.y + r.h; ++y) {
        const uint8_t* row = f.data + size_t(y) * f.stride + size_t(r.x) * 4;
        for (uint32_t x = 0; x < r.w; ++x, row += 4, ++k) {
            uint32_t v = pc.convert(uint32_t(row[0]) | uint32_t(row[1]) << 8 | uint32_t(row[2]) << 16);
            px_[k] = v;
            if (!indexed) continue;
            if (last_i < 0 || v != last) {
                last = v;
                last_i = pal.find_or_add(v);
                if (last_i < 0) {
                    indexed = false;
                    continue;
                }
            }
            idx_[k] = uint8_t(last_i);
        }
    }
    data_.clear();
    if (indexed && pal.n == 1) {
        out.push_back(kFill);
        put_tpixel(out, pal.colours[0], pc);
        return true;
    }
    if (indexed && pal.n == 2) {
        out.push_back(uint8_t(kStreamMono << 4 | kExplicitFilter));
        out.push_back(kFilterPalette);
        out.push_back(1);  // colours - 1
        put_tpixel(out, pal.colours[0], pc);
        put_tpixel(out, pal.colours[1], pc);
        const size_t row_bytes = (size_t(r.w) + 7) / 8;
        data_.assign(row_bytes * r.h, 0);
        for (uint32_t y = 0; y < r.h; ++y) {
            uint8_t* o = &data_[y * row_bytes];
            const uint8_t* in = &idx_[size_t(y) * r.w];
            for (uint32_t x = 0; x < r.w; ++x)
                if (in[x]) o[x >> 3] |= uint8_t(0x80 >> (x & 7));
        }
        return put_data(out, kStreamMono, data_);
    }
    if (indexed) {
        out.push_back(uint8_t(kStreamIndexed << 4 | kExplicitFilter));
        out.push_back(kFilterPalette);
        out.push_back(uint8_t(pal.n - 1));
        for (unsigned i = 0; i < pal.n; ++i) put_tpixel(out, pal.colours[i], pc);
        data_.assign(idx_.begin(), idx_.begin() + ptrdiff_t(n));
        return put_data(out, kStreamIndexed, data_);
    }
    out.push_back(uint8_t(kStreamFull << 4));  // basic, copy filter
    data_.reserve(n * 4);
    for (size_t i = 0; i < n; ++i) put_tpixel(data_, px_[i], pc);
    return put_data(out, kStreamFull, data_);
}

void TightEncoder::header(const Rect& r, std::vector<uint8_t>& out) {
    put16(out, uint16_t(r.x));
    put16(out, uint16_t(r.y));
    put16(out, uint16_t(r.w));
    put16(out, uint16_t(r.h));
    put32(out, uint32_t(kEncTight));
}

bool TightEncoder::split(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out,
                         uint32_t& count, const uint32_t* fill) {
    if (r.empty()) return true;
    const uint32_t w = std::min(r.w, kMaxWidth);
    // A fill has no data, so only the width limit applies to it.
    const uint32_t rows = fill ? r.h : std::max<uint32_t>(1, kMaxArea / w);
    for (uint32_t y = r.y; y < r.y + r.h; y += rows)
        for (uint32_t x = r.x; x < r.x + r.w; x += w) {
            Rect p{x, y, std::min(w, r.x + r.w - x), std::min(rows, r.y + r.h - y)};
            if (fill) {
                header(p, out);
                out.push_back(kFill);
                put_tpixel(out, *fill, pc);
            } else if (!piece(f, p, pc, out)) {
                return false;
            }
            ++count;
        }
    return true;
}

bool TightEncoder::encode(const Frame& f, const Rect& r, const PixelConverter& pc, std::vector<uint8_t>& out, uint32_t& count) {
    if (r.empty()) return true;
    // The box around everything that differs from the top-left pixel (on a
    // text screen: the text) is encoded; the wide margins around it are one
    // colour and go out as fills. Narrower pieces get more rows each, so
    // fewer zlib flushes (each costs a block header).
    const uint32_t bg = f.pixel(r.x, r.y);
    uint32_t bx0 = r.x + r.w, bx1 = r.x, by0 = r.y + r.h, by1 = r.y;
    for (uint32_t y = r.y; y < r.y + r.h; ++y) {
        uint32_t x0 = r.x, x1 = r.x + r.w;
        while (x0 < x1 && f.pixel(x0, y) == bg) ++x0;
        if (x0 == x1) continue;
        while (f.pixel(x1 - 1, y) == bg) --x1;
        bx0 = std::min(bx0, x0), bx1 = std::max(bx1, x1);
        by0 = std::min(by0, y), by1 = y + 1;
    }
    const uint32_t bgv = pc.convert(bg);
    if (bx0 >= bx1) return split(f, r, pc, out, count, &bgv);
    // A fill costs a 16-byte rectangle; a margin of fewer pixels than
    // kSnap costs less inside the box (one colour compresses to nothing),
    // so the box takes it in.
    constexpr uint64_t kSnap = 16384;
    if (uint64_t(r.w) * (by0 - r.y) < kSnap) by0 = r.y;
    if (uint64_t(r.w) * (r.y + r.h - by1) < kSnap) by1 = r.y + r.h;
    if (uint64_t(by1 - by0) * (bx0 - r.x) < kSnap) bx0 = r.x;
    if (uint64_t(by1 - by0) * (r.x + r.w - bx1) < kSnap) bx1 = r.x + r.w;
    const Rect box{bx0, by0, bx1 - bx0, by1 - by0};
    if (box == r) return split(f, r, pc, out, count, nullptr);
    const Rect margins[4] = {
        {r.x, r.y, r.w, box.y - r.y},                              // above
        {r.x, box.y + box.h, r.w, r.y + r.h - box.y - box.h},       // below
        {r.x, box.y, box.x - r.x, box.h},                           // left
        {box.x + box.w, box.y, r.x + r.w - box.x - box.w, box.h},  // right
    };
    for (const Rect& m : margins)
        if (!split(f, m, pc, out, count, &bgv)) return false;
    return split(f, box, pc, out, count, nullptr);
}

}  // namespace vmm::rfb
