// i8042 controller, PS/2 keyboard and mouse, as Linux's i8042/atkbd/psmouse drive them.
#include <vector>

#include "check.h"
#include "devices/i8042.h"

namespace {

struct Line {
    bool level = false;
    int rises = 0;
    vmm::IrqLine line(uint32_t gsi) {
        return vmm::IrqLine(gsi, [this](uint32_t, bool l) {
            if (l && !level) ++rises;
            level = l;
        });
    }
};

struct Kbc {
    Line kbd, aux;
    int resets = 0;
    vmm::I8042 dev{kbd.line(1), aux.line(12), [this] { ++resets; }};
    uint8_t status() { uint8_t v; dev.read(4, &v, 1); return v; }
    uint8_t data() { uint8_t v; dev.read(0, &v, 1); return v; }
    void cmd(uint8_t v) { dev.write(4, &v, 1); }
    void put(uint8_t v) { dev.write(0, &v, 1); }
    // Everything in the output buffer, as the driver's flush loop reads it.
    std::vector<uint8_t> drain(std::vector<bool>* aux_flags = nullptr) {
        std::vector<uint8_t> v;
        for (int i = 0; i < 4096 && (status() & 1); ++i) {
            if (aux_flags) aux_flags->push_back(status() & 0x20);
            v.push_back(data());
        }
        return v;
    }
    void set_xlate(bool on) {
        cmd(0x20);
        uint8_t cb = data();
        cmd(0x60);
        put(on ? (cb | 0x40) : (cb & ~0x40));
    }
    std::vector<uint8_t> key(uint16_t q, bool down) { dev.key_event(q, down); return drain(); }
};

using Bytes = std::vector<uint8_t>;

}  // namespace

TEST(i8042_selftest_and_interface_tests) {
    Kbc k;
    CHECK_EQ(k.status() & 0x01, 0);
    CHECK_EQ(k.status() & 0x10, 0x10);   // keyboard not locked
    k.cmd(0xAA);
    CHECK_EQ(k.status() & 0x0D, 0x0D);   // OBF, SYS, last write was a command
    CHECK_EQ(k.data(), 0x55);
    CHECK_EQ(k.status() & 0x01, 0);
    k.cmd(0xAB); CHECK_EQ(k.data(), 0x00);
    k.cmd(0xA9); CHECK_EQ(k.data(), 0x00);
    // AUX loopback (Linux's i8042_check_aux): the byte comes back flagged as aux.
    k.cmd(0xD3); k.put(0x5A);
    CHECK_EQ(k.status() & 0x21, 0x21);
    CHECK(k.aux.level);
    CHECK_EQ(k.data(), 0x5A);
    CHECK(!k.aux.level);
    k.cmd(0xD2); k.put(0x33);
    CHECK_EQ(k.status() & 0x21, 0x01);
    CHECK(k.kbd.level);
    CHECK_EQ(k.data(), 0x33);
}

TEST(i8042_command_byte_round_trip) {
    Kbc k;
    k.cmd(0x20);
    CHECK_EQ(k.data(), 0x47);   // translate, SYS, both interrupts
    k.cmd(0x60); k.put(0x65);
    k.cmd(0x20); CHECK_EQ(k.data(), 0x65);
    k.cmd(0xA8); k.cmd(0x20); CHECK_EQ(k.data() & 0x20, 0);
    k.cmd(0xA7); k.cmd(0x20); CHECK_EQ(k.data() & 0x20, 0x20);
    k.cmd(0xAE); k.cmd(0x20); CHECK_EQ(k.data() & 0x10, 0);
    k.cmd(0xAD); k.cmd(0x20); CHECK_EQ(k.data() & 0x10, 0x10);
    // Keyboard disabled: keys wait, and are delivered when it is enabled again.
    k.dev.key_event(0x1E, true);
    CHECK_EQ(k.status() & 1, 0);
    k.cmd(0xAE);
    CHECK((k.drain() == Bytes{0x1E}));
}

