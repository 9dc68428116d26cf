// i8042 PS/2 controller with a keyboard (scancode set 2, translated to set 1
// when command byte bit 6 is set) and a PS/2 / IntelliMouse mouse.
//
// Ports 0x60 (data) and 0x64 (status/command) are not contiguous: register
// ONE window of kWindow bytes at platform::kI8042Data; offset 0 is the data
// port, offset 4 the status/command port, offsets 1-3 read 0xff and ignore
// writes. IRQs: kbd = IrqLine(platform::kKeyboardGsi), aux = IrqLine(platform::kMouseGsi).
//
// Interrupts: each line is held high while the output buffer holds a byte
// from its source and that source's interrupt is enabled in the command
// byte, and dropped when the guest reads the byte, so every byte makes a
// fresh rising edge (what the edge-triggered ISA pins of KVM's PIC/IOAPIC
// need, and what Linux's i8042 driver expects: one interrupt per byte).
//
// Threading: read()/write() (vCPU threads) and key_event()/mouse_event()
// (any thread) take the device mutex. on_reset is called WITHOUT the mutex,
// on the vCPU thread that wrote the reset command. IrqLine setters are called
// with the mutex held and must not call back into this device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/device.h"
#include "core/irq.h"

namespace vmm {

class I8042 : public Device {
public:
    static constexpr uint64_t kWindow = 5;
    static constexpr size_t kQueueSize = 256;
    static constexpr size_t kReplyReserve = 16;   // queue bytes only command replies may use

    // Mouse button bits for mouse_event().
    static constexpr uint8_t kButtonLeft = 1, kButtonRight = 2, kButtonMiddle = 4;

    I8042(IrqLine kbd_irq, IrqLine aux_irq, std::function<void()> on_reset);

    const char* name() const override { return "i8042"; }
    void read(uint64_t offset, uint8_t* data, uint32_t size) override;
    void write(uint64_t offset, const uint8_t* data, uint32_t size) override;

    // qnum = QEMU's key numbering: the XT (set 1) make code, plus 0x80 for
    // E0-prefixed keys (Right Ctrl 0x9d, Up 0xc8, Delete 0xd3, Right Alt/AltGr
    // 0xb8, Left/Right Windows 0xdb/0xdc, Menu 0xdd, PrtScr 0xb7, keypad
    // Enter 0x9c, keypad / 0xb5). Covers a full PC105 keyboard plus F13-F24,
    // the Japanese/Brazilian extra keys and a few E0 media/ACPI keys.
    // Special keys (chosen as QEMU and real keyboards do):
    //  - Pause is 0xc6 (E0 46 in set 1): on press it sends E1 14 77 E1 F0 14
    //    F0 77 (set 2), nothing on release; with Ctrl held it sends Break
    //    (E0 7E E0 F0 7E) instead.
    //  - PrtScr 0xb7 sends E0 12 E0 7C / E0 F0 7C E0 F0 12; with Alt held it
    //    is SysRq (84 / F0 84). qnum 0x54 is SysRq too.
    // Output is set 2, translated to set 1 by the controller when command
    // byte bit 6 is set (the default). A guest that selects set 1 (F0 01)
    // gets set 1 from the keyboard untranslated. Unknown codes are ignored.
    // Nothing is queued while the keyboard has scanning disabled (F5); while
    // the controller has its port disabled (0xAD) keys wait in the queue.
    // When the queue is full new events are dropped (a few bytes stay
    // reserved for command replies); a key's sequence is never split.
    void key_event(uint16_t qnum, bool down);

    // Relative motion: dx > 0 = right, dy > 0 = DOWN (screen coordinates;
    // converted to PS/2's up-positive), dz > 0 = wheel down (towards the
    // user, like VNC button 5). buttons = kButton* bits. Large moves are
    // split into at most 8 packets of 9-bit deltas; beyond that the last
    // packet carries the overflow bits. dz is only sent (4th byte, -8..7 per
    // packet) after the IntelliMouse knock. Dropped when streaming is off,
    // in remote/wrap mode, when the controller disabled the aux port, or when
    // the queue cannot hold every packet.
    void mouse_event(int dx, int dy, int dz, uint8_t buttons);

    // Current keyboard LED state set by the guest (bit 0 scroll, 1 num, 2 caps).
    uint8_t leds();

private:
    enum class Src : uint8_t { Kbd, Aux };
    struct Byte { uint8_t v; Src src; bool input; };   // input: scancode/motion, not a reply

    bool queue_bytes(const uint8_t* v, size_t n, Src src, bool input);   // all or nothing
    size_t queue_space() const { return kQueueSize - q_count_; }
    void clear_queue(Src src);   // drops queued input (not replies) of one device
    void refill();                  // next deliverable byte -> output buffer
    void update_irq();
    bool kbd_send(const uint8_t* seq, size_t n, bool input = false);   // keyboard bytes, translated if XLAT is on
    void kbd_command(uint8_t v);
    void aux_command(uint8_t v);
    void aux_reply(const uint8_t* v, size_t n);
    void ctrl_reply(uint8_t v, Src src);
    bool controller_command(uint8_t v);   // returns true to pulse reset
    bool controller_data(uint8_t v);
    void kbd_defaults();
    void aux_defaults();
    bool mouse_packets(int dx, int dy, int dz, uint8_t buttons);
    uint8_t status() const;

    std::mutex mu_;
    IrqLine kbd_irq_, aux_irq_;
    std::function<void()> on_reset_;

    Byte q_[kQueueSize] = {};
    size_t q_head_ = 0, q_count_ = 0;
    // A controller reply (or D2/D3 byte) goes ahead of device data.
    bool ctrl_pending_ = false;
    Byte ctrl_ = {};

    // Output buffer as the guest sees it.
    bool obf_ = false;
    Byte out_ = {};
    bool kbd_level_ = false, aux_level_ = false;

    uint8_t ram_[32] = {};           // ram_[0] is the command byte
    bool last_was_cmd_ = false;      // status bit 3
    uint8_t pending_ctrl_ = 0;       // controller command awaiting its data byte
    uint8_t output_port_ = 0x03;     // bit 0 = not in reset, bit 1 = A20
    bool xlate_break_ = false;       // translation saw a set-2 0xF0 prefix

    // Keyboard.
    bool kbd_scanning_ = true;       // F4/F5
    uint8_t kbd_pending_ = 0;        // command awaiting its argument
    uint8_t scancode_set_ = 2;
    uint8_t leds_ = 0;
    uint8_t typematic_ = 0x2b;
    bool ctrl_down_[2] = {}, alt_down_[2] = {};

    // Mouse.
    bool aux_streaming_ = false, aux_remote_ = false, aux_wrap_ = false;
    uint8_t aux_pending_ = 0;
    uint8_t aux_rate_ = 100, aux_resolution_ = 2;
    bool aux_scaling21_ = false;
    uint8_t aux_id_ = 0;
    uint8_t rate_hist_[3] = {};
    uint8_t aux_buttons_ = 0;
};

}  // namespace vmm
