// The server's change collector: keeps the shadow copy of the guest's
// framebuffer (what every client is encoded from), compares the rows the
// dirty log names against it, and reports what changed as exact rectangles.
//
// Scroll detection (for clients that take CopyRect): every shadow row has a
// 64-bit hash, kept current as rows change. When enough rows changed in one
// tick, the changed rows are hashed (one extra read of those guest rows), a
// few distinctive ones are looked up among the old hashes to vote for a
// vertical offset dy, and the best full-width band whose new rows equal the
// old rows dy below/above is chosen (max-sum run: +1 per changed row that the
// shift explains, -1 per unchanged row it would break). The band's old source
// rows are saved before the shadow is updated and, afterwards, every row of
// the band is compared exactly (RGB) with its source: hashes only propose,
// only a byte compare lets a row go without encoding. Rows that differ are
// reported as remainder rectangles.
//
// Everything here reads guest-controlled pixels and a guest-controlled
// geometry; sizes are checked against the surface before any access.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "rfb/encode.h"
#include "rfb/protocol.h"

namespace vmm::rfb {

struct Surface {
    const uint8_t* base = nullptr;  // XRGB8888 rows, `stride` bytes apart
    uint64_t size = 0;              // bytes readable at base
    uint32_t width = 0, height = 0, stride = 0;
    bool enabled = false;
};

// A picture that was at src (old shadow) is now at dst (new shadow): a
// CopyRect for a client that had the old picture.
struct Move {
    Rect dst;
    uint32_t src_x = 0, src_y = 0;
};

struct Changes {
    bool reset = false;       // new geometry or first look: the whole screen changed
    std::vector<Rect> rects;  // every change since the previous tick
    bool has_move = false;
    Move move;
    std::vector<Rect> rest;   // with the move applied first: what still differs
    uint64_t missed = 0;      // rects found only by the safety sweep
};

class Collector {
public:
    static constexpr uint32_t kScanTicks = 64;     // full safety sweep every 64 collections
    // A move must save at least min(32, max(8, height / 4)) rows: below two
    // text lines a CopyRect plus the rows it leaves out cost more than ZRLE
    // (whose zlib window already holds the similar rows), measured on the test guest.
    static constexpr uint32_t kMinMoveRows = 32;
    uint32_t min_move_rows() const { return std::min(kMinMoveRows, std::max(8u, height_ / 4)); }
    static constexpr uint32_t kMaxSamples = 48;    // rows looked up to vote for an offset

    // rows: row ranges [first, end) the dirty log reports (any order, any
    // values). detect_moves: some client could use a Move (else no hashing).
    Changes collect(const Surface& s, const std::vector<std::pair<uint32_t, uint32_t>>& rows, bool detect_moves);

    bool have() const { return have_; }
    uint32_t width() const { return width_; }
    uint32_t height() const { return height_; }
    bool enabled() const { return enabled_; }
    Frame frame() const { return {shadow_.data(), width_, height_, width_ * 4}; }
    const std::vector<uint8_t>& shadow() const { return shadow_; }

    // The geometry the shadow gets for a surface (a disabled or inconsistent
    // one is shown as a black screen of its size, or 640x480).
    struct Geometry {
        uint32_t width, height;
        bool valid;
    };
    static Geometry geometry(const Surface& s);

private:
    // Compares the given rows of the surface with the shadow (updating it
    // and the rows' hashes); returns the changed rectangles.
    std::vector<Rect> refine(const Surface& s, const std::vector<std::pair<uint32_t, uint32_t>>& rows);
    // Proposes a band [a, b) and offset dy (new row y == old row y + dy);
    // false if none saves min_move_rows() rows.
    bool find_move(const Surface& s, const std::vector<std::pair<uint32_t, uint32_t>>& rows, uint32_t& a,
                   uint32_t& b, int32_t& dy);
    void rehash_all();

    std::vector<uint8_t> shadow_, row_, saved_;
    std::vector<uint64_t> hash_;   // hash of every shadow row (when hashes_ok_)
    std::vector<uint64_t> fresh_;  // this tick's hash of dirty rows
    std::vector<uint8_t> dirty_;   // per row: 1 dirty, 2 dirty and its hash changed
    std::vector<uint8_t> changed_; // per row: refine found an RGB change this tick
    bool hashes_ok_ = false;
    bool have_ = false, enabled_ = false;
    uint32_t width_ = 0, height_ = 0, stride_ = 0;
    const uint8_t* base_ = nullptr;
    uint32_t scan_row_ = 0;
};

uint64_t row_hash(const uint8_t* p, size_t n);

}  // namespace vmm::rfb