TEST(i8042_translation_on_and_off) {
    Kbc k;
    // On (default): set 1 comes out.
    CHECK((k.key(0x1E, true) == Bytes{0x1E}));
    CHECK((k.key(0x1E, false) == Bytes{0x9E}));
    CHECK((k.key(0x9D, true) == Bytes{0xE0, 0x1D}));            // Right Ctrl
    CHECK((k.key(0x9D, false) == Bytes{0xE0, 0x9D}));
    CHECK((k.key(0xC8, true) == Bytes{0xE0, 0x48}));            // Up
    CHECK((k.key(0xC6, true) == Bytes{0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5}));   // Pause
    CHECK(k.key(0xC6, false).empty());
    CHECK((k.key(0xB7, true) == Bytes{0xE0, 0x2A, 0xE0, 0x37}));   // PrtScr
    CHECK((k.key(0xB7, false) == Bytes{0xE0, 0xB7, 0xE0, 0xAA}));
    CHECK((k.key(0x41, true) == Bytes{0x41}));                  // F7 (set 2 0x83)
    // Off: raw set 2.
    k.set_xlate(false);
    CHECK((k.key(0x1E, true) == Bytes{0x1C}));
    CHECK((k.key(0x1E, false) == Bytes{0xF0, 0x1C}));
    CHECK((k.key(0x9D, true) == Bytes{0xE0, 0x14}));
    CHECK((k.key(0x9D, false) == Bytes{0xE0, 0xF0, 0x14}));
    CHECK((k.key(0xB8, true) == Bytes{0xE0, 0x11}));            // AltGr
    CHECK((k.key(0xB8, false) == Bytes{0xE0, 0xF0, 0x11}));
    CHECK((k.key(0xD3, false) == Bytes{0xE0, 0xF0, 0x71}));     // Delete
    CHECK((k.key(0x56, true) == Bytes{0x61}));                  // 102nd key
    CHECK((k.key(0xDB, true) == Bytes{0xE0, 0x1F}));            // Left Windows
    CHECK((k.key(0xC6, true) == Bytes{0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77}));
    CHECK((k.key(0xB7, true) == Bytes{0xE0, 0x12, 0xE0, 0x7C}));
    CHECK((k.key(0xB7, false) == Bytes{0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12}));
    k.key(0x1D, true);
    CHECK((k.key(0xC6, true) == Bytes{0xE0, 0x7E, 0xE0, 0xF0, 0x7E}));   // Ctrl+Pause = Break
    k.key(0x1D, false);
}

TEST(i8042_translation_gives_set1_for_every_key) {
    // The translated set-2 output of every mapped key must be exactly its
    // qnum as set 1 (E0 + low 7 bits, bit 7 on release).
    Kbc k;
    int mapped = 0;
    for (uint16_t q = 0; q < 256; ++q) {
        if (q == 0xB7 || q == 0xC6 || q == 0x1D || q == 0x9D || q == 0x38 || q == 0xB8) continue;
        Bytes make = k.key(q, true), brk = k.key(q, false);
        if (make.empty()) { CHECK(brk.empty()); continue; }
        ++mapped;
        Bytes em, eb;
        if (q & 0x80) { em.push_back(0xE0); eb.push_back(0xE0); }
        em.push_back(static_cast<uint8_t>(q & 0x7F));
        eb.push_back(static_cast<uint8_t>(q | 0x80));
        if (make != em || brk != eb) std::fprintf(stderr, "  qnum 0x%02x translated wrongly\n", q);
        CHECK(make == em);
        CHECK(brk == eb);
    }
    CHECK(mapped >= 104);   // a full PC105 keyboard and then some
}

