#include "rfb/session.h"

#include <algorithm>

#include "rfb/keysym.h"

namespace vmm::rfb {

namespace {

Rect unite(const Rect& a, const Rect& b) {
    uint32_t x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
    uint32_t x1 = std::max(a.x + a.w, b.x + b.w), y1 = std::max(a.y + a.h, b.y + b.h);
    return {x0, y0, x1 - x0, y1 - y0};
}

bool contains(const Rect& a, const Rect& b) {
    return b.x >= a.x && b.y >= a.y && b.x + b.w <= a.x + a.w && b.y + b.h <= a.y + a.h;
}

// Overlapping or within `gap` pixels of each other.
bool near(const Rect& a, const Rect& b, uint32_t gap) {
    return a.x <= b.x + b.w + gap && b.x <= a.x + a.w + gap && a.y <= b.y + b.h + gap && b.y <= a.y + a.h + gap;
}

Rect clamp(Rect r, uint32_t w, uint32_t h) {
    if (r.x >= w || r.y >= h) return {};
    r.w = std::min(r.w, w - r.x);
    r.h = std::min(r.h, h - r.y);
    return r;
}

bool inside(const Rect& r, uint32_t w, uint32_t h) {
    return r.x <= w && r.y <= h && r.w <= w - r.x && r.h <= h - r.y;
}

Rect intersect(const Rect& a, const Rect& b) {
    uint32_t x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
    uint32_t x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
    if (x1 <= x0 || y1 <= y0) return {};
    return {x0, y0, x1 - x0, y1 - y0};
}

}  // namespace

void Region::add(Rect r) {
    if (r.empty()) return;
    for (;;) {
        bool merged = false;
        for (size_t i = 0; i < rects_.size(); ++i) {
            const Rect& e = rects_[i];
            if (contains(e, r)) return;
            // Merge when the union wastes little: one header (12 bytes) and a
            // tile start are worth ~ a few hundred pixels.
            if (contains(r, e) || (near(e, r, 8) && unite(e, r).area() <= e.area() + r.area() + 512)) {
                r = unite(e, r);
                rects_.erase(rects_.begin() + ptrdiff_t(i));
                merged = true;
                break;
            }
        }
        if (!merged) break;
    }
    rects_.push_back(r);
    if (rects_.size() > kMax) {
        Rect all = rects_[0];
        for (const Rect& e : rects_) all = unite(all, e);
        rects_.assign(1, all);
    }
}

void Region::clip(uint32_t w, uint32_t h) {
    std::vector<Rect> keep;
    for (const Rect& r : rects_) {
        Rect c = clamp(r, w, h);
        if (!c.empty()) keep.push_back(c);
    }
    rects_.swap(keep);
}

Session::Session(InputSink* input, std::string name, uint32_t width, uint32_t height)
    : input_(input), name_(std::move(name)), width_(width), height_(height), fb_width_(width), fb_height_(height) {
    static const char kVersion[] = "RFB 003.008\n";
    out_.assign(kVersion, kVersion + 12);
}

bool Session::fail(std::string why) {
    if (reason_.empty()) reason_ = std::move(why);
    return false;
}

bool Session::receive(const uint8_t* data, size_t n) {
    if (!reason_.empty()) return false;
    msgs_.clear();
    bool ok = parser_.feed(data, n, msgs_);
    // Messages before a bad one still count (a key release, say).
    for (Msg& m : msgs_)
        if (!handle(m)) return false;
    msgs_.clear();
    if (!ok) return fail(parser_.error());
    return true;
}

bool Session::handle(Msg& m) {
    switch (m.type) {
        case MsgType::Version:
            if (m.value == 3) {
                put32(out_, 1);  // 3.3: the server picks: None
            } else {
                put8(out_, 1);  // one type offered: None
                put8(out_, 1);
            }
            return true;
        case MsgType::SecurityChoice:
            if (parser_.minor() == 8) put32(out_, 0);  // SecurityResult OK (3.8 only)
            return true;
        case MsgType::ClientInit: {
            // Every client shares the display; the flag is ignored.
            width_ = fb_width_;
            height_ = fb_height_;
            put16(out_, uint16_t(width_));
            put16(out_, uint16_t(height_));
            uint8_t pf[16];
            PixelFormat::native().write(pf);
            out_.insert(out_.end(), pf, pf + 16);
            put32(out_, uint32_t(name_.size()));
            out_.insert(out_.end(), name_.begin(), name_.end());
            initialised_ = true;
            return true;
        }
        case MsgType::SetPixelFormat: {
            std::string bad = m.pf.check();
            if (!bad.empty()) return fail("SetPixelFormat: " + bad);
            pc_.set(m.pf);
            return true;
        }
        case MsgType::SetEncodings: {
            encoding_ = kEncRaw;
            bool chosen = false, ext = false, copy = false, zrle = false;
            want_desktop_size_ = false;
            for (int32_t e : m.encodings) {
                if (!chosen && (e == kEncZrle || e == kEncTight || e == kEncRaw)) encoding_ = e, chosen = true;
                if (e == kEncDesktopSize) want_desktop_size_ = true;
                if (e == kEncQemuExtKey) ext = true;
                if (e == kEncCopyRect) copy = true;
                if (e == kEncZrle) zrle = true;
            }
            want_copy_ = copy;
            if (!copy) flatten_moves();
            if (ext && !want_ext_key_) send_ext_key_ack_ = true;
            want_ext_key_ = ext;
            zrle_too_ = encoding_ == kEncTight && zrle;
            if ((encoding_ == kEncZrle || zrle_too_) && !zrle_) zrle_ = std::make_unique<ZrleEncoder>();
            if (encoding_ == kEncTight && !tight_) tight_ = std::make_unique<TightEncoder>();
            return true;
        }
        case MsgType::UpdateRequest: {
            request_pending_ = true;
            if (!m.incremental) {
                force_reply_ = true;
                damage_.add(clamp(m.rect, width_, height_));
            }
            return true;
        }
        case MsgType::Key:
        case MsgType::QemuKey: {
            uint16_t q = m.type == MsgType::QemuKey && m.keycode ? uint16_t(m.keycode & 0xffff) : keysym_to_qnum(m.keysym);
            if (m.type == MsgType::QemuKey && m.keycode > 0xffff) q = 0;  // not a qnum
            if (q && input_) input_->key_event(q, m.down);
            return true;
        }
        case MsgType::Pointer: {
            // Buttons 4/5 (mask bits 3/4) are wheel up/down: one click per press.
            int32_t wheel = 0;
            uint8_t pressed = m.buttons & ~last_buttons_;
            if (pressed & 0x08) ++wheel;
            if (pressed & 0x10) --wheel;
            last_buttons_ = m.buttons;
            int32_t x = std::min<int32_t>(m.x, int32_t(std::max<uint32_t>(fb_width_, 1) - 1));
            int32_t y = std::min<int32_t>(m.y, int32_t(std::max<uint32_t>(fb_height_, 1) - 1));
            if (input_) input_->pointer_event(x, y, m.buttons & 7, wheel);
            return true;
        }
        case MsgType::CutText:
            cut_text_ = std::move(m.text);
            ++cut_count_;
            return true;
    }
    return true;
}

bool Session::has_work() const {
    if (!initialised_ || !request_pending_) return false;
    return force_reply_ || send_ext_key_ack_ || send_desktop_size_ || !damage_.empty() || !moves_.empty();
}

void Session::flatten_moves() {
    // Without the copies the client's picture differs from "copies applied"
    // only inside their destinations.
    for (const Move& m : moves_) damage_.add(clamp(m.dst, width_, height_));
    moves_.clear();
}

bool Session::move(const Move& m) {
    if (!can_copy()) return false;
    const Rect& d = m.dst;
    Rect src{m.src_x, m.src_y, d.w, d.h};
    if (d.empty() || !inside(d, width_, height_) || !inside(src, width_, height_)) return false;
    if (moves_.size() >= kMaxMoves) flatten_moves();
    // What this client lacks inside the source is lacking at the destination after the copy.
    std::vector<Rect> carried;
    uint64_t carried_area = 0;
    for (const Rect& r : damage_.rects()) {
        Rect i = intersect(r, src);
        if (i.empty()) continue;
        carried.push_back({i.x - src.x + d.x, i.y - src.y + d.y, i.w, i.h});
        carried_area += i.area();
    }
    if (carried_area * 2 > d.area()) return false;  // it lacks most of the source: encode instead
    moves_.push_back(m);
    for (const Rect& r : carried) damage_.add(r);
    return true;
}

void Session::damage(const Rect& r) {
    if (!initialised_) return;
    damage_.add(clamp(r, width_, height_));
}

void Session::resize(uint32_t width, uint32_t height) {
    moves_.clear();  // the full damage below covers them
    fb_width_ = width;
    fb_height_ = height;
    if (!initialised_) return;  // ServerInit will carry it
    if (want_desktop_size_ && (width != width_ || height != height_)) {
        width_ = width;
        height_ = height;
        send_desktop_size_ = true;
        damage_.clear();
    }
    damage_.add({0, 0, width_, height_});
}

bool Session::update(const Frame& f) {
    if (!has_work()) return true;
    // Only what both the client and the shadow have.
    const uint32_t cw = std::min(width_, f.width), chh = std::min(height_, f.height);
    for (const Move& m : moves_)  // cannot happen (resize clears them); stay exact anyway
        if (!inside(m.dst, cw, chh) || !inside({m.src_x, m.src_y, m.dst.w, m.dst.h}, cw, chh)) {
            flatten_moves();
            break;
        }
    damage_.clip(cw, chh);
    size_t start = out_.size();
    put8(out_, 0);
    put8(out_, 0);
    put16(out_, 0);  // rect count, patched below
    uint32_t count = 0;
    auto header = [&](uint32_t x, uint32_t y, uint32_t w, uint32_t h, int32_t enc) {
        put16(out_, uint16_t(x));
        put16(out_, uint16_t(y));
        put16(out_, uint16_t(w));
        put16(out_, uint16_t(h));
        put32(out_, uint32_t(enc));
        ++count;
    };
    if (send_desktop_size_) header(0, 0, width_, height_, kEncDesktopSize);
    if (send_ext_key_ack_) header(0, 0, width_, height_, kEncQemuExtKey);
    send_desktop_size_ = send_ext_key_ack_ = false;
    // Copies first: they act on the client's picture as it is, the
    // rectangles after them overwrite what the copies could not provide.
    uint32_t copies = 0;
    for (const Move& m : moves_) {
        header(m.dst.x, m.dst.y, m.dst.w, m.dst.h, kEncCopyRect);
        put16(out_, uint16_t(m.src_x));
        put16(out_, uint16_t(m.src_y));
        ++copies;
    }
    moves_.clear();
    for (const Rect& r : damage_.rects()) {
        if (encoding_ == kEncTight && !(zrle_too_ && r.area() < TightEncoder::kMaxArea)) {
            if (!tight_->encode(f, r, pc_, out_, count)) return fail("zlib error");  // its own headers, one per piece
            continue;
        }
        const int32_t enc = encoding_ == kEncTight ? kEncZrle : encoding_;
        header(r.x, r.y, r.w, r.h, enc);
        if (enc == kEncZrle) {
            if (!zrle_->encode(f, r, pc_, out_)) return fail("zlib error");
        } else {
            encode_raw(f, r, pc_, out_);
        }
    }
    out_[start + 2] = uint8_t(count >> 8);
    out_[start + 3] = uint8_t(count);
    damage_.clear();
    request_pending_ = force_reply_ = false;
    stats_.updates++;
    stats_.rects += count;
    stats_.last_rects = count;
    stats_.copies += copies;
    stats_.last_copies = copies;
    stats_.last_bytes = out_.size() - start;
    stats_.bytes += stats_.last_bytes;
    return true;
}

}  // namespace vmm::rfb
