// One RFB client's protocol state, without any I/O: bytes from the client go
// in (receive), bytes for the client accumulate in out(). Owns the client's
// pixel format, encodings, zlib stream, pending update request and damage.
//
// The client's picture is tracked without a copy of it: after applying the
// pending moves (CopyRects, in order) to what the client holds, it equals the
// server's shadow everywhere outside the damage. A move is accepted only for
// a client that announced CopyRect and has the shadow's size, and the damage
// inside the move's source travels with it to the destination.
// The server (server.h) moves bytes and decides when to call update(); the
// fuzz target drives a Session directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rfb/collect.h"
#include "rfb/encode.h"
#include "rfb/protocol.h"
#include "rfb/tight.h"

namespace vmm::rfb {

class InputSink {
public:
    virtual ~InputSink() = default;
    virtual void key_event(uint16_t qnum, bool down) = 0;
    // Framebuffer pixels; buttons bit0 left, bit1 middle, bit2 right; wheel > 0 up.
    virtual void pointer_event(int32_t x, int32_t y, uint32_t buttons, int32_t wheel) = 0;
};

// A set of rectangles, merged when that costs little; at most kMax rects
// (then the bounding box).
class Region {
public:
    static constexpr size_t kMax = 48;
    void add(Rect r);
    void clear() { rects_.clear(); }
    bool empty() const { return rects_.empty(); }
    const std::vector<Rect>& rects() const { return rects_; }
    void clip(uint32_t w, uint32_t h);

private:
    std::vector<Rect> rects_;
};

struct UpdateStats {
    uint64_t updates = 0, rects = 0, bytes = 0;   // FramebufferUpdate messages sent
    uint64_t last_bytes = 0, last_rects = 0;
    uint64_t copies = 0, last_copies = 0;         // CopyRect rectangles
};

class Session {
public:
    // width/height: the framebuffer now (for ServerInit). Queues the version greeting.
    Session(InputSink* input, std::string name, uint32_t width, uint32_t height);

    // Client bytes. False: close the client (reason() says why).
    bool receive(const uint8_t* data, size_t n);
    const std::string& reason() const { return reason_; }

    std::vector<uint8_t>& out() { return out_; }

    bool ready() const { return initialised_; }
    bool wants_update() const { return request_pending_; }
    // A non-incremental request is waiting (the server refreshes its shadow first).
    bool wants_full() const { return request_pending_ && force_reply_; }
    // A request is pending and there is something to send.
    bool has_work() const;
    // Something to send once the client asks (changes, a new size, an ack).
    bool has_pending() const {
        return initialised_ && (send_ext_key_ack_ || send_desktop_size_ || !damage_.empty() || !moves_.empty());
    }
    // The framebuffer changed here (clipped to the client's size).
    void damage(const Rect& r);
    // The shadow's picture at m's source moved to m.dst this tick. True: the
    // client will get a CopyRect (the caller then adds only the changes the
    // move does not explain); false: not applicable or not worth it for this
    // client, nothing changed (the caller adds every change).
    bool move(const Move& m);
    // Announced CopyRect and has the shadow's size (moves can apply).
    bool can_copy() const { return initialised_ && want_copy_ && width_ == fb_width_ && height_ == fb_height_; }
    static constexpr size_t kMaxMoves = 16;  // pending CopyRects; more turn into damage
    // New framebuffer geometry: DesktopSize if the client supports it (then
    // a full update), else the old size stays and updates are clipped.
    void resize(uint32_t width, uint32_t height);
    // Appends one FramebufferUpdate to out() if has_work(); `f` is the
    // server's shadow (its size may differ from the client's: clipped).
    // False if encoding failed (close the client).
    bool update(const Frame& f);

    const UpdateStats& stats() const { return stats_; }
    const std::string& cut_text() const { return cut_text_; }
    uint64_t cut_text_count() const { return cut_count_; }
    int minor() const { return parser_.minor(); }
    const PixelFormat& pixel_format() const { return pc_.format(); }
    int32_t encoding() const { return encoding_; }
    uint32_t width() const { return width_; }
    uint32_t height() const { return height_; }

private:
    bool handle(Msg& m);
    bool fail(std::string why);
    void flatten_moves();  // pending moves become damage of their destinations

    InputSink* input_;
    std::string name_;
    Parser parser_;
    std::vector<uint8_t> out_;
    std::vector<Msg> msgs_;
    std::string reason_;

    bool initialised_ = false;
    uint32_t width_, height_;        // the client's idea of the framebuffer
    uint32_t fb_width_, fb_height_;  // the server's
    PixelConverter pc_;
    int32_t encoding_ = kEncRaw;
    bool want_desktop_size_ = false, want_ext_key_ = false, want_copy_ = false;
    // A Tight client that takes ZRLE too: rects under one Tight piece go as
    // ZRLE, smaller for a glyph or a scrolled-in line (one zlib flush, no palette header).
    bool zrle_too_ = false;
    bool send_desktop_size_ = false, send_ext_key_ack_ = false;
    bool request_pending_ = false, force_reply_ = false;
    Region damage_;
    std::vector<Move> moves_;  // applied before damage_, in order
    std::unique_ptr<ZrleEncoder> zrle_;
    std::unique_ptr<TightEncoder> tight_;
    uint8_t last_buttons_ = 0;
    std::string cut_text_;
    uint64_t cut_count_ = 0;
    UpdateStats stats_;
};

}  // namespace vmm::rfb