TEST(i8042_keyboard_commands) {
    Kbc k;
    k.set_xlate(false);
    k.put(0xFF); CHECK((k.drain() == Bytes{0xFA, 0xAA}));
    k.put(0xF2); CHECK((k.drain() == Bytes{0xFA, 0xAB, 0x83}));
    k.put(0xED); CHECK((k.drain() == Bytes{0xFA}));
    k.put(0x06); CHECK((k.drain() == Bytes{0xFA}));
    CHECK_EQ(k.dev.leds(), 6);
    k.put(0xEE); CHECK((k.drain() == Bytes{0xEE}));
    k.put(0xF0); k.put(0x00); CHECK((k.drain() == Bytes{0xFA, 0xFA, 0x02}));
    k.put(0xF0); k.put(0x02); CHECK((k.drain() == Bytes{0xFA, 0xFA}));
    k.put(0xF3); k.put(0x20); CHECK((k.drain() == Bytes{0xFA, 0xFA}));
    k.put(0x01); CHECK((k.drain() == Bytes{0xFE}));   // unknown: resend
    k.put(0xF5); CHECK((k.drain() == Bytes{0xFA}));
    k.dev.key_event(0x1E, true);
    CHECK(k.drain().empty());                          // scanning disabled
    k.put(0xF4); CHECK((k.drain() == Bytes{0xFA}));
    k.put(0xF6); CHECK((k.drain() == Bytes{0xFA}));
    CHECK((k.key(0x1E, true) == Bytes{0x1C}));
    // Translated identify, as atkbd sees it on a PC: AB 41.
    k.set_xlate(true);
    k.put(0xF2); CHECK((k.drain() == Bytes{0xFA, 0xAB, 0x41}));
}

TEST(i8042_irq_edge_per_byte) {
    Kbc k;
    k.dev.key_event(0x9D, true);   // E0 1D: two bytes
    CHECK(k.kbd.level);
    CHECK_EQ(k.kbd.rises, 1);
    k.data();
    CHECK_EQ(k.kbd.rises, 2);      // dropped and raised again for the second byte
    k.data();
    CHECK(!k.kbd.level);
    // Interrupt disabled in the command byte: no line, data still readable.
    k.cmd(0x60); k.put(0x46);
    k.dev.key_event(0x1E, true);
    CHECK(!k.kbd.level);
    CHECK_EQ(k.status() & 1, 1);
    // Enabling it with a byte waiting raises the line.
    k.cmd(0x60); k.put(0x47);
    CHECK(k.kbd.level);
    CHECK_EQ(k.data(), 0x1E);
    CHECK(!k.aux.level);
}

TEST(i8042_mouse_reset_intellimouse_and_packets) {
    Kbc k;
    auto aux = [&](uint8_t v) { k.cmd(0xD4); k.put(v); };
    std::vector<bool> flags;
    aux(0xFF);
    CHECK((k.drain(&flags) == Bytes{0xFA, 0xAA, 0x00}));
    CHECK(flags.size() == 3 && flags[0] && flags[1] && flags[2]);   // AUXB on every byte
    CHECK(k.aux.rises >= 1);
    aux(0xF2); CHECK((k.drain() == Bytes{0xFA, 0x00}));
    // Plain PS/2: 3-byte packets once streaming.
    aux(0xF4); CHECK((k.drain() == Bytes{0xFA}));
    k.dev.mouse_event(10, 5, 1, vmm::I8042::kButtonLeft);
    CHECK((k.drain() == Bytes{0x29, 0x0A, 0xFB}));   // y up-positive: -5, sign bit 5
    // IntelliMouse knock.
    for (uint8_t r : {200, 100, 80}) { aux(0xF3); aux(r); }
    CHECK((k.drain() == Bytes{0xFA, 0xFA, 0xFA, 0xFA, 0xFA, 0xFA}));
    aux(0xF2); CHECK((k.drain() == Bytes{0xFA, 0x03}));
    aux(0xE8); aux(0x03); CHECK((k.drain() == Bytes{0xFA, 0xFA}));
    aux(0xE7); CHECK((k.drain() == Bytes{0xFA}));
    aux(0xE9); CHECK((k.drain() == Bytes{0xFA, 0x34, 0x03, 80}));   // streaming, 2:1, left held
    aux(0xE6); k.drain();
    aux(0xF4); k.drain();
    k.dev.mouse_event(-3, -2, -1, vmm::I8042::kButtonRight | vmm::I8042::kButtonMiddle);
    CHECK((k.drain() == Bytes{0x1E, 0xFD, 0x02, 0xFF}));
    // A large move is split so every delta fits in 9 bits.
    k.dev.mouse_event(600, 0, 0, 0);
    CHECK((k.drain() == Bytes{0x08, 0xFF, 0x00, 0x00, 0x08, 0xFF, 0x00, 0x00, 0x08, 90, 0x00, 0x00}));
    // An absurd one is capped and flagged with the overflow bit.
    k.dev.mouse_event(1 << 30, 0, 0, 0);
    Bytes b = k.drain();
    CHECK_EQ(b.size(), 32u);
    CHECK_EQ(b[28] & 0x40, 0x40);
    // Disabled: no packets.
    aux(0xF5); k.drain();
    k.dev.mouse_event(1, 1, 0, 0);
    CHECK(k.drain().empty());
    CHECK(!k.aux.level);
}

