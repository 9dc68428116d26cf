// The /dev/kvm system fd: API version, capabilities, supported CPUID.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <string>
#include <vector>

#include "kvm/fd.h"

namespace kvm {

class System {
public:
    // Opens /dev/kvm (or `path`) and insists on API version 12 and the
    // capabilities every VM of ours needs; throws kvm::Error otherwise.
    explicit System(const char* path = "/dev/kvm");

    int fd() const { return fd_.get(); }
    // KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific value.
    int check_extension(long cap) const;
    void require(long cap, const char* name) const;

    const std::vector<kvm_cpuid_entry2>& supported_cpuid() const { return cpuid_; }
    size_t vcpu_mmap_size() const { return mmap_size_; }

    // True on a kvm_pvm host (nested, no VT-x/AMD-V): guest CPL0 code is
    // emulated there. Not a different code path, only a fact to report.
    static bool is_pvm_host();
    static const char* pvm_notice();

private:
    Fd fd_;
    std::vector<kvm_cpuid_entry2> cpuid_;
    size_t mmap_size_ = 0;
};

}  // namespace kvm
