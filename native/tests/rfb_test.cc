// RFB server: handshake, pixel formats, Raw/ZRLE/Tight round trips, change
// tracking, scroll detection and CopyRect, input mapping, malformed clients;
// fuzz targets for the parser, for a session driven by random client bytes
// and for the collector on random framebuffers.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "check.h"
#include "rfb/keysym.h"
#include "rfb/protocol.h"
#include "rfb/server.h"
#include "rfb/session.h"
#include "rfb/tight.h"
#include "rfb_client.h"

using namespace vmm::rfb;
using rfbtest::Client;
using rfbtest::RectInfo;

namespace {

// A framebuffer in plain memory with explicit dirty marking, plus an input log.
struct FakeDisplay : Display {
    std::mutex mu;
    std::vector<uint8_t> mem;
    uint32_t w, h, stride;
    bool enabled = true;
    std::vector<std::pair<uint32_t, uint32_t>> dirty;
    std::vector<std::pair<uint16_t, bool>> keys;
    std::vector<std::array<int32_t, 4>> pointers;

    FakeDisplay(uint32_t width, uint32_t height) : mem(1920 * 1080 * 4), w(width), h(height), stride(width * 4) {}
    Surface surface() override {
        std::lock_guard<std::mutex> g(mu);
        return {mem.data(), mem.size(), w, h, stride, enabled};
    }
    std::vector<std::pair<uint32_t, uint32_t>> dirty_rows() override {
        std::lock_guard<std::mutex> g(mu);
        std::vector<std::pair<uint32_t, uint32_t>> d;
        d.swap(dirty);
        return d;
    }
    void key_event(uint16_t q, bool down) override {
        std::lock_guard<std::mutex> g(mu);
        keys.emplace_back(q, down);
    }
    void pointer_event(int32_t x, int32_t y, uint32_t b, int32_t wheel) override {
        std::lock_guard<std::mutex> g(mu);
        pointers.push_back({x, y, int32_t(b), wheel});
    }
    uint32_t get(uint32_t x, uint32_t y) {
        const uint8_t* p = &mem[size_t(y) * stride + x * 4];
        return p[0] | p[1] << 8 | p[2] << 16;
    }
    // Writes pixels and marks their rows dirty (like the KVM log would,
    // plus whole neighbouring rows, as page granularity does).
    void fill(uint32_t x0, uint32_t y0, uint32_t rw, uint32_t rh, uint32_t (*colour)(uint32_t, uint32_t)) {
        std::lock_guard<std::mutex> g(mu);
        for (uint32_t y = y0; y < y0 + rh; ++y)
            for (uint32_t x = x0; x < x0 + rw; ++x) {
                uint32_t v = colour(x, y);
                std::memcpy(&mem[size_t(y) * stride + x * 4], &v, 4);
            }
        dirty.emplace_back(y0 > 0 ? y0 - 1 : 0, std::min(h, y0 + rh + 1));
    }
    void touch_all() {
        std::lock_guard<std::mutex> g(mu);
        dirty.emplace_back(0, h);
    }
    void set_mode(uint32_t width, uint32_t height) {
        std::lock_guard<std::mutex> g(mu);
        w = width;
        h = height;
        stride = width * 4;
    }
};

uint32_t draw_pattern(uint32_t x, uint32_t y) { return ((x * 255 / 1023) << 16) | ((y * 255 / 767) << 8) | ((x ^ y) & 0xff); }

// Text-like: 8x16 cells of pseudo-random glyph bits, grey on black.
uint32_t text_pattern(uint32_t x, uint32_t y) {
    uint32_t cell = (y / 16) * 128 + x / 8;
    if ((cell * 7) % 5 == 0) return 0;  // blank cells
    uint32_t bits = (cell * 2654435761u) ^ ((y % 16) * 40503u);
    return (bits >> (x % 8)) & 1 ? 0xaaaaaa : 0;
}

uint32_t white(uint32_t, uint32_t) { return 0xffffff; }
uint32_t red(uint32_t, uint32_t) { return 0xff0000; }

std::pair<int, int> pair() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return {-1, -1};
    return {sv[0], sv[1]};
}

struct Rig {
    FakeDisplay disp;
    std::vector<std::string> logs;
    std::mutex log_mu;
    Server server;
    explicit Rig(uint32_t w = 1024, uint32_t h = 768)
        : disp(w, h), server(disp, "test-vm", [this](const std::string& m) {
              std::lock_guard<std::mutex> g(log_mu);
              logs.push_back(m);
          }) {
        server.start();
    }
    std::unique_ptr<Client> connect() {
        auto [a, b] = pair();
        server.add_client(a);
        return std::make_unique<Client>(b);
    }
};

// Every client pixel equals the display converted to the client's format.
bool matches(Client& c, FakeDisplay& d) {
    if (c.width != d.w || c.height != d.h) return false;
    for (uint32_t y = 0; y < d.h; ++y)
        for (uint32_t x = 0; x < d.w; ++x)
            if (c.fb[y * c.width + x] != rfbtest::expect_pixel(c.pf, d.get(x, y))) {
                std::fprintf(stderr, "  mismatch at %u,%u: %08x vs %08x\n", x, y, c.fb[y * c.width + x],
                             rfbtest::expect_pixel(c.pf, d.get(x, y)));
                return false;
            }
    return true;
}

}  // namespace

TEST(rfb_handshake_versions) {
    for (int minor : {3, 7, 8}) {
        Rig rig(800, 600);
        auto c = rig.connect();
        CHECK(c->handshake(minor));
        CHECK_EQ(c->width, 800u);
        CHECK_EQ(c->height, 600u);
        CHECK(c->name == "test-vm");
        CHECK(c->pf.is_native());
        c->request(false);
        std::vector<RectInfo> rects;
        CHECK(c->read_update(rects));
        CHECK(!rects.empty());
    }
}

TEST(rfb_bad_version_and_security_close) {
    Rig rig;
    auto c = rig.connect();
    char v[12];
    CHECK(c->read_exact(v, 12));
    c->send({'R', 'F', 'B', ' ', '0', '0', '4', '.', '0', '0', '0', '\n'});
    CHECK(c->closed_within(2000));
    auto d = rig.connect();
    CHECK(d->read_exact(v, 12));
    std::string s = "RFB 003.008\n";
    d->send(std::vector<uint8_t>(s.begin(), s.end()));
    uint8_t list[2];
    CHECK(d->read_exact(list, 2));
    d->send({2});  // VNC authentication: not offered
    CHECK(d->closed_within(2000));
}

