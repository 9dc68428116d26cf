// A small RFB client for the rfb_* tests: handshake, SetPixelFormat,
// SetEncodings, update requests, and decoders for Raw, CopyRect, ZRLE and
// Tight (no JPEG, no gradient filter) written from
// the protocol description (not from the server's code), so a round trip
// proves the encoder. Pixels are kept as the client's pixel values.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "rfb/protocol.h"

namespace rfbtest {

using vmm::rfb::PixelFormat;

// tight: the Tight compression control's top nibble (8 fill, else basic:
// bit 2 filter follows, bits 0-1 stream) and filter / palette size.
struct RectInfo { uint32_t x, y, w, h; int32_t enc; uint8_t tight = 0, filter = 0; unsigned colours = 0; };

// The client-side value of an XRGB pixel in format pf (spec: scale each
// 8-bit channel to 0..max, rounded).
inline uint32_t expect_pixel(const PixelFormat& pf, uint32_t xrgb) {
    uint32_t r = (xrgb >> 16) & 255, g = (xrgb >> 8) & 255, b = xrgb & 255;
    return ((r * pf.red_max + 127) / 255) << pf.red_shift | ((g * pf.green_max + 127) / 255) << pf.green_shift |
           ((b * pf.blue_max + 127) / 255) << pf.blue_shift;
}

class Client {
public:
    int fd = -1;
    PixelFormat pf;
    uint32_t width = 0, height = 0;
    std::string name;
    std::vector<uint32_t> fb;
    std::string error;
    uint64_t bytes_read = 0;

    explicit Client(int f) : fd(f) {
        std::memset(&zs_, 0, sizeof zs_);
        inflateInit(&zs_);
        for (z_stream& z : tz_) {
            std::memset(&z, 0, sizeof z);
            inflateInit(&z);
        }
    }
    ~Client() {
        inflateEnd(&zs_);
        for (z_stream& z : tz_) inflateEnd(&z);
        if (fd >= 0) ::close(fd);
    }

    bool read_exact(void* p, size_t n, int timeout_ms = 5000) {
        uint8_t* o = static_cast<uint8_t*>(p);
        while (n) {
            pollfd pfd{fd, POLLIN, 0};
            if (::poll(&pfd, 1, timeout_ms) <= 0) { error = "timeout"; return false; }
            ssize_t k = ::recv(fd, o, n, 0);
            if (k <= 0) { error = "closed"; return false; }
            o += k;
            n -= size_t(k);
            bytes_read += size_t(k);
        }
        return true;
    }
    void send(const std::vector<uint8_t>& b) {
        size_t off = 0;
        while (off < b.size()) {
            ssize_t k = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
            if (k <= 0) return;
            off += size_t(k);
        }
    }
    uint8_t u8() { uint8_t v = 0; read_exact(&v, 1); return v; }
    uint16_t u16() { uint8_t v[2] = {}; read_exact(v, 2); return uint16_t(v[0] << 8 | v[1]); }
    uint32_t u32() { uint8_t v[4] = {}; read_exact(v, 4); return vmm::rfb::get32(v); }

    bool handshake(int minor, bool shared = true) {
        char ver[13] = {};
        if (!read_exact(ver, 12) || std::string(ver) != "RFB 003.008\n") { error = "bad server version"; return false; }
        std::string mine = "RFB 003.00" + std::to_string(minor) + "\n";
        send(std::vector<uint8_t>(mine.begin(), mine.end()));
        if (minor == 3) {
            if (u32() != 1) { error = "3.3 security not None"; return false; }
        } else {
            uint8_t n = u8();
            if (n != 1 || u8() != 1) { error = "security list"; return false; }
            send({1});
            if (minor == 8 && u32() != 0) { error = "security result"; return false; }
        }
        send({uint8_t(shared)});
        width = u16();
        height = u16();
        uint8_t spf[16];
        if (!read_exact(spf, 16)) return false;
        pf = PixelFormat::read(spf);
        uint32_t nl = u32();
        name.resize(nl);
        if (nl && !read_exact(name.data(), nl)) return false;
        fb.assign(size_t(width) * height, 0);
        return error.empty();
    }

