// rfb::Display over a vmm::Machine: the framebuffer slot, its KVM dirty log,
// and the machine's keyboard / pointer.
#pragma once

#include "rfb/server.h"
#include "vmm/machine.h"

namespace vmm::rfb {

class MachineDisplay : public Display {
public:
    explicit MachineDisplay(Machine& m) : m_(m) {}
    Surface surface() override {
        FramebufferInfo f = m_.framebuffer();
        Surface s;
        s.base = f.base;
        s.size = f.size;
        s.width = f.width;
        s.height = f.height;
        s.stride = f.stride;
        s.enabled = f.enabled && f.bpp == 32;
        return s;
    }
    std::vector<std::pair<uint32_t, uint32_t>> dirty_rows() override { return m_.dirty_rows(); }
    void key_event(uint16_t qnum, bool down) override { m_.key_event(qnum, down); }
    void pointer_event(int32_t x, int32_t y, uint32_t buttons, int32_t wheel) override {
        m_.pointer_event(x, y, buttons, wheel);
    }

private:
    Machine& m_;
};

}  // namespace vmm::rfb