TEST(rfb_full_update_round_trips) {
    PixelFormat be32;  // big-endian, shifts 0/8/16 (the other channel order)
    be32.big_endian = true;
    be32.red_shift = 0;
    be32.blue_shift = 16;
    PixelFormat hi32;  // colour in the top three bytes
    hi32.red_shift = 24, hi32.green_shift = 16, hi32.blue_shift = 8;
    PixelFormat rgb565;
    rgb565.bpp = 16, rgb565.depth = 16, rgb565.red_max = 31, rgb565.green_max = 63, rgb565.blue_max = 31;
    rgb565.red_shift = 11, rgb565.green_shift = 5, rgb565.blue_shift = 0;
    PixelFormat be555 = rgb565;
    be555.big_endian = true, be555.depth = 15, be555.green_max = 31, be555.red_shift = 10;
    PixelFormat bgr233;
    bgr233.bpp = 8, bgr233.depth = 8, bgr233.red_max = 7, bgr233.green_max = 7, bgr233.blue_max = 3;
    bgr233.red_shift = 0, bgr233.green_shift = 3, bgr233.blue_shift = 6;
    const PixelFormat formats[] = {PixelFormat::native(), be32, hi32, rgb565, be555, bgr233};
    for (int enc : {kEncRaw, kEncZrle, kEncTight}) {
        for (const PixelFormat& pf : formats) {
            Rig rig(1000, 700);  // edge tiles narrower than 64
            rig.disp.fill(0, 0, 1000, 350, text_pattern);
            rig.disp.fill(0, 350, 1000, 350, draw_pattern);
            auto c = rig.connect();
            CHECK(c->handshake(8));
            c->set_pixel_format(pf);
            c->set_encodings({enc, kEncDesktopSize});
            c->request(false);
            std::vector<RectInfo> rects;
            CHECK(c->read_update(rects));
            CHECK(c->error.empty());
            for (auto& r : rects) CHECK_EQ(r.enc, enc);
            CHECK(matches(*c, rig.disp));
            // A later change through the same zlib stream.
            rig.disp.fill(100, 100, 300, 40, red);
            c->request(true);
            CHECK(c->read_update(rects));
            CHECK(matches(*c, rig.disp));
        }
    }
}