    void set_pixel_format(const PixelFormat& p) {
        std::vector<uint8_t> m = {0, 0, 0, 0};
        uint8_t b[16];
        p.write(b);
        m.insert(m.end(), b, b + 16);
        send(m);
        pf = p;
    }
    void set_encodings(const std::vector<int32_t>& encs) {
        std::vector<uint8_t> m = {2, 0};
        vmm::rfb::put16(m, uint16_t(encs.size()));
        for (int32_t e : encs) vmm::rfb::put32(m, uint32_t(e));
        send(m);
    }
    void request(bool incremental, uint16_t x = 0, uint16_t y = 0, uint16_t w = 0xffff, uint16_t h = 0xffff) {
        std::vector<uint8_t> m = {3, uint8_t(incremental)};
        vmm::rfb::put16(m, x);
        vmm::rfb::put16(m, y);
        vmm::rfb::put16(m, w);
        vmm::rfb::put16(m, h);
        send(m);
    }
    void key(uint32_t keysym, bool down) {
        std::vector<uint8_t> m = {4, uint8_t(down), 0, 0};
        vmm::rfb::put32(m, keysym);
        send(m);
    }
    void qemu_key(uint32_t keysym, uint32_t keycode, bool down) {
        std::vector<uint8_t> m = {255, 0};
        vmm::rfb::put16(m, down);
        vmm::rfb::put32(m, keysym);
        vmm::rfb::put32(m, keycode);
        send(m);
    }

    // True if no byte arrives within ms (the connection stays open).
    bool quiet_for(int ms) {
        pollfd pfd{fd, POLLIN, 0};
        return ::poll(&pfd, 1, ms) == 0;
    }
    // True if the server closes the connection within ms.
    bool closed_within(int ms) {
        uint8_t buf[4096];
        for (;;) {
            pollfd pfd{fd, POLLIN, 0};
            if (::poll(&pfd, 1, ms) <= 0) return false;
            ssize_t k = ::recv(fd, buf, sizeof buf, 0);
            if (k <= 0) return true;
        }
    }

    // Reads one FramebufferUpdate and applies it.
    bool read_update(std::vector<RectInfo>& rects, int timeout_ms = 5000) {
        rects.clear();
        uint8_t hdr[4];
        if (!read_exact(hdr, 4, timeout_ms)) return false;
        if (hdr[0] != 0) { error = "message type " + std::to_string(hdr[0]); return false; }
        uint16_t n = uint16_t(hdr[2] << 8 | hdr[3]);
        for (uint16_t i = 0; i < n; ++i) {
            RectInfo r;
            r.x = u16(); r.y = u16(); r.w = u16(); r.h = u16();
            r.enc = int32_t(u32());
            if (!error.empty()) return false;
            rects.push_back(r);
            if (r.enc == vmm::rfb::kEncDesktopSize) {
                width = r.w; height = r.h;
                fb.assign(size_t(width) * height, 0);
                continue;
            }
            if (r.enc == vmm::rfb::kEncQemuExtKey) continue;
            if (r.x + r.w > width || r.y + r.h > height) { error = "rect outside"; return false; }
            if (r.enc == vmm::rfb::kEncRaw) {
                std::vector<uint8_t> d(size_t(r.w) * r.h * (pf.bpp / 8));
                if (!read_exact(d.data(), d.size())) return false;
                const uint8_t* p = d.data();
                for (uint32_t y = 0; y < r.h; ++y)
                    for (uint32_t x = 0; x < r.w; ++x, p += pf.bpp / 8) fb[(r.y + y) * width + r.x + x] = pixel(p, pf.bpp / 8);
            } else if (r.enc == vmm::rfb::kEncZrle) {
                if (!zrle(r)) return false;
            } else if (r.enc == vmm::rfb::kEncTight) {
                if (!tight(rects.back())) return false;
            } else if (r.enc == vmm::rfb::kEncCopyRect) {
                uint32_t sx = u16(), sy = u16();
                if (!error.empty()) return false;
                if (sx + r.w > width || sy + r.h > height) { error = "copy source outside"; return false; }
                // Source and destination may overlap: copy through a buffer.
                std::vector<uint32_t> t(size_t(r.w) * r.h);
                for (uint32_t y = 0; y < r.h; ++y)
                    std::memcpy(&t[size_t(y) * r.w], &fb[size_t(sy + y) * width + sx], size_t(r.w) * 4);
                for (uint32_t y = 0; y < r.h; ++y)
                    std::memcpy(&fb[size_t(r.y + y) * width + r.x], &t[size_t(y) * r.w], size_t(r.w) * 4);
            } else {
                error = "unexpected encoding " + std::to_string(r.enc);
                return false;
            }
        }
        return error.empty();
    }

private:
    z_stream zs_;
    z_stream tz_[4];  // Tight's four zlib streams

