// X keysym (RFB KeyEvent) -> qnum (native/src/devices/i8042.h numbering:
// XT set-1 make code, +0x80 for E0-prefixed keys).
//
// Mapped by key POSITION on a US PC105 keyboard: a shifted keysym ('A', '!',
// '{') maps to the same key as its unshifted one, and no Shift is ever
// synthesized. Clients such as noVNC send the Shift press as its own event
// before the shifted keysym, so the guest sees exactly the keys the user
// held. A client that sends '!' without Shift gets '1' (with a US layout in
// the guest). Layout-independent input needs the QEMU extended key event,
// which carries the key's scancode and is used as is. The PC105 102nd key
// (qnum 0x56, '<>' on ISO keyboards) has no US keysym: extended events only.
#pragma once

#include <cstdint>

namespace vmm::rfb {

// 0 when the keysym has no key.
uint16_t keysym_to_qnum(uint32_t keysym);

}  // namespace vmm::rfb
