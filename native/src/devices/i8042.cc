#include "devices/i8042.h"

#include <algorithm>
#include <array>

namespace vmm {

namespace {

// Command byte bits.
constexpr uint8_t kCbKbdInt = 0x01, kCbAuxInt = 0x02, kCbSys = 0x04, kCbKbdDis = 0x10, kCbAuxDis = 0x20,
                  kCbXlate = 0x40;
// Status register bits.
constexpr uint8_t kStOBF = 0x01, kStSys = 0x04, kStCmd = 0x08, kStUnlocked = 0x10, kStAuxB = 0x20;

constexpr uint8_t kAck = 0xFA, kResend = 0xFE, kBatOk = 0xAA;

// qnum -> scancode set 2. qnum is the set-1 make code, +0x80 for E0 keys;
// the set-2 code for an E0 key is sent after an E0 prefix. 0 = no key.
// PrtScr (0xb7) and Pause (0xc6) have their own sequences (see key_event).
struct Tables {
    std::array<uint8_t, 256> set2{};
    std::array<uint8_t, 256> xlate{};   // 8042 translation: set-2 byte -> set-1 byte
    Tables() {
        static const uint8_t plain[][2] = {
            {0x01, 0x76}, {0x02, 0x16}, {0x03, 0x1E}, {0x04, 0x26}, {0x05, 0x25}, {0x06, 0x2E}, {0x07, 0x36},
            {0x08, 0x3D}, {0x09, 0x3E}, {0x0A, 0x46}, {0x0B, 0x45}, {0x0C, 0x4E}, {0x0D, 0x55}, {0x0E, 0x66},
            {0x0F, 0x0D}, {0x10, 0x15}, {0x11, 0x1D}, {0x12, 0x24}, {0x13, 0x2D}, {0x14, 0x2C}, {0x15, 0x35},
            {0x16, 0x3C}, {0x17, 0x43}, {0x18, 0x44}, {0x19, 0x4D}, {0x1A, 0x54}, {0x1B, 0x5B}, {0x1C, 0x5A},
            {0x1D, 0x14}, {0x1E, 0x1C}, {0x1F, 0x1B}, {0x20, 0x23}, {0x21, 0x2B}, {0x22, 0x34}, {0x23, 0x33},
            {0x24, 0x3B}, {0x25, 0x42}, {0x26, 0x4B}, {0x27, 0x4C}, {0x28, 0x52}, {0x29, 0x0E}, {0x2A, 0x12},
            {0x2B, 0x5D}, {0x2C, 0x1A}, {0x2D, 0x22}, {0x2E, 0x21}, {0x2F, 0x2A}, {0x30, 0x32}, {0x31, 0x31},
            {0x32, 0x3A}, {0x33, 0x41}, {0x34, 0x49}, {0x35, 0x4A}, {0x36, 0x59}, {0x37, 0x7C}, {0x38, 0x11},
            {0x39, 0x29}, {0x3A, 0x58}, {0x3B, 0x05}, {0x3C, 0x06}, {0x3D, 0x04}, {0x3E, 0x0C}, {0x3F, 0x03},
            {0x40, 0x0B}, {0x41, 0x83}, {0x42, 0x0A}, {0x43, 0x01}, {0x44, 0x09}, {0x45, 0x77}, {0x46, 0x7E},
            {0x47, 0x6C}, {0x48, 0x75}, {0x49, 0x7D}, {0x4A, 0x7B}, {0x4B, 0x6B}, {0x4C, 0x73}, {0x4D, 0x74},
            {0x4E, 0x79}, {0x4F, 0x69}, {0x50, 0x72}, {0x51, 0x7A}, {0x52, 0x70}, {0x53, 0x71},
            {0x54, 0x84},   // SysRq (Alt+PrtScr)
            {0x56, 0x61},   // 102nd key (ISO <>|)
            {0x57, 0x78}, {0x58, 0x07},   // F11, F12
            {0x59, 0x0F},   // keypad =
            // F13-F24
            {0x64, 0x08}, {0x65, 0x10}, {0x66, 0x18}, {0x67, 0x20}, {0x68, 0x28}, {0x69, 0x30},
            {0x6A, 0x38}, {0x6B, 0x40}, {0x6C, 0x48}, {0x6D, 0x50}, {0x6E, 0x57}, {0x76, 0x5F},
            // Japanese / Brazilian keys
            {0x70, 0x13}, {0x73, 0x51}, {0x79, 0x64}, {0x7B, 0x67}, {0x7D, 0x6A}, {0x7E, 0x6D},
        };
        static const uint8_t e0[][2] = {
            {0x1C, 0x5A},   // keypad Enter
            {0x1D, 0x14},   // Right Ctrl
            {0x35, 0x4A},   // keypad /
            {0x38, 0x11},   // Right Alt (AltGr)
            {0x47, 0x6C}, {0x48, 0x75}, {0x49, 0x7D},   // Home, Up, PgUp
            {0x4B, 0x6B}, {0x4D, 0x74},                 // Left, Right
            {0x4F, 0x69}, {0x50, 0x72}, {0x51, 0x7A},   // End, Down, PgDn
            {0x52, 0x70}, {0x53, 0x71},                 // Insert, Delete
            {0x5B, 0x1F}, {0x5C, 0x27}, {0x5D, 0x2F},   // Left Win, Right Win, Menu
            {0x5E, 0x37}, {0x5F, 0x3F}, {0x63, 0x5E},   // Power, Sleep, Wake
            // Multimedia
            {0x10, 0x15}, {0x19, 0x4D}, {0x20, 0x23}, {0x22, 0x34}, {0x24, 0x3B}, {0x2E, 0x21}, {0x30, 0x32},
        };
        for (auto& p : plain) set2[p[0]] = p[1];
        for (auto& p : e0) set2[0x80 | p[0]] = p[1];
        // Translation is the inverse map: every set-2 code goes back to the
        // set-1 code of its key (E0 keys share codes with their plain twins).
        for (unsigned b = 0; b < 256; ++b) xlate[b] = static_cast<uint8_t>(b);
        for (unsigned q = 0; q < 256; ++q) {
            if (set2[q]) xlate[set2[q]] = static_cast<uint8_t>(q & 0x7F);
        }
        xlate[0x00] = 0xFF;   // keyboard error/overrun
        xlate[0x02] = 0x41;   // alternate F7 code; also the "set 2" reply
        xlate[0x12] = 0x2A;   // fake shift of PrtScr (same as Left Shift)
        xlate[0x7C] = 0x37;   // PrtScr (same as keypad *)
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

constexpr uint16_t kQnumPrtScr = 0xB7, kQnumPause = 0xC6;

}  // namespace

I8042::I8042(IrqLine kbd_irq, IrqLine aux_irq, std::function<void()> on_reset)
    : kbd_irq_(std::move(kbd_irq)), aux_irq_(std::move(aux_irq)), on_reset_(std::move(on_reset)) {
    // As a PC BIOS leaves it: both interrupts on, SYS set, translation on.
    ram_[0] = kCbKbdInt | kCbAuxInt | kCbSys | kCbXlate;
}

// ---- queue and output buffer --------------------------------------------

bool I8042::queue_bytes(const uint8_t* v, size_t n, Src src, bool input) {
    // Drop new input rather than grow; keep room for command replies so a
    // guest that stopped reading keys still gets its ACKs.
    size_t room = queue_space();
    if (input) room = room > kReplyReserve ? room - kReplyReserve : 0;
    if (n > room) return false;
    for (size_t i = 0; i < n; ++i) q_[(q_head_ + q_count_ + i) % kQueueSize] = {v[i], src, input};
    q_count_ += n;
    refill();
    return true;
}

void I8042::clear_queue(Src src) {
    size_t kept = 0;
    for (size_t i = 0; i < q_count_; ++i) {
        Byte b = q_[(q_head_ + i) % kQueueSize];
        if (b.src != src || !b.input) q_[(q_head_ + kept++) % kQueueSize] = b;
    }
    q_count_ = kept;
}

void I8042::refill() {
    if (!obf_) {
        if (ctrl_pending_) {
            out_ = ctrl_;
            ctrl_pending_ = false;
            obf_ = true;
        } else {
            // The oldest byte whose interface is enabled; a disabled one
            // (command byte bits 4/5) waits without blocking the other.
            for (size_t i = 0; i < q_count_; ++i) {
                Byte b = q_[(q_head_ + i) % kQueueSize];
                bool off = (b.src == Src::Kbd) ? (ram_[0] & kCbKbdDis) : (ram_[0] & kCbAuxDis);
                if (off) continue;
                for (size_t j = i; j > 0; --j) q_[(q_head_ + j) % kQueueSize] = q_[(q_head_ + j - 1) % kQueueSize];
                q_head_ = (q_head_ + 1) % kQueueSize;
                --q_count_;
                out_ = b;
                obf_ = true;
                break;
            }
        }
    }
    update_irq();
}

void I8042::update_irq() {
    // Each line follows "a byte from my source waits and my interrupt is
    // enabled"; reading the data port drops it, the next byte raises it
    // again, so every byte is a new edge on the ISA pin.
    bool kbd = obf_ && out_.src == Src::Kbd && (ram_[0] & kCbKbdInt);
    bool aux = obf_ && out_.src == Src::Aux && (ram_[0] & kCbAuxInt);
    if (kbd != kbd_level_) { kbd_level_ = kbd; kbd_irq_.set(kbd); }
    if (aux != aux_level_) { aux_level_ = aux; aux_irq_.set(aux); }
}

uint8_t I8042::status() const {
    uint8_t s = kStUnlocked;
    if (obf_) s |= kStOBF;
    if (obf_ && out_.src == Src::Aux) s |= kStAuxB;
    if (ram_[0] & kCbSys) s |= kStSys;
    if (last_was_cmd_) s |= kStCmd;
    return s;
}

void I8042::ctrl_reply(uint8_t v, Src src) {
    ctrl_ = {v, src, false};
    ctrl_pending_ = true;
    refill();
}

// ---- keyboard -------------------------------------------------------------

bool I8042::kbd_send(const uint8_t* seq, size_t n, bool input) {
    uint8_t out[16];
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof out; ++i) {
        uint8_t b = seq[i];
        if (!(ram_[0] & kCbXlate)) { out[m++] = b; continue; }
        // Translation to set 1: F0 marks the next code as a break (bit 7).
        if (b == 0xF0) { xlate_break_ = true; continue; }
        uint8_t t = tables().xlate[b];
        if (xlate_break_) { t |= 0x80; xlate_break_ = false; }
        out[m++] = t;
    }
    return queue_bytes(out, m, Src::Kbd, input);
}

void I8042::kbd_defaults() {
    scancode_set_ = 2;
    typematic_ = 0x2b;
    kbd_pending_ = 0;
}

void I8042::kbd_command(uint8_t v) {
    const uint8_t ack = kAck;
    if (kbd_pending_) {
        uint8_t cmd = kbd_pending_;
        kbd_pending_ = 0;
        switch (cmd) {
            case 0xED: leds_ = v & 7; kbd_send(&ack, 1); return;
            case 0xF3: typematic_ = v & 0x7F; kbd_send(&ack, 1); return;
            case 0xF0:
                if (v == 0) {
                    uint8_t r[2] = {kAck, scancode_set_};
                    kbd_send(r, 2);
                } else if (v == 1 || v == 2) {
                    scancode_set_ = v;
                    kbd_send(&ack, 1);
                } else {
                    const uint8_t nak = kResend;   // set 3 is not offered
                    kbd_send(&nak, 1);
                }
                return;
        }
    }
    switch (v) {
        case 0xED: case 0xF3: case 0xF0:
            kbd_pending_ = v;
            kbd_send(&ack, 1);
            break;
        case 0xEE: { const uint8_t e = 0xEE; kbd_send(&e, 1); break; }
        case 0xF2: { const uint8_t r[3] = {kAck, 0xAB, 0x83}; kbd_send(r, 3); break; }
        case 0xF4: clear_queue(Src::Kbd); kbd_scanning_ = true; kbd_send(&ack, 1); break;
        case 0xF5: clear_queue(Src::Kbd); kbd_defaults(); kbd_scanning_ = false; kbd_send(&ack, 1); break;
        case 0xF6: clear_queue(Src::Kbd); kbd_defaults(); kbd_scanning_ = true; kbd_send(&ack, 1); break;
        case 0xF7: case 0xF8: case 0xF9: case 0xFA: case 0xFB: case 0xFC: case 0xFD:
            kbd_send(&ack, 1);   // set-3 key attributes: accepted, no effect in set 2
            break;
        case 0xFF: {
            clear_queue(Src::Kbd);
            kbd_defaults();
            kbd_scanning_ = true;
            leds_ = 0;
            const uint8_t r[2] = {kAck, kBatOk};
            kbd_send(r, 2);
            break;
        }
        default: { const uint8_t nak = kResend; kbd_send(&nak, 1); break; }
    }
}

void I8042::key_event(uint16_t qnum, bool down) {
    std::lock_guard<std::mutex> g(mu_);
    if (qnum == 0x1D || qnum == 0x9D) ctrl_down_[qnum >> 7] = down;
    if (qnum == 0x38 || qnum == 0xB8) alt_down_[qnum >> 7] = down;
    if (qnum > 0xFF || !kbd_scanning_) return;
    const bool ctrl = ctrl_down_[0] || ctrl_down_[1];
    const bool alt = alt_down_[0] || alt_down_[1];

    uint8_t seq[8];
    size_t n = 0;
    if (scancode_set_ == 1) {
        // Set 1 straight from the keyboard (only if the guest asked for it).
        if (qnum == kQnumPause) {
            if (!down) return;
            static const uint8_t p[6] = {0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5};
            std::copy(p, p + 6, seq);
            n = 6;
        } else if (qnum == kQnumPrtScr && !alt) {
            static const uint8_t mk[4] = {0xE0, 0x2A, 0xE0, 0x37}, br[4] = {0xE0, 0xB7, 0xE0, 0xAA};
            std::copy(down ? mk : br, (down ? mk : br) + 4, seq);
            n = 4;
        } else {
            uint16_t q = (qnum == kQnumPrtScr) ? 0x54 : qnum;   // Alt+PrtScr = SysRq
            if (!tables().set2[q]) return;
            if (q & 0x80) seq[n++] = 0xE0;
            seq[n++] = static_cast<uint8_t>((q & 0x7F) | (down ? 0 : 0x80));
        }
        queue_bytes(seq, n, Src::Kbd, true);   // no translation of set 1
        return;
    }

    if (qnum == kQnumPause) {
        if (!down) return;   // Pause has no break code
        if (ctrl) {
            static const uint8_t brk[5] = {0xE0, 0x7E, 0xE0, 0xF0, 0x7E};   // Ctrl+Pause = Break
            std::copy(brk, brk + 5, seq);
            n = 5;
        } else {
            static const uint8_t p[8] = {0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77};
            std::copy(p, p + 8, seq);
            n = 8;
        }
    } else if (qnum == kQnumPrtScr && !alt) {
        static const uint8_t mk[4] = {0xE0, 0x12, 0xE0, 0x7C}, br[6] = {0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12};
        if (down) { std::copy(mk, mk + 4, seq); n = 4; }
        else { std::copy(br, br + 6, seq); n = 6; }
    } else {
        uint16_t q = (qnum == kQnumPrtScr) ? 0x54 : qnum;   // Alt+PrtScr = SysRq (84)
        uint8_t code = tables().set2[q];
        if (!code) return;
        if (q & 0x80) seq[n++] = 0xE0;
        if (!down) seq[n++] = 0xF0;
        seq[n++] = code;
    }
    kbd_send(seq, n, true);
}

uint8_t I8042::leds() {
    std::lock_guard<std::mutex> g(mu_);
    return leds_;
}

// ---- mouse ------------------------------------------------------------------

void I8042::aux_defaults() {
    aux_streaming_ = false;
    aux_remote_ = false;
    aux_rate_ = 100;
    aux_resolution_ = 2;
    aux_scaling21_ = false;
    aux_pending_ = 0;
}

void I8042::aux_reply(const uint8_t* v, size_t n) { queue_bytes(v, n, Src::Aux, false); }

void I8042::aux_command(uint8_t v) {
    const uint8_t ack = kAck;
    if (aux_wrap_ && v != 0xEC && v != 0xFF) {
        aux_reply(&v, 1);   // wrap mode echoes everything else
        return;
    }
    if (aux_pending_) {
        uint8_t cmd = aux_pending_;
        aux_pending_ = 0;
        if (cmd == 0xF3) {
            aux_rate_ = v;
            rate_hist_[0] = rate_hist_[1];
            rate_hist_[1] = rate_hist_[2];
            rate_hist_[2] = v;
            // IntelliMouse knock: sample rates 200, 100, 80 switch on the wheel.
            if (rate_hist_[0] == 200 && rate_hist_[1] == 100 && rate_hist_[2] == 80) aux_id_ = 3;
        } else {
            aux_resolution_ = v & 3;   // 0xE8
        }
        aux_reply(&ack, 1);
        return;
    }
    // A command ends the stream: unread movement must not come before the ACK.
    clear_queue(Src::Aux);
    switch (v) {
        case 0xFF: {
            aux_defaults();
            aux_wrap_ = false;
            aux_id_ = 0;
            const uint8_t r[3] = {kAck, kBatOk, 0x00};
            aux_reply(r, 3);
            break;
        }
        case 0xF6: aux_defaults(); aux_reply(&ack, 1); break;
        case 0xF5: aux_streaming_ = false; aux_reply(&ack, 1); break;
        case 0xF4: aux_streaming_ = true; aux_reply(&ack, 1); break;
        case 0xF3: case 0xE8: aux_pending_ = v; aux_reply(&ack, 1); break;
        case 0xF2: { const uint8_t r[2] = {kAck, aux_id_}; aux_reply(r, 2); break; }
        case 0xF0: aux_remote_ = true; aux_reply(&ack, 1); break;
        case 0xEA: aux_remote_ = false; aux_reply(&ack, 1); break;
        case 0xEE: aux_wrap_ = true; aux_reply(&ack, 1); break;
        case 0xEC: aux_wrap_ = false; aux_reply(&ack, 1); break;
        case 0xE6: aux_scaling21_ = false; aux_reply(&ack, 1); break;
        case 0xE7: aux_scaling21_ = true; aux_reply(&ack, 1); break;
        case 0xE9: {
            // Status: remote, enabled, scaling, then buttons as L(2) M(1) R(0).
            uint8_t b0 = static_cast<uint8_t>((aux_remote_ ? 0x40 : 0) | (aux_streaming_ ? 0x20 : 0) |
                                              (aux_scaling21_ ? 0x10 : 0) | ((aux_buttons_ & kButtonLeft) ? 4 : 0) |
                                              ((aux_buttons_ & kButtonMiddle) ? 2 : 0) |
                                              ((aux_buttons_ & kButtonRight) ? 1 : 0));
            const uint8_t r[4] = {kAck, b0, aux_resolution_, aux_rate_};
            aux_reply(r, 4);
            break;
        }
        case 0xEB: {
            // Read data (remote mode): one packet with no motion.
            aux_reply(&ack, 1);
            mouse_packets(0, 0, 0, aux_buttons_);
            break;
        }
        default: { const uint8_t nak = kResend; aux_reply(&nak, 1); break; }
    }
}

// Builds packets for a move, split so each delta fits in 9 bits (at most
// kMaxPackets; what is left is clamped and flagged with the overflow bits).
// All or nothing: false when the queue cannot hold them.
bool I8042::mouse_packets(int dx, int dy, int dz, uint8_t buttons) {
    constexpr int kMaxPackets = 8;
    const size_t psize = aux_id_ == 3 ? 4 : 3;
    uint8_t buf[kMaxPackets * 4];
    size_t n = 0;
    // In 64 bits: the caller's ints may be anything.
    int64_t rx = dx, ry = -static_cast<int64_t>(dy), rz = aux_id_ == 3 ? dz : 0;
    for (int i = 0; i < kMaxPackets; ++i) {
        int64_t px = std::clamp<int64_t>(rx, -256, 255), py = std::clamp<int64_t>(ry, -256, 255);
        int64_t pz = std::clamp<int64_t>(rz, -8, 7);
        rx -= px; ry -= py; rz -= pz;
        bool last = i == kMaxPackets - 1;
        uint8_t b0 = static_cast<uint8_t>(0x08 | (buttons & 7));
        if (px < 0) b0 |= 0x10;
        if (py < 0) b0 |= 0x20;
        if (last && rx != 0) b0 |= 0x40;
        if (last && ry != 0) b0 |= 0x80;
        buf[n++] = b0;
        buf[n++] = static_cast<uint8_t>(px & 0xFF);
        buf[n++] = static_cast<uint8_t>(py & 0xFF);
        if (psize == 4) buf[n++] = static_cast<uint8_t>(pz & 0xFF);
        if (rx == 0 && ry == 0 && rz == 0) break;
    }
    return queue_bytes(buf, n, Src::Aux, true);
}

void I8042::mouse_event(int dx, int dy, int dz, uint8_t buttons) {
    std::lock_guard<std::mutex> g(mu_);
    buttons &= 7;
    aux_buttons_ = buttons;
    // A mouse whose port the driver disabled keeps nothing: stale motion is
    // worse than none.
    if (!aux_streaming_ || aux_remote_ || aux_wrap_ || (ram_[0] & kCbAuxDis)) return;
    mouse_packets(dx, dy, dz, buttons);
}

// ---- controller -----------------------------------------------------------

bool I8042::controller_command(uint8_t v) {
    if ((v >= 0x60 && v <= 0x7F) || v == 0xD1 || v == 0xD2 || v == 0xD3 || v == 0xD4) {
        pending_ctrl_ = v;   // the next byte on port 0x60 is its argument
        return false;
    }
    if (v >= 0x20 && v <= 0x3F) { ctrl_reply(ram_[v & 0x1F], Src::Kbd); return false; }
    if (v >= 0xF0) return !(v & 1);   // pulse output lines: bit 0 low = reset line
    switch (v) {
        case 0xA7: ram_[0] |= kCbAuxDis; break;
        case 0xA8: ram_[0] &= static_cast<uint8_t>(~kCbAuxDis); refill(); break;
        case 0xA9: ctrl_reply(0x00, Src::Kbd); break;   // aux interface OK
        case 0xAA: ram_[0] |= kCbSys; ctrl_reply(0x55, Src::Kbd); break;
        case 0xAB: ctrl_reply(0x00, Src::Kbd); break;   // keyboard interface OK
        case 0xAD: ram_[0] |= kCbKbdDis; break;
        case 0xAE: ram_[0] &= static_cast<uint8_t>(~kCbKbdDis); refill(); break;
        case 0xA4: ctrl_reply(0xF1, Src::Kbd); break;   // no password installed
        case 0xC0: ctrl_reply(0x80, Src::Kbd); break;   // input port: keyboard not inhibited
        case 0xD0: {
            uint8_t p = static_cast<uint8_t>(output_port_ & 0xCF);
            if (obf_ && out_.src == Src::Kbd) p |= 0x10;
            if (obf_ && out_.src == Src::Aux) p |= 0x20;
            ctrl_reply(p, Src::Kbd);
            break;
        }
        case 0xDD: output_port_ &= static_cast<uint8_t>(~0x02); break;   // A20 off
        case 0xDF: output_port_ |= 0x02; break;                          // A20 on
        case 0xE0: ctrl_reply(0x00, Src::Kbd); break;                    // test inputs
        default: break;   // unknown: ignored
    }
    update_irq();
    return false;
}

bool I8042::controller_data(uint8_t v) {
    uint8_t cmd = pending_ctrl_;
    pending_ctrl_ = 0;
    if (cmd >= 0x60 && cmd <= 0x7F) {
        ram_[cmd & 0x1F] = (cmd == 0x60) ? static_cast<uint8_t>(v & 0x7F) : v;
        refill();   // enables may have changed
        return false;
    }
    switch (cmd) {
        case 0xD1:
            output_port_ = static_cast<uint8_t>(v | 0x01);
            return !(v & 0x01);   // bit 0 low holds the CPU in reset
        case 0xD2: ctrl_reply(v, Src::Kbd); return false;   // as if from the keyboard
        case 0xD3: ctrl_reply(v, Src::Aux); return false;   // as if from the mouse
        case 0xD4:
            ram_[0] &= static_cast<uint8_t>(~kCbAuxDis);   // talking to the mouse enables its port
            aux_command(v);
            refill();
            return false;
        default:
            // Plain data goes to the keyboard, and re-enables its port.
            ram_[0] &= static_cast<uint8_t>(~kCbKbdDis);
            kbd_command(v);
            refill();
            return false;
    }
}

void I8042::read(uint64_t offset, uint8_t* data, uint32_t size) {
    std::lock_guard<std::mutex> g(mu_);
    for (uint32_t i = 0; i < size; ++i) {
        uint64_t off = offset + i;
        bool in = offset < kWindow && i < kWindow - offset;
        if (in && off == 0) {
            data[i] = out_.v;   // with nothing new, the last byte again
            if (obf_) {
                obf_ = false;
                update_irq();   // lower the line first ...
                refill();       // ... so the next byte makes a new edge
            }
        } else if (in && off == 4) {
            data[i] = status();
        } else {
            data[i] = 0xff;
        }
    }
}

void I8042::write(uint64_t offset, const uint8_t* data, uint32_t size) {
    bool reset = false;
    {
        std::lock_guard<std::mutex> g(mu_);
        for (uint32_t i = 0; i < size; ++i) {
            if (offset >= kWindow || i >= kWindow - offset) break;
            uint64_t off = offset + i;
            if (off == 0) {
                last_was_cmd_ = false;
                reset |= controller_data(data[i]);
            } else if (off == 4) {
                last_was_cmd_ = true;
                pending_ctrl_ = 0;
                reset |= controller_command(data[i]);
            }
        }
    }
    if (reset && on_reset_) on_reset_();
}

}  // namespace vmm