    // TPIXEL: R, G, B for 32 bpp depth 24 with 8-bit channels, else as in Raw.
    bool tpixel24() const {
        return pf.bpp == 32 && pf.depth == 24 && pf.red_max == 255 && pf.green_max == 255 && pf.blue_max == 255;
    }
    unsigned tpixel_bytes() const { return tpixel24() ? 3 : pf.bpp / 8u; }
    uint32_t tpixel_at(const uint8_t* p) const {
        if (tpixel24()) return uint32_t(p[0]) << pf.red_shift | uint32_t(p[1]) << pf.green_shift | uint32_t(p[2]) << pf.blue_shift;
        return pixel(p, pf.bpp / 8);
    }
    uint32_t tpixel() {
        uint8_t p[4] = {};
        read_exact(p, tpixel_bytes());
        return tpixel_at(p);
    }

    bool tight(RectInfo& r) {
        uint8_t ctl = u8();
        if (!error.empty()) return false;
        for (unsigned i = 0; i < 4; ++i)
            if (ctl & (1u << i)) inflateReset(&tz_[i]);
        r.tight = ctl >> 4;
        std::vector<uint32_t> t(size_t(r.w) * r.h);
        if (r.tight == 8) {
            uint32_t v = tpixel();
            for (auto& x : t) x = v;
        } else if (r.tight > 7) {
            error = "tight: compression " + std::to_string(r.tight);
            return false;
        } else {
            unsigned stream = r.tight & 3;
            r.filter = r.tight & 4 ? u8() : 0;
            std::vector<uint32_t> pal;
            size_t row_bytes = size_t(r.w) * tpixel_bytes();
            if (r.filter == 1) {
                r.colours = u8() + 1u;
                for (unsigned i = 0; i < r.colours; ++i) pal.push_back(tpixel());
                row_bytes = r.colours == 2 ? (r.w + 7) / 8 : r.w;
            } else if (r.filter != 0) {
                error = "tight: filter " + std::to_string(r.filter);
                return false;
            }
            std::vector<uint8_t> d(row_bytes * r.h);
            if (d.size() < 12) {
                if (!read_exact(d.data(), d.size())) return false;
            } else {
                uint32_t len = 0;
                for (unsigned i = 0; i < 3; ++i) {
                    uint8_t b = u8();
                    len |= uint32_t(i == 2 ? b : b & 0x7f) << (7 * i);
                    if (!(b & 0x80)) break;
                }
                std::vector<uint8_t> z(len);
                if (!read_exact(z.data(), len)) return false;
                z_stream& zs = tz_[stream];
                zs.next_in = z.data();
                zs.avail_in = len;
                zs.next_out = d.data();
                zs.avail_out = uInt(d.size());
                int rc = inflate(&zs, Z_SYNC_FLUSH);
                if (rc != Z_OK && rc != Z_BUF_ERROR) { error = "tight: inflate"; return false; }
                if (zs.avail_out != 0) { error = "tight: data too short"; return false; }
                while (zs.avail_in > 0) {  // the flush's empty block may be left: no more pixels in it
                    uint8_t extra;
                    zs.next_out = &extra;
                    zs.avail_out = 1;
                    uInt before = zs.avail_in;
                    rc = inflate(&zs, Z_SYNC_FLUSH);
                    if (zs.avail_out == 0) { error = "tight: data too long"; return false; }
                    if ((rc != Z_OK && rc != Z_BUF_ERROR) || zs.avail_in == before) { error = "tight: inflate tail"; return false; }
                }
            }
            for (uint32_t y = 0; y < r.h; ++y)
                for (uint32_t x = 0; x < r.w; ++x) {
                    uint32_t& o = t[size_t(y) * r.w + x];
                    if (r.filter == 0) {
                        o = tpixel_at(&d[y * row_bytes + x * tpixel_bytes()]);
                    } else {
                        unsigned i = r.colours == 2 ? (d[y * row_bytes + x / 8] >> (7 - x % 8)) & 1 : d[y * row_bytes + x];
                        if (i >= pal.size()) { error = "tight: palette index"; return false; }
                        o = pal[i];
                    }
                }
        }
        if (!error.empty()) return false;
        for (uint32_t y = 0; y < r.h; ++y)
            std::memcpy(&fb[size_t(r.y + y) * width + r.x], &t[size_t(y) * r.w], size_t(r.w) * 4);
        return true;
    }

    uint32_t pixel(const uint8_t* p, unsigned n) const {
        uint32_t v = 0;
        if (pf.big_endian) for (unsigned i = 0; i < n; ++i) v = v << 8 | p[i];
        else for (unsigned i = n; i-- > 0;) v = v << 8 | p[i];
        return v;
    }

