// An interrupt line into the guest's in-kernel irqchip (PIC/IOAPIC).
// Devices hold an IrqLine and never talk to KVM themselves, so they can be
// unit-tested and fuzzed with a recording fake.
#pragma once

#include <cstdint>
#include <functional>

namespace vmm {

class IrqLine {
public:
    using Setter = std::function<void(uint32_t gsi, bool level)>;
    IrqLine() = default;
    IrqLine(uint32_t gsi, Setter set) : gsi_(gsi), set_(std::move(set)) {}

    uint32_t gsi() const { return gsi_; }
    void set(bool level) { if (set_) set_(gsi_, level); }
    // Edge-triggered devices (legacy ISA: COM1, i8042, RTC) pulse the line.
    void pulse() { set(true); set(false); }

private:
    uint32_t gsi_ = 0;
    Setter set_;
};

}  // namespace vmm
