// One KVM virtual machine: memory slots (anonymous mmap), in-kernel
// irqchip + PIT, interrupt lines and the dirty log.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/guest_memory.h"
#include "kvm/fd.h"
#include "kvm/system.h"

namespace kvm {

struct Slot {
    uint32_t id;
    uint64_t gpa;
    uint64_t size;
    uint8_t* host;
    bool dirty_log;
};

class Vm {
public:
    explicit Vm(const System& sys);
    ~Vm();
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    int fd() const { return fd_.get(); }
    const System& system() const { return sys_; }

    // Maps `size` bytes (page multiple) of fresh anonymous memory at guest
    // physical `gpa`. Returns the slot; throws on overlap or KVM failure.
    const Slot& add_memory(uint64_t gpa, uint64_t size, bool dirty_log = false);
    const std::vector<Slot>& slots() const { return slots_; }
    // Every RAM slot (framebuffer included) as a bounds-checked view.
    vmm::GuestMemory memory() const;

    // Intel VMX needs these two pages below 4 GiB before the first vCPU;
    // other hosts accept and ignore them.
    void set_tss_addr(uint64_t addr);
    void set_identity_map_addr(uint64_t addr);
    void create_irqchip();  // PIC + IOAPIC + LAPICs
    void create_pit2();
    void irq_line(uint32_t gsi, bool level);

    // KVM_GET_DIRTY_LOG for the slot: one bit per 4 KiB page, written since
    // the previous call (the call also resets the log). `bitmap` is resized.
    void get_dirty_log(uint32_t slot, std::vector<uint64_t>& bitmap);

private:
    const System& sys_;
    Fd fd_;
    std::vector<Slot> slots_;
};

}  // namespace kvm