TEST(i8042_queue_overflow_drops_new_input) {
    Kbc k;
    for (int i = 0; i < 300; ++i) k.dev.key_event(0x1E, (i & 1) == 0);
    Bytes b = k.drain();
    // The queue holds kQueueSize - kReplyReserve bytes of input, plus the output buffer.
    CHECK_EQ(b.size(), vmm::I8042::kQueueSize - vmm::I8042::kReplyReserve + 1);
    CHECK_EQ(b[0], 0x1E);
    CHECK_EQ(b[1], 0x9E);
    CHECK((k.key(0x1E, true) == Bytes{0x1E}));   // room again
    // A full queue still takes command replies.
    for (int i = 0; i < 300; ++i) k.dev.key_event(0x1E, (i & 1) == 0);
    k.put(0xEE);
    Bytes c = k.drain();
    CHECK_EQ(c.back(), 0xEE);
    // A mouse packet never goes in half.
    k.cmd(0xD4); k.put(0xF4); k.drain();
    for (int i = 0; i < 200; ++i) k.dev.mouse_event(1, 0, 0, 0);
    CHECK_EQ(k.drain().size() % 3, 0u);
}

TEST(i8042_reset_lines) {
    Kbc k;
    k.cmd(0xFE); CHECK_EQ(k.resets, 1);
    k.cmd(0xFF); CHECK_EQ(k.resets, 1);   // bit 0 high: nothing pulsed
    k.cmd(0xF0); CHECK_EQ(k.resets, 2);
    k.cmd(0xD1); k.put(0x03); CHECK_EQ(k.resets, 2);
    k.cmd(0xD0); CHECK_EQ(k.data() & 0x03, 0x03);
    k.cmd(0xD1); k.put(0x02); CHECK_EQ(k.resets, 3);
    // A 32-bit access to the data port is four byte accesses: no crash.
    uint32_t v = 0;
    k.dev.read(0, reinterpret_cast<uint8_t*>(&v), 4);
    CHECK_EQ(v >> 8, 0xFFFFFFu);
}

FUZZ_TARGET(fuzz_i8042) {
    Line kl, al;
    vmm::I8042 dev(kl.line(1), al.line(12), [] {});
    static const uint32_t sizes[4] = {1, 2, 4, 8};
    size_t i = 0;
    auto next = [&] { return i < size ? data[i++] : uint8_t{0}; };
    while (i < size) {
        uint8_t op = next();
        uint64_t off = next();
        if (off >= 0xF0) off = ~0ull - (off & 7);
        else off &= 0x07;
        uint32_t sz = sizes[op >> 6];
        uint8_t buf[8];
        switch (op & 7) {
            case 0: case 1: dev.read(off & 4, buf, 1); break;
            case 2: dev.read(off, buf, sz); break;
            case 3: case 4:
                for (auto& b : buf) b = next();
                dev.write((op & 1) ? 0 : off, buf, (op & 1) ? 1 : sz);
                break;
            case 5: dev.key_event(static_cast<uint16_t>(next() | ((op & 0x20) ? 0x100 : 0)), op & 8); break;
            case 6: {
                int dx = static_cast<int8_t>(next()) * ((op & 8) ? 1000000 : 1);
                int dy = static_cast<int8_t>(next()) * ((op & 16) ? 100000 : 1);
                dev.mouse_event(dx, dy, static_cast<int8_t>(next()), next());
                break;
            }
            default: dev.leds(); break;
        }
    }
}
