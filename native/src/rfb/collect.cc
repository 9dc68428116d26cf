#include "rfb/collect.h"

#include <algorithm>
#include <cstring>

namespace vmm::rfb {

uint64_t row_hash(const uint8_t* p, size_t n) {
    // Two independent multiply-xor lanes (fast, well mixed); only a hint:
    // every use is confirmed by a byte compare.
    uint64_t h1 = 0x9E3779B97F4A7C15ull ^ n, h2 = 0xC2B2AE3D27D4EB4Full;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint64_t a, b;
        std::memcpy(&a, p + i, 8);
        std::memcpy(&b, p + i + 8, 8);
        h1 = (h1 ^ a) * 0x9FB21C651E98DF25ull;
        h1 ^= h1 >> 29;
        h2 = (h2 ^ b) * 0xFF51AFD7ED558CCDull;
        h2 ^= h2 >> 31;
    }
    for (; i < n; ++i) h1 = (h1 ^ p[i]) * 0x100000001B3ull;
    uint64_t h = h1 ^ (h2 << 17 | h2 >> 47);
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return h;
}

namespace {

bool same_rgb(const uint8_t* a, const uint8_t* b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

}  // namespace

Collector::Geometry Collector::geometry(const Surface& s) {
    bool valid = s.base && s.enabled && s.width && s.height && s.width <= 16384 && s.height <= 16384 &&
                 uint64_t(s.width) * 4 <= s.stride && uint64_t(s.stride) * s.height <= s.size;
    if (valid) return {s.width, s.height, true};
    if (s.width && s.height && s.width <= 16384 && s.height <= 16384) return {s.width, s.height, false};
    return {640, 480, false};
}

void Collector::rehash_all() {
    const size_t rb = size_t(width_) * 4;
    hash_.resize(height_);
    for (uint32_t y = 0; y < height_; ++y) hash_[y] = row_hash(&shadow_[size_t(y) * rb], rb);
    hashes_ok_ = true;
}

Changes Collector::collect(const Surface& s, const std::vector<std::pair<uint32_t, uint32_t>>& rows,
                           bool detect_moves) {
    Changes ch;
    Geometry g = geometry(s);
    if (!have_ || g.width != width_ || g.height != height_ || g.valid != enabled_ ||
        (g.valid && (s.base != base_ || s.stride != stride_))) {
        // New mode (or the first look): copy everything.
        shadow_.assign(size_t(g.width) * g.height * 4, 0);
        if (g.valid)
            for (uint32_t y = 0; y < g.height; ++y)
                std::memcpy(&shadow_[size_t(y) * g.width * 4], s.base + size_t(y) * s.stride, size_t(g.width) * 4);
        have_ = true;
        width_ = g.width;
        height_ = g.height;
        enabled_ = g.valid;
        base_ = s.base;
        stride_ = s.stride;
        hashes_ok_ = false;
        scan_row_ = 0;
        ch.reset = true;
        ch.rects.push_back({0, 0, width_, height_});
        return ch;
    }
    if (!g.valid) return ch;
    const uint32_t W = width_, H = height_;
    const size_t rb = size_t(W) * 4;
    if (!detect_moves) hashes_ok_ = false;  // nobody needs them: don't pay for keeping them
    else if (!hashes_ok_) rehash_all();
    changed_.assign(H, 0);

    uint32_t a = 0, b = 0;
    int32_t dy = 0;
    bool move = detect_moves && find_move(s, rows, a, b, dy);
    if (move) {
        // The band's sources as they are now, before the shadow changes.
        const uint8_t* src = &shadow_[size_t(int64_t(a) + dy) * rb];
        saved_.assign(src, src + size_t(b - a) * rb);
    }

    std::vector<Rect> found = refine(s, rows);
    // Belt and braces: a slice of the screen is compared every tick whatever
    // the dirty log says, so a write the log could miss (a hypervisor's
    // dirty-logging bug, memory written behind KVM's back) shows up within
    // kScanTicks ticks instead of never. Costs H/64 row compares per tick.
    uint32_t slice = (H + kScanTicks - 1) / kScanTicks;
    if (scan_row_ >= H) scan_row_ = 0;
    std::vector<Rect> late = refine(s, {{scan_row_, std::min(H, scan_row_ + slice)}});
    scan_row_ += slice;
    ch.missed = late.size();
    found.insert(found.end(), late.begin(), late.end());
    ch.rects = found;
    if (!move) return ch;

    // Exact check of every band row against its saved source: what the
    // client will hold after the copy versus the shadow it must equal.
    std::vector<Rect> bad;
    uint32_t saved_rows = 0;
    for (uint32_t y = a; y < b; ++y) {
        const uint8_t* now = &shadow_[size_t(y) * rb];
        const uint8_t* was = &saved_[size_t(y - a) * rb];
        uint32_t x0 = UINT32_MAX, x1 = 0;
        if (std::memcmp(now, was, rb) != 0)
            for (uint32_t x = 0; x < W; ++x)
                if (!same_rgb(now + size_t(x) * 4, was + size_t(x) * 4)) {
                    if (x0 == UINT32_MAX) x0 = x;
                    x1 = x + 1;
                }
        if (x0 == UINT32_MAX) {
            if (changed_[y]) ++saved_rows;
            continue;
        }
        Rect r{x0, y, x1 - x0, 1};
        if (!bad.empty() && bad.back().y + bad.back().h == y) {  // grow the previous row's rect
            Rect& p = bad.back();
            uint32_t nx0 = std::min(p.x, r.x), nx1 = std::max(p.x + p.w, r.x + r.w);
            p.x = nx0;
            p.w = nx1 - nx0;
            p.h += 1;
        } else {
            bad.push_back(r);
        }
    }
    // Up to a frame: not kept between scrolls (the VM process's idle RSS).
    std::vector<uint8_t>().swap(saved_);
    if (saved_rows < min_move_rows()) return ch;  // the guest changed the band under us: plain update
    ch.has_move = true;
    ch.move.dst = {0, a, W, b - a};
    ch.move.src_x = 0;
    ch.move.src_y = uint32_t(int64_t(a) + dy);
    for (const Rect& r : found) {
        if (r.y < a) ch.rest.push_back({r.x, r.y, r.w, std::min(r.y + r.h, a) - r.y});
        if (r.y + r.h > b) {
            uint32_t y0 = std::max(r.y, b);
            ch.rest.push_back({r.x, y0, r.w, r.y + r.h - y0});
        }
    }
    ch.rest.insert(ch.rest.end(), bad.begin(), bad.end());
    return ch;
}

bool Collector::find_move(const Surface& s, const std::vector<std::pair<uint32_t, uint32_t>>& rows, uint32_t& a,
                          uint32_t& b, int32_t& dy) {
    if (!hashes_ok_) return false;
    const uint32_t H = height_;
    const size_t rb = size_t(width_) * 4;
    fresh_ = hash_;  // rows the log does not name are unchanged
    dirty_.assign(H, 0);
    std::vector<uint32_t> changed;
    for (auto [r0, r1] : rows) {
        r1 = std::min(r1, H);
        for (uint32_t y = r0; y < r1; ++y) {
            if (dirty_[y]) continue;
            dirty_[y] = 1;
            uint64_t h = row_hash(s.base + size_t(y) * s.stride, rb);
            fresh_[y] = h;
            if (h != hash_[y]) {
                dirty_[y] = 2;
                changed.push_back(y);
            }
        }
    }
    if (changed.size() < min_move_rows()) return false;
    std::sort(changed.begin(), changed.end());

    // Vote: distinctive changed rows (their hash is on at most 4 old rows;
    // blank rows are everywhere and say nothing) found elsewhere in the old picture.
    std::vector<std::pair<uint64_t, uint32_t>> old(H);
    for (uint32_t y = 0; y < H; ++y) old[y] = {hash_[y], y};
    std::sort(old.begin(), old.end());
    std::vector<std::pair<int32_t, uint32_t>> votes;  // offset, count
    size_t step = std::max<size_t>(1, changed.size() / kMaxSamples);
    for (size_t i = 0; i < changed.size(); i += step) {
        uint32_t y = changed[i];
        auto lo = std::lower_bound(old.begin(), old.end(), std::make_pair(fresh_[y], uint32_t(0)));
        auto hi = lo;
        while (hi != old.end() && hi->first == fresh_[y] && hi - lo <= 4) ++hi;
        if (hi == lo || hi - lo > 4) continue;
        for (auto it = lo; it != hi; ++it) {
            int32_t d = int32_t(it->second) - int32_t(y);
            auto v = std::find_if(votes.begin(), votes.end(), [d](auto& e) { return e.first == d; });
            if (v == votes.end()) votes.emplace_back(d, 1);
            else v->second++;
        }
    }
    if (votes.empty()) return false;
    std::sort(votes.begin(), votes.end(), [](auto& x, auto& y) { return x.second > y.second; });

    // Best band per candidate: max-sum run of +1 (a changed row the shift
    // explains), 0 (harmless), -1 (an unchanged row the copy would break).
    int64_t best = 0;
    for (size_t k = 0; k < votes.size() && k < 3; ++k) {
        int32_t d = votes[k].first;
        uint32_t lo = d < 0 ? uint32_t(-d) : 0;
        uint32_t hi = d > 0 ? H - uint32_t(d) : H;
        int64_t cur = 0;
        uint32_t start = lo;
        for (uint32_t y = lo; y < hi; ++y) {
            bool match = fresh_[y] == hash_[uint32_t(int64_t(y) + d)];
            bool chg = dirty_[y] == 2;
            int v = match && chg ? 1 : (!match && !chg ? -1 : 0);
            if (cur <= 0) cur = 0, start = y;
            cur += v;
            if (cur > best) best = cur, a = start, b = y + 1, dy = d;
        }
    }
    return best >= int64_t(min_move_rows());
}

std::vector<Rect> Collector::refine(const Surface& s, const std::vector<std::pair<uint32_t, uint32_t>>& rows) {
    const uint32_t W = width_, H = height_;
    const size_t row_bytes = size_t(W) * 4;
    row_.resize(row_bytes);
    constexpr uint32_t kGap = 32;  // unchanged pixels that still join two changes
    struct Open { uint32_t x0, x1, y0, y1; bool touched; };
    std::vector<Open> open;
    std::vector<Rect> found;
    auto close_untouched = [&](bool all) {
        for (size_t i = 0; i < open.size();) {
            if (all || !open[i].touched) {
                found.push_back({open[i].x0, open[i].y0, open[i].x1 - open[i].x0, open[i].y1 - open[i].y0});
                open.erase(open.begin() + ptrdiff_t(i));
            } else {
                open[i].touched = false;
                ++i;
            }
        }
    };
    std::vector<std::pair<uint32_t, uint32_t>> spans;
    uint32_t prev_y = UINT32_MAX;
    for (auto [a, b] : rows) {
        b = std::min(b, H);
        for (uint32_t y = a; y < b; ++y) {
            if (prev_y != UINT32_MAX && y != prev_y + 1) close_untouched(true);
            prev_y = y;
            // One read of guest memory: what is compared is what is kept.
            std::memcpy(row_.data(), s.base + size_t(y) * s.stride, row_bytes);
            uint8_t* sh = &shadow_[size_t(y) * row_bytes];
            spans.clear();
            if (std::memcmp(row_.data(), sh, row_bytes) != 0) {
                const uint8_t* p = row_.data();
                for (uint32_t x = 0; x < W; ++x) {
                    const uint8_t* q = p + size_t(x) * 4;
                    const uint8_t* r = sh + size_t(x) * 4;
                    if (same_rgb(q, r)) continue;  // byte 3 is padding
                    if (!spans.empty() && x - spans.back().second <= kGap) spans.back().second = x + 1;
                    else spans.emplace_back(x, x + 1);
                }
                std::memcpy(sh, row_.data(), row_bytes);
                if (hashes_ok_) hash_[y] = row_hash(sh, row_bytes);
                if (!spans.empty() && y < changed_.size()) changed_[y] = 1;
            }
            for (auto [x0, x1] : spans) {
                Open* hit = nullptr;
                for (Open& o : open)
                    if (o.x0 <= x1 + kGap && x0 <= o.x1 + kGap) { hit = &o; break; }
                if (hit) {
                    hit->x0 = std::min(hit->x0, x0);
                    hit->x1 = std::max(hit->x1, x1);
                    hit->y1 = y + 1;
                    hit->touched = true;
                } else {
                    open.push_back({x0, x1, y, y + 1, true});
                }
            }
            close_untouched(false);
        }
    }
    close_untouched(true);
    return found;
}

}  // namespace vmm::rfb
