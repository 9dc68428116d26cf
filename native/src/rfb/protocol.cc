#include "rfb/protocol.h"

#include <cstdint>
#include <cstring>

namespace vmm::rfb {

namespace {
bool pow2_minus1(uint32_t v) { return v != 0 && ((v + 1) & v) == 0; }
int bits_of(uint32_t max) { int b = 0; while (max) { ++b; max >>= 1; } return b; }
}  // namespace

bool PixelFormat::is_native() const {
    return bpp == 32 && !big_endian && true_colour && red_max == 255 && green_max == 255 && blue_max == 255 &&
           red_shift == 16 && green_shift == 8 && blue_shift == 0;
}

std::string PixelFormat::check() const {
    if (bpp != 8 && bpp != 16 && bpp != 32) return "bits-per-pixel " + std::to_string(bpp) + " not 8, 16 or 32";
    if (depth == 0 || depth > bpp) return "depth " + std::to_string(depth) + " invalid for " + std::to_string(bpp) + " bpp";
    // We never send a colour map, so only true colour is usable.
    if (!true_colour) return "colour-map pixel formats are not supported";
    const uint32_t maxes[3] = {red_max, green_max, blue_max};
    const uint32_t shifts[3] = {red_shift, green_shift, blue_shift};
    for (int i = 0; i < 3; ++i) {
        if (!pow2_minus1(maxes[i])) return "colour max " + std::to_string(maxes[i]) + " is not 2^n-1";
        if (shifts[i] + bits_of(maxes[i]) > bpp) return "colour shift/max outside the pixel";
    }
    return {};
}

void PixelFormat::write(uint8_t o[16]) const {
    std::memset(o, 0, 16);
    o[0] = bpp;
    o[1] = depth;
    o[2] = big_endian;
    o[3] = true_colour;
    o[4] = uint8_t(red_max >> 8), o[5] = uint8_t(red_max);
    o[6] = uint8_t(green_max >> 8), o[7] = uint8_t(green_max);
    o[8] = uint8_t(blue_max >> 8), o[9] = uint8_t(blue_max);
    o[10] = red_shift, o[11] = green_shift, o[12] = blue_shift;
}

PixelFormat PixelFormat::read(const uint8_t in[16]) {
    PixelFormat p;
    p.bpp = in[0];
    p.depth = in[1];
    p.big_endian = in[2] != 0;
    p.true_colour = in[3] != 0;
    p.red_max = get16(in + 4);
    p.green_max = get16(in + 6);
    p.blue_max = get16(in + 8);
    p.red_shift = in[10];
    p.green_shift = in[11];
    p.blue_shift = in[12];
    return p;
}

bool Parser::fail(std::string why) {
    state_ = State::Failed;
    error_ = std::move(why);
    buf_.clear();
    buf_.shrink_to_fit();
    return false;
}

size_t Parser::needed() {
    switch (state_) {
        case State::Version: return 12;
        case State::Security:
        case State::ClientInit: return 1;
        case State::Failed: return SIZE_MAX;
        case State::Normal: break;
    }
    if (buf_.empty()) return 1;
    switch (buf_[0]) {
        case 0: return 20;                                     // SetPixelFormat
        case 2: return buf_.size() < 4 ? 4 : 4 + 4 * size_t(get16(&buf_[2]));  // SetEncodings
        case 3: return 10;                                     // FramebufferUpdateRequest
        case 4: return 8;                                      // KeyEvent
        case 5: return 6;                                      // PointerEvent
        case 6: {                                              // ClientCutText
            if (buf_.size() < 8) return 8;
            uint32_t len = get32(&buf_[4]);
            if (len > kMaxCutText) {
                fail("ClientCutText of " + std::to_string(len) + " bytes (limit " + std::to_string(kMaxCutText) + ")");
                return SIZE_MAX;
            }
            return 8 + size_t(len);
        }
        case 255:                                              // QEMU client message
            if (buf_.size() < 2) return 2;
            if (buf_[1] == 0) return 12;                       // extended key event
            fail("unsupported QEMU client message " + std::to_string(buf_[1]));
            return SIZE_MAX;
        default:
            fail("unknown client message type " + std::to_string(buf_[0]));
            return SIZE_MAX;
    }
}

bool Parser::feed(const uint8_t* data, size_t n, std::vector<Msg>& out) {
    if (state_ == State::Failed) return false;
    size_t pos = 0;
    while (pos < n) {
        size_t need = needed();
        if (need == SIZE_MAX) return false;
        size_t take = std::min(need - buf_.size(), n - pos);
        buf_.insert(buf_.end(), data + pos, data + pos + take);
        pos += take;
        if (buf_.size() < need) continue;
        size_t again = needed();  // a header may reveal a longer message
        if (again == SIZE_MAX) return false;
        if (again > buf_.size()) continue;
        if (!parse_one(out)) return false;
        buf_.clear();
        if (buf_.capacity() > 4096) buf_.shrink_to_fit();  // after a big message
    }
    return true;
}

bool Parser::parse_one(std::vector<Msg>& out) {
    const uint8_t* p = buf_.data();
    switch (state_) {
        case State::Version: {
            // "RFB 003.008\n"
            if (std::memcmp(p, "RFB ", 4) != 0 || p[7] != '.' || p[11] != '\n') return fail("bad protocol version string");
            int major = 0, minor = 0;
            for (int i = 4; i < 7; ++i) {
                if (p[i] < '0' || p[i] > '9') return fail("bad protocol version string");
                major = major * 10 + (p[i] - '0');
            }
            for (int i = 8; i < 11; ++i) {
                if (p[i] < '0' || p[i] > '9') return fail("bad protocol version string");
                minor = minor * 10 + (p[i] - '0');
            }
            if (major != 3) return fail("unsupported protocol version " + std::to_string(major) + "." + std::to_string(minor));
            // 3.4-3.6 are treated as 3.3 (spec); anything newer as 3.8 (e.g. Apple's 3.889).
            minor_ = minor >= 8 ? 8 : minor == 7 ? 7 : 3;
            Msg m;
            m.type = MsgType::Version;
            m.value = uint32_t(minor_);
            out.push_back(std::move(m));
            state_ = minor_ == 3 ? State::ClientInit : State::Security;
            return true;
        }
        case State::Security: {
            if (p[0] != 1) return fail("security type " + std::to_string(p[0]) + " was not offered");
            Msg m;
            m.type = MsgType::SecurityChoice;
            m.value = p[0];
            out.push_back(std::move(m));
            state_ = State::ClientInit;
            return true;
        }
        case State::ClientInit: {
            Msg m;
            m.type = MsgType::ClientInit;
            m.value = p[0];
            out.push_back(std::move(m));
            state_ = State::Normal;
            return true;
        }
        case State::Failed: return false;
        case State::Normal: break;
    }
    Msg m;
            m.type = MsgType::Key;
    switch (p[0]) {
        case 0:
            m.type = MsgType::SetPixelFormat;
            m.pf = PixelFormat::read(p + 4);
            break;
        case 2: {
            m.type = MsgType::SetEncodings;
            size_t count = get16(p + 2);
            m.encodings.reserve(count);
            for (size_t i = 0; i < count; ++i) m.encodings.push_back(int32_t(get32(p + 4 + 4 * i)));
            break;
        }
        case 3:
            m.type = MsgType::UpdateRequest;
            m.incremental = p[1] != 0;
            m.rect = {get16(p + 2), get16(p + 4), get16(p + 6), get16(p + 8)};
            break;
        case 4:
            m.type = MsgType::Key;
            m.down = p[1] != 0;
            m.keysym = get32(p + 4);
            break;
        case 5:
            m.type = MsgType::Pointer;
            m.buttons = p[1];
            m.x = get16(p + 2);
            m.y = get16(p + 4);
            break;
        case 6:
            m.type = MsgType::CutText;
            m.text.assign(reinterpret_cast<const char*>(p + 8), buf_.size() - 8);
            break;
        case 255:
            m.type = MsgType::QemuKey;
            m.down = get16(p + 2) != 0;
            m.keysym = get32(p + 4);
            m.keycode = get32(p + 8);
            break;
        default: return fail("unknown client message type " + std::to_string(p[0]));
    }
    out.push_back(std::move(m));
    return true;
}

}  // namespace vmm::rfb