// Runs TightEncoder on rects of f and decodes them with the test client
// (through a socket, as a FramebufferUpdate per rect list).
struct TightRig {
    std::unique_ptr<Client> c;
    int wfd = -1;
    TightEncoder enc;
    PixelConverter pc;
    std::vector<RectInfo> got;
    TightRig(uint32_t w, uint32_t h, const PixelFormat& pf) {
        auto [a, b] = pair();
        wfd = a;
        c = std::make_unique<Client>(b);
        c->width = w, c->height = h, c->pf = pf;
        c->fb.assign(size_t(w) * h, 0);
        pc.set(pf);
    }
    ~TightRig() { ::close(wfd); }
    bool send(const Frame& f, const std::vector<Rect>& rects) {
        std::vector<uint8_t> out = {0, 0, 0, 0};
        uint32_t count = 0;
        for (const Rect& r : rects)
            if (!enc.encode(f, r, pc, out, count)) return false;
        if (count > 0xffff) return false;
        out[2] = uint8_t(count >> 8), out[3] = uint8_t(count);
        std::thread writer([&] {
            size_t off = 0;
            while (off < out.size()) {
                ssize_t k = ::send(wfd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
                if (k <= 0) return;
                off += size_t(k);
            }
        });
        bool ok = c->read_update(got);
        writer.join();
        if (!ok) std::fprintf(stderr, "  decode: %s\n", c->error.c_str());
        return ok && got.size() == count;
    }
    bool exact(const Frame& f) {
        for (uint32_t y = 0; y < f.height; ++y)
            for (uint32_t x = 0; x < f.width; ++x)
                if (c->fb[size_t(y) * f.width + x] != rfbtest::expect_pixel(c->pf, f.pixel(x, y))) {
                    std::fprintf(stderr, "  mismatch at %u,%u\n", x, y);
                    return false;
                }
        return true;
    }
};

// Wider than 2048 and taller than 65536 / width: every piece within Tight's
// limits, each kind of piece used, decoded exactly in several formats,
// then random rects (1-pixel, 1-row, edges) through the same zlib streams.
TEST(rfb_tight_pieces_limits_and_round_trips) {
    const uint32_t W = 3000, H = 300;
    std::vector<uint8_t> mem(size_t(W) * H * 4);  // exactly the frame: ASan builds see any overrun
    auto put = [&](uint32_t x, uint32_t y, uint32_t v) { std::memcpy(&mem[(size_t(y) * W + x) * 4], &v, 4); };
    for (uint32_t y = 0; y < H; ++y)
        for (uint32_t x = 0; x < W; ++x) {
            uint32_t v = 0;
            if (y >= 20 && y < 120 && x >= 40 && x < 2900) v = text_pattern(x, y);  // mono
            else if (y >= 120 && y < 200 && x >= 40 && x < 600) v = (x / 7 + y / 5) % 3 * 0x404040;  // 3 colours
            else if (y >= 200 && y < 280 && x >= 40 && x < 500) v = draw_pattern(x, y);  // > 256 colours
            put(x, y, v);
        }
    Frame f{mem.data(), W, H, W * 4};
    PixelFormat rgb565;
    rgb565.bpp = 16, rgb565.depth = 16, rgb565.red_max = 31, rgb565.green_max = 63, rgb565.blue_max = 31;
    rgb565.red_shift = 11, rgb565.green_shift = 5, rgb565.blue_shift = 0;
    PixelFormat be32;
    be32.big_endian = true, be32.red_shift = 0, be32.blue_shift = 16;
    const std::vector<uint8_t> orig = mem;
    for (const PixelFormat& pf : {PixelFormat::native(), be32, rgb565}) {
        mem = orig;  // the random rounds below change pixels
        TightRig t(W, H, pf);
        CHECK(t.send(f, {{0, 0, W, H}}));
        CHECK(t.exact(f));
        bool fill = false, mono = false, indexed = false, full = false;
        uint64_t area = 0;
        for (const RectInfo& r : t.got) {
            CHECK_EQ(r.enc, kEncTight);
            CHECK(r.w <= 2048);
            if (r.tight != 8) CHECK(uint64_t(r.w) * r.h <= 65536);
            fill |= r.tight == 8;
            mono |= r.filter == 1 && r.colours == 2;
            indexed |= r.filter == 1 && r.colours > 2;
            full |= r.tight != 8 && r.filter == 0;
            area += uint64_t(r.w) * r.h;
        }
        CHECK_EQ(area, uint64_t(W) * H);  // no overlaps, no gaps
        CHECK(fill && mono && indexed && full);
        std::mt19937 rng(7);
        for (int round = 0; round < 40; ++round) {
            for (uint32_t y = 0; y < 4; ++y)  // change a few pixels so stale data would show
                put(rng() % W, rng() % H, rng() & 0xffffff);
            std::vector<Rect> rs;
            for (int i = 0; i < 3; ++i) {
                uint32_t x = rng() % W, y = rng() % H;
                uint32_t w = 1 + rng() % (round % 3 == 0 ? 3 : W - x), h = 1 + rng() % (round % 4 == 0 ? 2 : H - y);
                rs.push_back({x, y, std::min(w, W - x), std::min(h, H - y)});
            }
            rs.push_back({0, 0, W, H});  // the client compares the whole picture
            CHECK(t.send(f, rs));
        }
        CHECK(t.exact(f));
    }
}

// A text screen's bytes, ZRLE vs Tight (what the console bench's first screen is like).
TEST(rfb_text_screen_bytes) {
    const uint32_t W = 1024, H = 768;
    std::vector<uint8_t> mem(size_t(W) * H * 4, 0);
    for (uint32_t y = 0; y < H; ++y)
        for (uint32_t x = 0; x < 640; ++x) {  // 80 columns of text, black right of it
            uint32_t v = text_pattern(x, y);
            std::memcpy(&mem[(size_t(y) * W + x) * 4], &v, 4);
        }
    Frame f{mem.data(), W, H, W * 4};
    PixelConverter pc;
    std::vector<uint8_t> z, t;
    ZrleEncoder ze;
    CHECK(ze.encode(f, {0, 0, W, H}, pc, z));
    TightEncoder te;
    uint32_t n = 0;
    CHECK(te.encode(f, {0, 0, W, H}, pc, t, n));
    std::fprintf(stderr, "  text screen: ZRLE %zu bytes, Tight %zu bytes in %u rects\n", z.size(), t.size(), n);
    CHECK(t.size() < z.size());
}

TEST(rfb_incremental_exact_rect_and_idle) {
    Rig rig;
    rig.disp.fill(0, 0, 1024, 768, text_pattern);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    c->set_encodings({kEncZrle});
    c->request(false);
    std::vector<RectInfo> rects;
    CHECK(c->read_update(rects));
    // Idle: incremental requests stay pending, nothing is sent.
    c->request(true);
    CHECK(c->quiet_for(150));
    // One 8x16 "character" at cell (10, 5): exactly that rect.
    rig.disp.fill(80, 80, 8, 16, white);
    uint64_t before = c->bytes_read;
    CHECK(c->read_update(rects));
    CHECK_EQ(rects.size(), size_t(1));
    if (rects.size() == 1) {
        CHECK_EQ(rects[0].x, 80u);
        CHECK_EQ(rects[0].y, 80u);
        CHECK_EQ(rects[0].w, 8u);
        CHECK_EQ(rects[0].h, 16u);
    }
    CHECK(c->bytes_read - before <= 1024);
    CHECK(matches(*c, rig.disp));
    // Dirty rows whose content did not change: nothing.
    c->request(true);
    rig.disp.touch_all();
    CHECK(c->quiet_for(150));
    // Two separate changes: two rects.
    rig.disp.fill(8, 700, 8, 16, white);
    rig.disp.fill(900, 20, 16, 16, white);
    // Both may land in one collection or two: gather until both are seen.
    size_t got = 0;
    for (int i = 0; i < 2 && got < 2; ++i) {
        if (!c->read_update(rects)) break;
        got += rects.size();
        if (got < 2) c->request(true);
    }
    CHECK_EQ(got, size_t(2));
    CHECK(matches(*c, rig.disp));
}

TEST(rfb_no_duplicates_under_fast_requests) {
    Rig rig(640, 480);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    c->set_encodings({kEncZrle});
    c->request(false);
    std::vector<RectInfo> rects;
    CHECK(c->read_update(rects));
    for (int i = 0; i < 50; ++i) c->request(true);  // far faster than anything changes
    CHECK(c->quiet_for(100));
    rig.disp.fill(10, 10, 20, 20, red);
    CHECK(c->read_update(rects));
    CHECK(matches(*c, rig.disp));
    // The other 49 requests were the same pending request: nothing more.
    CHECK(c->quiet_for(150));
    c->request(true);
    c->request(true);
    rig.disp.fill(40, 40, 4, 4, white);
    CHECK(c->read_update(rects));
    CHECK_EQ(rects.size(), size_t(1));
    CHECK(matches(*c, rig.disp));
}

TEST(rfb_desktop_size_on_mode_change) {
    Rig rig(1024, 768);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    c->set_encodings({kEncZrle, kEncDesktopSize});
    c->request(false);
    std::vector<RectInfo> rects;
    CHECK(c->read_update(rects));
    c->request(true);
    rig.disp.set_mode(800, 600);
    rig.disp.fill(0, 0, 800, 600, draw_pattern);
    rig.server.wake();
    CHECK(c->read_update(rects));
    CHECK(!rects.empty());
    if (!rects.empty()) {
        CHECK_EQ(rects[0].enc, kEncDesktopSize);
        CHECK_EQ(rects[0].w, 800u);
        CHECK_EQ(rects[0].h, 600u);
    }
    CHECK_EQ(c->width, 800u);
    // The full screen follows (in the same update or the next).
    if (!matches(*c, rig.disp)) {
        c->request(true);
        CHECK(c->read_update(rects));
    }
    CHECK(matches(*c, rig.disp));
}

TEST(rfb_several_viewers) {
    Rig rig(640, 480);
    rig.disp.fill(0, 0, 640, 480, text_pattern);
    auto a = rig.connect();
    auto b = rig.connect();
    CHECK(a->handshake(8));
    CHECK(b->handshake(3));
    a->set_encodings({kEncZrle});
    PixelFormat p16;
    p16.bpp = 16, p16.depth = 16, p16.red_max = 31, p16.green_max = 63, p16.blue_max = 31;
    p16.red_shift = 11, p16.green_shift = 5, p16.blue_shift = 0;
    b->set_pixel_format(p16);
    std::vector<RectInfo> rects;
    a->request(false);
    b->request(false);
    CHECK(a->read_update(rects));
    CHECK(b->read_update(rects));
    a->request(true);
    rig.disp.fill(50, 60, 70, 80, red);
    CHECK(a->read_update(rects));
    // b asks later: it still gets the change it has not seen.
    b->request(true);
    CHECK(b->read_update(rects));
    CHECK(matches(*a, rig.disp));
    CHECK(matches(*b, rig.disp));
}

TEST(rfb_malformed_closes_only_that_client) {
    Rig rig(320, 200);
    auto good = rig.connect();
    CHECK(good->handshake(8));
    std::vector<std::vector<uint8_t>> bad_msgs = {
        {7, 0, 0, 0},                                      // unknown type
        {255, 9},                                          // unknown QEMU submessage
        {6, 0, 0, 0, 0x00, 0x20, 0x00, 0x01},              // cut text > 1 MiB
        {6, 0, 0, 0, 0x80, 0x00, 0x00, 0x10},              // "negative" length
        {0, 0, 0, 0, 24, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0},  // 24 bpp
        {0, 0, 0, 0, 32, 0, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0},   // depth 0
        {0, 0, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},           // colour map
    };
    for (auto& m : bad_msgs) {
        auto c = rig.connect();
        CHECK(c->handshake(8));
        c->send(m);
        CHECK(c->closed_within(2000));
    }
    // Out-of-range request rectangles are clamped, not fatal.
    auto e = rig.connect();
    CHECK(e->handshake(7));
    e->request(false, 300, 190, 5000, 5000);
    std::vector<RectInfo> rects;
    CHECK(e->read_update(rects));
    CHECK_EQ(rects.size(), size_t(1));
    if (!rects.empty()) CHECK(rects[0].x == 300 && rects[0].w == 20 && rects[0].h == 10);
    e->request(false, 5000, 5000, 10, 10);  // wholly outside: an empty update
    CHECK(e->read_update(rects));
    CHECK(rects.empty());
    // The first client is unaffected.
    good->request(false);
    CHECK(good->read_update(rects));
    CHECK(matches(*good, rig.disp));
    CHECK(rig.server.stats().closed_bad >= bad_msgs.size());
    std::lock_guard<std::mutex> g(rig.log_mu);
    CHECK(!rig.logs.empty());
    if (!rig.logs.empty()) CHECK(rig.logs[0].find("unknown client message type 7") != std::string::npos);
}

TEST(rfb_truncated_client_and_cut_text) {
    Rig rig(320, 200);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    std::string text = "hello clipboard";
    std::vector<uint8_t> m = {6, 0, 0, 0};
    put32(m, uint32_t(text.size()));
    m.insert(m.end(), text.begin(), text.end());
    c->send(m);
    c->send({3, 0, 0});  // half a request, then gone
    for (int i = 0; i < 100 && rig.server.cut_text() != text; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(rig.server.cut_text() == text);
    CHECK_EQ(rig.server.stats().cut_text_bytes, uint64_t(text.size()));
    ::shutdown(c->fd, SHUT_RDWR);
    for (int i = 0; i < 100 && rig.server.stats().clients != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK_EQ(rig.server.stats().clients, uint64_t(0));
}

TEST(rfb_keysyms_to_qnums) {
    const std::pair<uint32_t, uint16_t> cases[] = {
        {'a', 0x1e},    {'A', 0x1e},    {'z', 0x2c},    {'1', 0x02},    {'!', 0x02},    {'0', 0x0b},
        {')', 0x0b},    {'@', 0x03},    {'-', 0x0c},    {'_', 0x0c},    {'=', 0x0d},    {'+', 0x0d},
        {'[', 0x1a},    {'{', 0x1a},    {';', 0x27},    {':', 0x27},    {'\'', 0x28},   {'"', 0x28},
        {'`', 0x29},    {'~', 0x29},    {'\\', 0x2b},   {'|', 0x2b},    {',', 0x33},    {'<', 0x33},
        {'/', 0x35},    {'?', 0x35},    {' ', 0x39},    {0xff0d, 0x1c}, {0xff08, 0x0e}, {0xff09, 0x0f},
        {0xff1b, 0x01}, {0xffe1, 0x2a}, {0xffe2, 0x36}, {0xffe3, 0x1d}, {0xffe4, 0x9d}, {0xffe9, 0x38},
        {0xffea, 0xb8}, {0xfe03, 0xb8}, {0xffeb, 0xdb}, {0xffec, 0xdc}, {0xff67, 0xdd}, {0xffe5, 0x3a},
        {0xffbe, 0x3b}, {0xffc7, 0x44}, {0xffc8, 0x57}, {0xffc9, 0x58}, {0xffb0, 0x52}, {0xffb7, 0x47},
        {0xffaf, 0xb5}, {0xff8d, 0x9c}, {0xffab, 0x4e}, {0xffae, 0x53}, {0xff9f, 0x53}, {0xff7f, 0x45},
        {0xff50, 0xc7}, {0xff57, 0xcf}, {0xff55, 0xc9}, {0xff56, 0xd1}, {0xff63, 0xd2}, {0xffff, 0xd3},
        {0xff52, 0xc8}, {0xff51, 0xcb}, {0xff61, 0xb7}, {0xff13, 0xc6}, {0xff14, 0x46}, {0x12345, 0},
    };
    for (auto [ks, q] : cases) {
        if (keysym_to_qnum(ks) != q) std::fprintf(stderr, "  keysym %#x\n", ks);
        CHECK_EQ(keysym_to_qnum(ks), q);
    }
}

TEST(rfb_key_and_pointer_events_reach_the_display) {
    Rig rig(640, 480);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    c->set_encodings({kEncZrle, kEncQemuExtKey});
    c->request(false);
    std::vector<RectInfo> rects;
    CHECK(c->read_update(rects));
    bool acked = false;
    for (auto& r : rects) acked |= r.enc == kEncQemuExtKey;
    CHECK(acked);
    c->key(0xfe03, true);                  // AltGr
    c->key(0xfe03, false);
    c->qemu_key('y', 0x15, true);          // German 'z' key position arrives as keycode: used as is
    c->qemu_key(0xff52, 0xc8, false);      // Up (E0 48)
    c->qemu_key(0xff13, 0xc6, true);       // Pause
    c->qemu_key('q', 0, true);             // keycode 0: fall back to the keysym
    std::vector<uint8_t> ptr = {5, 0x09, 0x03, 0x00, 0x00, 0x10};  // left + wheel up at (768, 16): x clamped
    c->send(ptr);
    c->send({5, 0x01, 0x00, 0x05, 0x00, 0x06});
    for (int i = 0; i < 200; ++i) {
        {
            std::lock_guard<std::mutex> g(rig.disp.mu);
            if (rig.disp.keys.size() >= 6 && rig.disp.pointers.size() >= 2) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard<std::mutex> g(rig.disp.mu);
    std::vector<std::pair<uint16_t, bool>> want = {{0xb8, true}, {0xb8, false}, {0x15, true},
                                                   {0xc8, false}, {0xc6, true}, {0x10, true}};
    CHECK(rig.disp.keys == want);
    CHECK_EQ(rig.disp.pointers.size(), size_t(2));
    if (rig.disp.pointers.size() == 2) {
        CHECK_EQ(rig.disp.pointers[0][0], 639);
        CHECK_EQ(rig.disp.pointers[0][1], 16);
        CHECK_EQ(rig.disp.pointers[0][2], 1);
        CHECK_EQ(rig.disp.pointers[0][3], 1);
        CHECK_EQ(rig.disp.pointers[1][3], 0);
        CHECK_EQ(rig.disp.pointers[1][0], 5);
    }
}

TEST(rfb_parser_any_split) {
    std::vector<uint8_t> s;
    std::string v = "RFB 003.008\n";
    s.insert(s.end(), v.begin(), v.end());
    s.push_back(1);
    s.push_back(0);
    std::vector<uint8_t> enc = {2, 0, 0, 3, 0, 0, 0, 16, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21};
    s.insert(s.end(), enc.begin(), enc.end());
    std::vector<uint8_t> req = {3, 1, 0, 1, 0, 2, 0, 3, 0, 4};
    s.insert(s.end(), req.begin(), req.end());
    std::vector<uint8_t> cut = {6, 0, 0, 0, 0, 0, 0, 2, 'h', 'i', 4, 1, 0, 0, 0, 0, 0, 0x61};
    s.insert(s.end(), cut.begin(), cut.end());
    for (size_t chunk : {size_t(1), size_t(2), size_t(3), size_t(7), s.size()}) {
        Parser p;
        std::vector<Msg> out;
        for (size_t i = 0; i < s.size(); i += chunk) CHECK(p.feed(s.data() + i, std::min(chunk, s.size() - i), out));
        CHECK_EQ(out.size(), size_t(7));
        if (out.size() != 7) continue;
        CHECK(out[0].type == MsgType::Version && out[0].value == 8);
        CHECK(out[1].type == MsgType::SecurityChoice);
        CHECK(out[2].type == MsgType::ClientInit);
        CHECK(out[3].type == MsgType::SetEncodings && out[3].encodings == (std::vector<int32_t>{16, 0, -223}));
        CHECK(out[4].type == MsgType::UpdateRequest && out[4].incremental && out[4].rect == (Rect{1, 2, 3, 4}));
        CHECK(out[5].type == MsgType::CutText && out[5].text == "hi");
        CHECK(out[6].type == MsgType::Key && out[6].down && out[6].keysym == 0x61);
    }
}

TEST(rfb_stalled_client_costs_one_frame) {
    Rig rig(1024, 768);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    int small = 4096;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    c->request(false);  // Raw: 3 MiB that the client never reads
    for (int i = 0; i < 30; ++i) {
        c->request(true);
        rig.disp.fill(0, uint32_t(i * 20), 1024, 20, i % 2 ? red : white);
        std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
    // One update produced, the rest waits as damage (no queue of frames).
    CHECK_EQ(rig.server.stats().updates, uint64_t(1));
    auto other = rig.connect();  // and others are served meanwhile
    CHECK(other->handshake(8));
    other->set_encodings({kEncZrle});
    other->request(false);
    std::vector<RectInfo> rects;
    CHECK(other->read_update(rects));
    CHECK(matches(*other, rig.disp));
}

TEST(rfb_listens_on_a_private_unix_socket) {
    FakeDisplay disp(320, 200);
    Server server(disp, "sock", [](const std::string&) {});
    std::string path = "/tmp/rfb_test_" + std::to_string(getpid()) + ".sock";
    std::string err;
    CHECK(server.listen_unix(path, &err));
    struct stat st{};
    CHECK(::stat(path.c_str(), &st) == 0 && (st.st_mode & 0777) == 0600);
    server.start();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    CHECK(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    Client c(fd);
    CHECK(c.handshake(8));
    CHECK_EQ(c.width, 320u);
    server.stop();
    CHECK(::access(path.c_str(), F_OK) != 0);  // removed on stop
    CHECK(!server.listen_unix(std::string(200, 'x'), &err));
}

// ---- stop(): the last picture ----

// The guest draws and exits at once (its last console line, then poweroff):
// the viewer must still get that picture before the connection closes.
TEST(rfb_stop_sends_the_last_picture) {
    Rig rig(640, 480);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    c->set_encodings({kEncZrle});
    c->request(false);
    std::vector<RectInfo> rects;
    CHECK(c->read_update(rects));
    c->request(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));  // the collector idles, request pending
    rig.disp.fill(8, 400, 300, 16, white);
    auto t0 = std::chrono::steady_clock::now();
    rig.server.stop();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(ms < 100 + 50);
    // Every update up to the close: the last one holds the final picture.
    int updates = 0;
    while (c->read_update(rects, 2000)) {
        ++updates;
        c->request(true);
    }
    CHECK(c->error == "closed");
    CHECK(updates >= 1);
    CHECK(matches(*c, rig.disp));
}

// A client whose request is still on its way when the server stops (it was
// reading the previous update) gets the last changes too; input that arrives
// meanwhile no longer reaches the machine.
TEST(rfb_stop_waits_for_a_request_in_flight) {
    Rig rig(640, 480);
    auto c = rig.connect();
    CHECK(c->handshake(8));
    c->request(false);
    std::vector<RectInfo> rects;
    CHECK(c->read_update(rects));
    rig.disp.fill(0, 0, 640, 32, red);
    rig.server.wake();
    c->request(true);
    CHECK(c->read_update(rects));  // no request outstanding now
    rig.disp.fill(0, 100, 640, 32, white);
    std::thread stopper([&] { rig.server.stop(2'000'000'000); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    c->key(0x61, true);
    c->request(true);
    int updates = 0;
    while (c->read_update(rects, 3000)) {
        ++updates;
        c->request(true);
    }
    stopper.join();
    CHECK(c->error == "closed");
    CHECK(updates >= 1);
    CHECK(matches(*c, rig.disp));
    std::lock_guard<std::mutex> g(rig.disp.mu);
    CHECK(rig.disp.keys.empty());
}

// A client that reads nothing costs stop() its bound, no more, and does not
// keep the others from their last update.
TEST(rfb_stop_is_bounded_by_a_stalled_client) {
    Rig rig(1024, 768);
    auto stalled = rig.connect();
    CHECK(stalled->handshake(8));
    int small = 4096;
    setsockopt(stalled->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    stalled->request(false);  // Raw: 3 MiB it never reads
    stalled->request(true);
    auto good = rig.connect();
    CHECK(good->handshake(8));
    good->set_encodings({kEncZrle});
    good->request(false);
    std::vector<RectInfo> rects;
    CHECK(good->read_update(rects));
    good->request(true);
    rig.disp.fill(0, 700, 1024, 40, red);
    auto t0 = std::chrono::steady_clock::now();
    rig.server.stop();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    CHECK(ms >= 90);   // it waited for the stalled one...
    CHECK(ms < 400);   // ...within the bound (plus scheduling on a loaded machine)
    while (good->read_update(rects, 2000)) good->request(true);
    CHECK(good->error == "closed");
    CHECK(matches(*good, rig.disp));
    CHECK(stalled->closed_within(2000));
}

// ---- CopyRect: scroll detection ----

namespace {

// A console-like glyph for character ch (8x16, stable per ch): rows of bits.
uint8_t glyph_row(uint8_t ch, uint32_t r) {
    if (ch == ' ' || r == 0 || r == 15) return 0;
    uint32_t v = (uint32_t(ch) * 2654435761u) ^ (r * 0x9E3779B9u);
    return uint8_t(v >> 13) | uint8_t(v >> 27);
}

// Writes one text line (row of 8x16 cells) of random characters, under the display's lock.
void text_line(FakeDisplay& d, uint32_t row, std::mt19937& rng, uint32_t fg = 0xaaaaaa) {
    std::lock_guard<std::mutex> g(d.mu);
    uint32_t y0 = row * 16;
    if (y0 + 16 > d.h) return;
    uint32_t len = rng() % (d.w / 8 + 1);
    for (uint32_t c = 0; c < d.w / 8; ++c) {
        uint8_t ch = c < len && rng() % 6 ? uint8_t(33 + rng() % 94) : ' ';
        for (uint32_t r = 0; r < 16; ++r) {
            uint8_t bits = glyph_row(ch, r);
            for (uint32_t b = 0; b < 8; ++b) {
                uint32_t v = bits & (0x80 >> b) ? fg : 0;
                std::memcpy(&d.mem[size_t(y0 + r) * d.stride + (c * 8 + b) * 4], &v, 4);
            }
        }
    }
    d.dirty.emplace_back(y0, y0 + 16);
}

// Moves rows [y0, y1) so that new row y = old row y + dy (full width);
// rows whose source is outside the band keep their old content.
void shift_band(FakeDisplay& d, uint32_t y0, uint32_t y1, int32_t dy) {
    std::lock_guard<std::mutex> g(d.mu);
    auto row = [&](uint32_t y) { return &d.mem[size_t(y) * d.stride]; };
    if (dy > 0) {
        for (uint32_t y = y0; y + uint32_t(dy) < y1; ++y) std::memmove(row(y), row(y + uint32_t(dy)), d.stride);
    } else if (dy < 0) {
        for (uint32_t y = y1; y-- > y0 + uint32_t(-dy);) std::memmove(row(y), row(y - uint32_t(-dy)), d.stride);
    }
    d.dirty.emplace_back(y0, y1);
}

// What the test guest does when the cursor leaves the last line.
void console_scroll(FakeDisplay& d, std::mt19937& rng, uint32_t lines = 1) {
    shift_band(d, 0, d.h / 16 * 16, int32_t(16 * lines));
    for (uint32_t l = 0; l < lines; ++l) text_line(d, d.h / 16 - 1 - l, rng);
}

// Pixel writers for the random test (clamped to the mode), under the lock.
void fill_with(FakeDisplay& d, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, uint32_t seed, bool noise) {
    std::lock_guard<std::mutex> g(d.mu);
    if (x0 >= d.w || y0 >= d.h) return;
    w = std::min(w, d.w - x0);
    h = std::min(h, d.h - y0);
    std::mt19937 r(seed);
    for (uint32_t y = y0; y < y0 + h; ++y)
        for (uint32_t x = x0; x < x0 + w; ++x) {
            uint32_t v = noise ? r() & 0xffffff : seed & 0xffffff;
            std::memcpy(&d.mem[size_t(y) * d.stride + x * 4], &v, 4);
        }
    d.dirty.emplace_back(y0, y0 + h);
}
void fill_noise(FakeDisplay& d, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t seed) { fill_with(d, x, y, w, h, seed, true); }
void fill_solid(FakeDisplay& d, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t c) { fill_with(d, x, y, w, h, c, false); }

bool matches_quiet(Client& c, FakeDisplay& d) {
    if (c.width != d.w || c.height != d.h) return false;
    for (uint32_t y = 0; y < d.h; ++y)
        for (uint32_t x = 0; x < d.w; ++x)
            if (c.fb[y * c.width + x] != rfbtest::expect_pixel(c.pf, d.get(x, y))) return false;
    return true;
}

// Reads updates until the client's picture is the display's (a change can
// be split over two collections); returns the bytes read and whether a CopyRect came.
bool sync(Client& c, FakeDisplay& d, uint64_t* bytes = nullptr, bool* copied = nullptr) {
    uint64_t before = c.bytes_read;
    std::vector<RectInfo> rects;
    for (int i = 0; i < 6 && !matches_quiet(c, d); ++i) {
        c.request(true);
        if (!c.read_update(rects, 3000)) break;
        for (auto& r : rects)
            if (copied && r.enc == kEncCopyRect) *copied = true;
    }
    if (bytes) *bytes = c.bytes_read - before;
    return matches(c, d);
}

}  // namespace

TEST(rfb_collector_finds_a_scroll) {
    // The collector alone: a full screen of text scrolled by one line.
    FakeDisplay d(1024, 768);
    std::mt19937 rng(7);
    for (uint32_t r = 0; r < 48; ++r) text_line(d, r, rng);
    Collector col;
    Changes ch = col.collect(d.surface(), d.dirty_rows(), true);
    CHECK(ch.reset);
    std::vector<uint8_t> before = col.shadow();
    console_scroll(d, rng);
    ch = col.collect(d.surface(), d.dirty_rows(), true);
    CHECK(ch.has_move);
    // The band: rows that changed and equal the old rows 16 below (blank
    // glyph rows at its edges that did not change are left out).
    CHECK(ch.move.dst.x == 0 && ch.move.dst.w == 1024 && ch.move.dst.h >= 740 && ch.move.dst.y + ch.move.dst.h <= 752);
    CHECK_EQ(ch.move.src_y, ch.move.dst.y + 16);
    CHECK_EQ(ch.move.src_x, 0u);
    // The remainder is the new line only (its old content was another line).
    for (const Rect& r : ch.rest) CHECK(r.y >= 752);
    // Copy + remainder reproduces the new shadow exactly.
    std::vector<uint8_t> pic = before;
    std::memmove(&pic[size_t(ch.move.dst.y) * 4096], &pic[size_t(ch.move.src_y) * 4096], size_t(ch.move.dst.h) * 4096);
    for (const Rect& r : ch.rest)
        for (uint32_t y = r.y; y < r.y + r.h; ++y)
            std::memcpy(&pic[size_t(y) * 4096 + r.x * 4], &col.shadow()[size_t(y) * 4096 + r.x * 4], r.w * 4);
    CHECK(pic == col.shadow());
    // Without a CopyRect client nothing is hashed and no move is proposed.
    console_scroll(d, rng);
    ch = col.collect(d.surface(), d.dirty_rows(), false);
    CHECK(!ch.has_move);
    CHECK(!ch.rects.empty());
}

TEST(rfb_copyrect_scroll_one_line) {
    Rig rig(1024, 768);
    std::mt19937 rng(1);
    for (uint32_t r = 0; r < 48; ++r) text_line(rig.disp, r, rng);
    auto cp = rig.connect();
    auto plain = rig.connect();
    auto tight = rig.connect();  // noVNC's choice: CopyRect + Tight
    CHECK(cp->handshake(8));
    CHECK(plain->handshake(8));
    CHECK(tight->handshake(8));
    cp->set_encodings({kEncCopyRect, kEncZrle, kEncDesktopSize});
    plain->set_encodings({kEncZrle, kEncDesktopSize});
    tight->set_encodings({kEncCopyRect, kEncTight, kEncZrle, kEncDesktopSize});
    std::vector<RectInfo> rects;
    cp->request(false);
    plain->request(false);
    tight->request(false);
    CHECK(cp->read_update(rects));
    CHECK(plain->read_update(rects));
    CHECK(tight->read_update(rects));
    for (auto& r : rects) CHECK_EQ(r.enc, kEncTight);  // a full screen: Tight pieces
    CHECK(matches(*cp, rig.disp));
    CHECK(matches(*tight, rig.disp));
    console_scroll(rig.disp, rng);
    uint64_t cp_bytes = 0, plain_bytes = 0, tight_bytes = 0;
    bool cp_copied = false, plain_copied = false, tight_copied = false;
    CHECK(sync(*cp, rig.disp, &cp_bytes, &cp_copied));
    CHECK(sync(*plain, rig.disp, &plain_bytes, &plain_copied));
    CHECK(sync(*tight, rig.disp, &tight_bytes, &tight_copied));
    CHECK(tight_copied);
    std::fprintf(stderr, "  scroll by one line of 1024x768 text: %llu bytes with CopyRect (Tight: %llu), %llu without\n",
                 (unsigned long long)cp_bytes, (unsigned long long)tight_bytes, (unsigned long long)plain_bytes);
    CHECK(cp_copied);
    CHECK(!plain_copied);
    CHECK(cp_bytes * 8 < plain_bytes);
    CHECK(cp_bytes < 6000);  // a 12+4 byte CopyRect and one new text line
    CHECK(rig.server.stats().moves >= 1);
    CHECK(rig.server.stats().copy_rects >= 1);
    // Three lines at once, and a scroll with the cursor line changed too.
    console_scroll(rig.disp, rng, 3);
    text_line(rig.disp, 20, rng);
    cp_copied = false;
    CHECK(sync(*cp, rig.disp, &cp_bytes, &cp_copied));
    CHECK(cp_copied);
    CHECK(sync(*plain, rig.disp));
    CHECK(sync(*tight, rig.disp));
}

TEST(rfb_copyrect_behind_client_and_encoding_change) {
    // A CopyRect client that does not ask while another one keeps the
    // collector busy: its moves pile up (past Session::kMaxMoves, then they
    // turn into damage) and are still exact; dropping CopyRect from its
    // encodings turns the pending ones into damage as well.
    Rig rig(640, 480);
    std::mt19937 rng(3);
    for (uint32_t r = 0; r < 30; ++r) text_line(rig.disp, r, rng);
    auto cp = rig.connect();
    auto busy = rig.connect();
    CHECK(cp->handshake(8));
    CHECK(busy->handshake(8));
    cp->set_encodings({kEncCopyRect, kEncZrle});
    busy->set_encodings({kEncZrle});
    std::vector<RectInfo> rects;
    for (Client* c : {cp.get(), busy.get()}) {
        c->request(false);
        CHECK(c->read_update(rects));
    }
    auto scrolls = [&](int n) {
        for (int i = 0; i < n; ++i) {
            console_scroll(rig.disp, rng);
            CHECK(sync(*busy, rig.disp));
        }
    };
    scrolls(10);  // ten pending CopyRects
    bool copied = false;
    uint64_t bytes = 0;
    CHECK(sync(*cp, rig.disp, &bytes, &copied));
    CHECK(copied);
    scrolls(20);  // more than kMaxMoves: plain damage, still exact
    CHECK(sync(*cp, rig.disp));
    for (int i = 0; i < 5; ++i) {
        console_scroll(rig.disp, rng);
        CHECK(sync(*busy, rig.disp));
    }
    cp->set_encodings({kEncZrle});
    copied = false;
    CHECK(sync(*cp, rig.disp, nullptr, &copied));
    CHECK(!copied);
}

TEST(rfb_copyrect_random_scrolls_and_edits) {
    // Deterministic random screens; clients with and without CopyRect that
    // fall behind at random (so each has its own last-sent picture) must
    // always decode to exactly the framebuffer.
    Rig rig(640, 480);
    std::mt19937 rng(12345);
    for (uint32_t r = 0; r < 30; ++r) text_line(rig.disp, r, rng);
    auto cp = rig.connect();
    auto plain = rig.connect();
    auto cp16 = rig.connect();
    auto tight = rig.connect();  // noVNC's order: Tight pieces, ZRLE for small rects
    CHECK(cp->handshake(8));
    CHECK(plain->handshake(8));
    CHECK(cp16->handshake(7));
    CHECK(tight->handshake(8));
    tight->set_encodings({kEncCopyRect, kEncTight, kEncZrle, kEncDesktopSize});
    cp->set_encodings({kEncCopyRect, kEncZrle, kEncDesktopSize});
    plain->set_encodings({kEncZrle, kEncDesktopSize});
    PixelFormat p16;
    p16.bpp = 16, p16.depth = 16, p16.red_max = 31, p16.green_max = 63, p16.blue_max = 31;
    p16.red_shift = 11, p16.green_shift = 5, p16.blue_shift = 0;
    cp16->set_pixel_format(p16);
    cp16->set_encodings({kEncRaw, kEncCopyRect, kEncDesktopSize});
    Client* clients[] = {cp.get(), plain.get(), cp16.get(), tight.get()};
    std::vector<RectInfo> rects;
    for (Client* c : clients) {
        c->request(false);
        CHECK(c->read_update(rects));
    }
    uint64_t copies_seen = 0;
    int failures = 0;
    for (int round = 0; round < 300 && failures == 0; ++round) {
        FakeDisplay& d = rig.disp;
        uint32_t H = d.h, W = d.w;
        switch (rng() % 9) {
            case 0:
            case 1: console_scroll(d, rng, 1 + rng() % 3); break;
            case 2: {  // a band scrolls down, its top gets new text
                uint32_t y0 = rng() % (H / 2), y1 = y0 + 32 + rng() % (H - y0 - 31);
                int32_t dy = -int32_t(1 + rng() % 40);
                shift_band(d, y0, y1, dy);
                fill_noise(d, 0, y0, W, std::min<uint32_t>(uint32_t(-dy), y1 - y0), rng());
                break;
            }
            case 3: {  // a band scrolls up by an odd amount, and a few rows in it change too
                uint32_t y0 = rng() % (H / 2), y1 = y0 + 32 + rng() % (H - y0 - 31);
                shift_band(d, y0, y1, int32_t(1 + rng() % 50));
                for (int k = rng() % 4; k > 0; --k) fill_noise(d, rng() % W / 2, y0 + rng() % (y1 - y0), 1 + rng() % 200, 1, rng());
                break;
            }
            case 4: text_line(d, rng() % (H / 16), rng, rng() % 2 ? 0xaaaaaa : 0x55ff55); break;
            case 5: {
                uint32_t x = rng() % W, y = rng() % H;
                uint32_t c = rng() & 0xffffff;
                fill_solid(d, x, y, 1 + rng() % (W - x), 1 + rng() % (H - y), c);
                break;
            }
            case 6: fill_noise(d, rng() % (W - 8), rng() % (H - 8), 8, 8, rng()); break;
            case 7: {  // a scroll followed at once by a second one the other way
                console_scroll(d, rng);
                shift_band(d, 0, H, -16);
                break;
            }
            case 8:
                if (rng() % 8 == 0) {  // rarely: a new mode, redrawn
                    uint32_t nw = rng() % 2 ? 640 : 512, nh = rng() % 2 ? 480 : 384;
                    d.set_mode(nw, nh);
                    for (uint32_t r = 0; r < nh / 16; ++r) text_line(d, r, rng);
                }
                break;
        }
        for (int i = 0; i < 4; ++i) {
            Client* c = clients[i];
            if (round != 299 && rng() % 10 < 4) continue;  // falls behind this round
            bool copied = false;
            if (!sync(*c, d, nullptr, &copied)) {
                std::fprintf(stderr, "  round %d: client %d differs (%s)\n", round, i, c->error.c_str());
                ++failures;
            }
            copies_seen += copied;
        }
    }
    CHECK_EQ(failures, 0);
    for (Client* c : clients) CHECK(sync(*c, rig.disp));
    CHECK(copies_seen > 20);
    std::fprintf(stderr, "  %llu updates with CopyRect, %llu moves found\n", (unsigned long long)copies_seen,
                 (unsigned long long)rig.server.stats().moves);
}

// ---- fuzzing ----

FUZZ_TARGET(rfb_parser) {
    // Half the inputs start past the handshake so message parsing gets most of the bytes.
    Parser p;
    std::vector<Msg> out;
    if (size && data[0] & 1) {
        static const uint8_t hs[] = {'R', 'F', 'B', ' ', '0', '0', '3', '.', '0', '0', '8', '\n', 1, 1};
        CHECK(p.feed(hs, sizeof hs, out));
    }
    size_t i = 0;
    while (i < size) {
        size_t n = std::min<size_t>(size - i, 1 + (data[i] % 17));
        if (!p.feed(data + i, n, out)) break;
        i += n;
        CHECK(p.buffered() <= kMaxCutText + 8);
    }
}

namespace {
struct NullSink : InputSink {
    void key_event(uint16_t, bool) override {}
    void pointer_event(int32_t x, int32_t y, uint32_t, int32_t) override {
        CHECK(x >= 0 && y >= 0 && x < 96 && y < 64);
    }
};
}  // namespace

FUZZ_TARGET(rfb_session) {
    // A session on a fake 96x64 framebuffer fed random client bytes (after a
    // valid handshake, ZRLE or Tight, half the time), asked for updates between chunks.
    static std::vector<uint8_t> fb = [] {
        std::vector<uint8_t> v(96 * 64 * 4);
        for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t((i * 31) ^ (i >> 7));
        return v;
    }();
    NullSink sink;
    Session s(&sink, "fuzz", 96, 64);
    Frame f{fb.data(), 96, 64, 96 * 4};
    if (size && data[0] & 1) {
        static const uint8_t hs[] = {'R', 'F', 'B', ' ', '0', '0', '3', '.', '0', '0', '8', '\n', 1, 1,
                                     2, 0, 0, 4, 0, 0, 0, 16, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x21, 0xff, 0xff, 0xfe, 0xfe};
        uint8_t m[sizeof hs];
        std::memcpy(m, hs, sizeof hs);
        if (data[0] & 2) m[21] = uint8_t(kEncTight);  // Tight instead of ZRLE
        CHECK(s.receive(m, sizeof m));
    }
    size_t i = 0;
    while (i < size) {
        size_t n = std::min<size_t>(size - i, 1 + (data[i] % 23));
        if (!s.receive(data + i, n)) break;
        i += n;
        if (data[i - 1] & 4) s.damage({data[i - 1] & 0x7fu, 3, 40, 70});
        if (data[i - 1] & 8) s.resize(64 + (data[i - 1] & 31), 48);
        if (data[i - 1] & 16) s.move(Move{{data[i - 1] & 63u, 5, 40, 30}, 3, data[i - 1] & 31u});
        CHECK(s.update(f));
        if (s.out().size() > (1u << 20)) s.out().clear();
    }
}

FUZZ_TARGET(rfb_collector) {
    // The collector on a guest-controlled framebuffer: random geometry
    // (including inconsistent ones and changes between ticks), pixels,
    // scrolls and dirty ranges. Oracle: old shadow + rects == new shadow,
    // and old shadow + move + remainder == new shadow, exactly (RGB).
    size_t pos = 0;
    auto byte = [&]() -> uint8_t { return pos < size ? data[pos++] : 0; };
    std::vector<uint8_t> mem;
    Surface s;
    auto row_ok = [&](uint32_t y) {
        return s.base && y < s.height && uint64_t(y) * s.stride + std::max(s.stride, s.width * 4) <= mem.size();
    };
    auto new_mode = [&] {
        uint32_t w = 1 + byte() % 48, h = 1 + byte() % 64;
        uint8_t k = byte();
        bool broken = (k & 0xc0) == 0xc0;  // a quarter of the modes are refused, each way
        uint32_t stride = w * 4 + (k & 3) * 4;
        if (broken && (k & 0x30) == 0x00) stride = w * 4 - 4;  // too narrow
        uint64_t need = uint64_t(stride) * h;
        uint64_t sz = broken && (k & 0x30) == 0x10 ? need / 2 : need;  // too small
        mem.assign(size_t(std::max<uint64_t>(sz, 4)), 0);
        s = {mem.data(), sz, w, h, stride, !(broken && (k & 0x30) == 0x20)};
        if (broken && (k & 0x30) == 0x30) s.base = nullptr;
    };
    // Every new mode starts with distinct rows, so shifts make moves.
    auto paint = [&](uint32_t y0, uint32_t n, uint8_t seed) {
        for (uint32_t y = y0; y < y0 + n; ++y) {
            if (!row_ok(y)) break;
            for (uint32_t x = 0; x < s.width; ++x) {
                uint32_t v = (seed * 2654435761u) ^ (y * 40503u) ^ (x * 97u);
                if (seed & 1) v = x % 3 ? 0 : 0xaaaaaa;  // text-like, often repeated
                std::memcpy(&mem[size_t(y) * s.stride + x * 4], &v, 4);
            }
        }
    };
    new_mode();
    paint(0, s.height, 2);
    Collector col;
    std::vector<std::pair<uint32_t, uint32_t>> dirty;
    auto rgb_equal = [](const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); i += 4)
            if (a[i] != b[i] || a[i + 1] != b[i + 1] || a[i + 2] != b[i + 2]) return false;
        return true;
    };
    for (int tick = 0; tick < 64 && pos < size; ++tick) {
        uint8_t op = byte();
        switch (op % 6) {
            case 0:
                new_mode();
                paint(0, s.height, uint8_t(op & 0x80 ? 2 : 3));
                break;
            case 1: {  // rows of new content, dirty or not
                uint32_t y0 = byte() % 64, n = 1 + byte() % 16;
                paint(y0, n, byte());
                if (op & 0x80) dirty.emplace_back(y0, y0 + n);
                break;
            }
            case 2: {  // band shift, like a scroll
                uint32_t y0 = byte() % 64, y1 = y0 + byte() % 64;
                int32_t dy = int32_t(int8_t(byte())) % 40;
                for (uint32_t i = 0; i + y0 < y1; ++i) {
                    uint32_t y = dy >= 0 ? y0 + i : y1 - 1 - i;
                    int64_t src = int64_t(y) + dy;
                    if (src < y0 || src >= y1 || !row_ok(y) || !row_ok(uint32_t(src))) continue;
                    std::memmove(&mem[size_t(y) * s.stride], &mem[size_t(src) * s.stride], s.stride);
                }
                dirty.emplace_back(y0, y1);
                break;
            }
            case 3: {  // single pixels, including the padding byte
                uint32_t n = byte() % 8;
                for (uint32_t i = 0; i < n && !mem.empty(); ++i) mem[(size_t(byte()) << 8 | byte()) % mem.size()] = byte();
                dirty.emplace_back(byte() % 64, byte() % 64);
                break;
            }
            case 4: dirty.emplace_back(uint32_t(byte()) << 24 | byte(), uint32_t(byte()) << 24 | byte()); break;  // garbage ranges
            default: break;
        }
        if (!(op & 0x40)) continue;  // more changes before the next tick
        bool had = col.have();
        std::vector<uint8_t> before = col.shadow();
        uint32_t ow = col.width(), oh = col.height();
        Changes ch = col.collect(s, dirty, (op & 0x20) == 0);
        dirty.clear();
        const uint32_t W = col.width(), H = col.height();
        const std::vector<uint8_t>& now = col.shadow();
        CHECK_EQ(now.size(), size_t(W) * H * 4);
        if (!had || ch.reset) {
            CHECK(ch.reset);
            CHECK(!ch.has_move);
            continue;
        }
        CHECK(ow == W && oh == H);
        auto apply = [&](std::vector<uint8_t>& pic, const std::vector<Rect>& rects) {
            for (const Rect& r : rects) {
                CHECK(!r.empty() && r.x + r.w <= W && r.y + r.h <= H);
                if (r.x + r.w > W || r.y + r.h > H) continue;
                for (uint32_t y = r.y; y < r.y + r.h; ++y)
                    std::memcpy(&pic[(size_t(y) * W + r.x) * 4], &now[(size_t(y) * W + r.x) * 4], size_t(r.w) * 4);
            }
        };
        std::vector<uint8_t> pic = before;
        apply(pic, ch.rects);
        CHECK(rgb_equal(pic, now));
        if (ch.has_move) {
            const Move& m = ch.move;
            CHECK(m.dst.x + m.dst.w <= W && m.dst.y + m.dst.h <= H && m.src_x + m.dst.w <= W && m.src_y + m.dst.h <= H);
            if (m.dst.x + m.dst.w > W || m.dst.y + m.dst.h > H || m.src_x + m.dst.w > W || m.src_y + m.dst.h > H) continue;
            pic = before;
            std::vector<uint8_t> t(size_t(m.dst.w) * m.dst.h * 4);
            for (uint32_t y = 0; y < m.dst.h; ++y)
                std::memcpy(&t[size_t(y) * m.dst.w * 4], &before[(size_t(m.src_y + y) * W + m.src_x) * 4], size_t(m.dst.w) * 4);
            for (uint32_t y = 0; y < m.dst.h; ++y)
                std::memcpy(&pic[(size_t(m.dst.y + y) * W + m.dst.x) * 4], &t[size_t(y) * m.dst.w * 4], size_t(m.dst.w) * 4);
            apply(pic, ch.rest);
            CHECK(rgb_equal(pic, now));
        }
    }
}
