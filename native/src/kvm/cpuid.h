// Per-vCPU CPUID table, derived from KVM_GET_SUPPORTED_CPUID. Pure data
// transformation (no ioctls) so it is unit-tested without /dev/kvm.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace kvm {

struct CpuidOptions {
    uint32_t vcpu_index = 0;  // also the APIC ID (KVM's LAPIC uses the vcpu id)
    uint32_t vcpu_count = 1;  // topology: N cores in one package, 1 thread per core
    bool tsc_deadline = false;  // KVM_CAP_TSC_DEADLINE_TIMER: not in the supported list, set by hand
};

std::vector<kvm_cpuid_entry2> make_cpuid(const std::vector<kvm_cpuid_entry2>& supported, const CpuidOptions& o);

// Lookup helper for tests and the vendor check.
const kvm_cpuid_entry2* find_cpuid(const std::vector<kvm_cpuid_entry2>& t, uint32_t fn, uint32_t index = 0);

}  // namespace kvm
