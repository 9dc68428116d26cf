// RFB (VNC) protocol, server side: wire constants, the client's pixel format,
// and the incremental parser of everything a client sends.
//
// The parser is a pure state machine: bytes in (any split), parsed messages
// out, or an error with a reason. It knows the handshake order (version,
// security choice for 3.7/3.8, ClientInit, then normal messages) so the
// server only reacts to what it returns. Nothing a client sends can make it
// buffer more than kMaxMessage bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vmm::rfb {

// Encodings and pseudo-encodings we know.
constexpr int32_t kEncRaw = 0;
constexpr int32_t kEncCopyRect = 1;
constexpr int32_t kEncTight = 7;
constexpr int32_t kEncZrle = 16;
constexpr int32_t kEncDesktopSize = -223;
constexpr int32_t kEncQemuExtKey = -258;

constexpr size_t kMaxCutText = 1 << 20;  // longer ClientCutText closes the client

struct PixelFormat {
    uint8_t bpp = 32, depth = 24;
    bool big_endian = false, true_colour = true;
    uint16_t red_max = 255, green_max = 255, blue_max = 255;
    uint8_t red_shift = 16, green_shift = 8, blue_shift = 0;

    // The server's own format: XRGB8888 little-endian, what the guest draws.
    static PixelFormat native() { return {}; }
    bool is_native() const;
    // Empty if usable, else why not.
    std::string check() const;
    void write(uint8_t out[16]) const;
    static PixelFormat read(const uint8_t in[16]);
};

struct Rect {
    uint32_t x = 0, y = 0, w = 0, h = 0;
    bool empty() const { return w == 0 || h == 0; }
    uint64_t area() const { return uint64_t(w) * h; }
    bool operator==(const Rect&) const = default;
};

enum class MsgType : uint8_t {
    Version,          // minor: 3, 7 or 8
    SecurityChoice,   // value: chosen type (3.7/3.8 only)
    ClientInit,       // value: shared flag
    SetPixelFormat,   // pf
    SetEncodings,     // encodings
    UpdateRequest,    // incremental, rect (unclamped)
    Key,              // down, keysym
    Pointer,          // buttons, x, y
    CutText,          // text
    QemuKey,          // down, keysym, keycode (qnum)
};

struct Msg {
    MsgType type = MsgType::Key;
    uint32_t value = 0;      // version minor, security type, shared flag
    bool down = false, incremental = false;
    uint32_t keysym = 0, keycode = 0;
    uint8_t buttons = 0;
    uint16_t x = 0, y = 0;
    Rect rect;
    PixelFormat pf;
    std::vector<int32_t> encodings;
    std::string text;
};

class Parser {
public:
    // Everything fed is consumed; complete messages are appended to `out`.
    // Returns false on a protocol error (error() says why); the parser then
    // refuses all further input.
    bool feed(const uint8_t* data, size_t n, std::vector<Msg>& out);
    const std::string& error() const { return error_; }
    int minor() const { return minor_; }
    bool in_handshake() const { return state_ != State::Normal; }
    size_t buffered() const { return buf_.size(); }

private:
    enum class State : uint8_t { Version, Security, ClientInit, Normal, Failed };
    // Bytes the message starting at buf_[0] needs in total, 0 if not yet
    // known (more header bytes needed), or SIZE_MAX on an error.
    size_t needed();
    bool parse_one(std::vector<Msg>& out);  // buf_ holds a whole message
    bool fail(std::string why);

    State state_ = State::Version;
    int minor_ = 0;
    std::vector<uint8_t> buf_;
    std::string error_;
};

// Big-endian helpers for the wire.
inline void put8(std::vector<uint8_t>& o, uint8_t v) { o.push_back(v); }
inline void put16(std::vector<uint8_t>& o, uint16_t v) {
    o.push_back(uint8_t(v >> 8));
    o.push_back(uint8_t(v));
}
inline void put32(std::vector<uint8_t>& o, uint32_t v) {
    put16(o, uint16_t(v >> 16));
    put16(o, uint16_t(v));
}
inline uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

}  // namespace vmm::rfb
