// One virtual CPU: its fd, the shared kvm_run page and the state ioctls.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "kvm/fd.h"
#include "kvm/vm.h"

namespace kvm {

class Vcpu {
public:
    Vcpu(Vm& vm, uint32_t id);
    ~Vcpu();
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;

    uint32_t id() const { return id_; }
    int fd() const { return fd_.get(); }
    kvm_run* run_page() const { return run_; }
    size_t run_size() const { return run_size_; }

    kvm_regs get_regs() const;
    void set_regs(const kvm_regs& r);
    kvm_sregs get_sregs() const;
    void set_sregs(const kvm_sregs& s);
    void set_fpu(const kvm_fpu& f);
    void set_msrs(const std::vector<std::pair<uint32_t, uint64_t>>& msrs);
    void set_cpuid(const std::vector<kvm_cpuid_entry2>& entries);
    void set_mp_state(uint32_t state);
    uint32_t get_mp_state() const;

    // One KVM_RUN. Returns 0 after a real exit, EINTR when a kick (signal or
    // immediate_exit) interrupted it; throws on any other error.
    int run();

    // Makes the next (or the current) KVM_RUN return EINTR. Safe from any
    // thread; the signal part is Machine's job (it owns the threads).
    void request_exit();
    void clear_exit_request();

private:
    uint32_t id_;
    Fd fd_;
    kvm_run* run_ = nullptr;
    size_t run_size_ = 0;
};

// Installs (once, process-wide) the no-op handler for the signal used to
// kick vCPU threads out of KVM_RUN, and returns its number.
int kick_signal();

}  // namespace kvm