    bool zrle(const RectInfo& r) {
        uint32_t len = u32();
        std::vector<uint8_t> z(len);
        if (!read_exact(z.data(), len)) return false;
        std::vector<uint8_t> d;
        zs_.next_in = z.data();
        zs_.avail_in = len;
        uint8_t buf[65536];
        do {
            zs_.next_out = buf;
            zs_.avail_out = sizeof buf;
            int rc = inflate(&zs_, Z_SYNC_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR) { error = "inflate"; return false; }
            d.insert(d.end(), buf, buf + (sizeof buf - zs_.avail_out));
        } while (zs_.avail_in > 0 || zs_.avail_out == 0);
        // CPIXEL: 3 bytes when 32bpp, depth <= 24 and the colour bits fit in
        // the low or high three bytes.
        unsigned bytes = pf.bpp / 8, cb = bytes, pad_at = 0;  // pad_at: where the 4th byte goes in the pixel
        uint32_t mask = uint32_t(pf.red_max) << pf.red_shift | uint32_t(pf.green_max) << pf.green_shift |
                        uint32_t(pf.blue_max) << pf.blue_shift;
        if (pf.bpp == 32 && pf.depth <= 24 && (!(mask & 0xff000000u) || !(mask & 0xffu))) {
            cb = 3;
            bool low = !(mask & 0xff000000u);
            // The dropped byte is the most (low fit) or least significant one.
            pad_at = low ? (pf.big_endian ? 0 : 3) : (pf.big_endian ? 3 : 0);
        }
        size_t pos = 0;
        bool bad = false;
        auto byte = [&]() -> uint8_t { if (pos >= d.size()) { bad = true; return 0; } return d[pos++]; };
        auto cpixel = [&]() -> uint32_t {
            uint8_t p[4] = {};
            if (cb == 3) {
                unsigned j = 0;
                for (unsigned i = 0; i < 4; ++i) p[i] = i == pad_at ? 0 : (j++, byte());
            } else {
                for (unsigned i = 0; i < cb; ++i) p[i] = byte();
            }
            return pixel(p, bytes);
        };
        auto runlen = [&]() -> size_t { size_t n = 1; uint8_t b; do { b = byte(); n += b; } while (b == 255 && !bad); return n; };
        for (uint32_t ty = r.y; ty < r.y + r.h; ty += 64)
            for (uint32_t tx = r.x; tx < r.x + r.w; tx += 64) {
                uint32_t tw = std::min<uint32_t>(64, r.x + r.w - tx), th = std::min<uint32_t>(64, r.y + r.h - ty);
                std::vector<uint32_t> t(size_t(tw) * th);
                uint8_t sub = byte();
                std::vector<uint32_t> pal;
                if (sub == 0) {
                    for (auto& v : t) v = cpixel();
                } else if (sub == 1) {
                    uint32_t v = cpixel();
                    for (auto& x : t) x = v;
                } else if (sub <= 16) {
                    for (unsigned i = 0; i < sub; ++i) pal.push_back(cpixel());
                    unsigned bits = sub == 2 ? 1 : sub <= 4 ? 2 : 4;
                    for (uint32_t y = 0; y < th; ++y) {
                        unsigned nb = 0; uint8_t cur = 0;
                        for (uint32_t x = 0; x < tw; ++x) {
                            if (nb == 0) { cur = byte(); nb = 8; }
                            nb -= bits;
                            unsigned idx = (cur >> nb) & ((1u << bits) - 1);
                            if (idx >= pal.size()) { error = "palette index"; return false; }
                            t[y * tw + x] = pal[idx];
                        }
                    }
                } else if (sub == 128 || sub >= 130) {
                    if (sub >= 130) for (unsigned i = 0; i < unsigned(sub - 128); ++i) pal.push_back(cpixel());
                    size_t k = 0;
                    while (k < t.size() && !bad) {
                        uint32_t v; size_t n = 1;
                        if (sub == 128) { v = cpixel(); n = runlen(); }
                        else {
                            uint8_t i = byte();
                            if ((i & 127) >= pal.size()) { error = "palette index"; return false; }
                            v = pal[i & 127];
                            if (i & 128) n = runlen();
                        }
                        if (k + n > t.size()) { error = "run too long"; return false; }
                        for (size_t j = 0; j < n; ++j) t[k++] = v;
                    }
                } else {
                    error = "bad subencoding " + std::to_string(sub);
                    return false;
                }
                if (bad) { error = "zrle data short"; return false; }
                for (uint32_t y = 0; y < th; ++y)
                    for (uint32_t x = 0; x < tw; ++x) fb[(ty + y) * width + tx + x] = t[y * tw + x];
            }
        if (pos != d.size()) { error = "zrle data left over"; return false; }
        return true;
    }
};

}  // namespace rfbtest
