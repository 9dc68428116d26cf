// RFB server: handshake, pixel formats, Raw/ZRLE round trips, change
// tracking, input mapping, malformed clients; fuzz targets for the parser
// and for a session driven by random client bytes.
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
    for (int enc : {kEncRaw, kEncZrle}) {
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
    // valid handshake half the time), asked for updates between chunks.
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
                                     2, 0, 0, 3, 0, 0, 0, 16, 0xff, 0xff, 0xff, 0x21, 0xff, 0xff, 0xfe, 0xfe};
        CHECK(s.receive(hs, sizeof hs));
    }
    size_t i = 0;
    while (i < size) {
        size_t n = std::min<size_t>(size - i, 1 + (data[i] % 23));
        if (!s.receive(data + i, n)) break;
        i += n;
        if (data[i - 1] & 4) s.damage({data[i - 1] & 0x7fu, 3, 40, 70});
        if (data[i - 1] & 8) s.resize(64 + (data[i - 1] & 31), 48);
        CHECK(s.update(f));
        if (s.out().size() > (1u << 20)) s.out().clear();
    }
}
