// C++-safe stand-ins for the variable-length KVM ioctl structs.
//
// <linux/kvm.h> declares their trailing arrays with __DECLARE_FLEX_ARRAY,
// which wraps them in a struct holding an empty struct. In C that empty
// struct has size 0; in C++ it has size 1, which moves `entries` and changes
// sizeof() — and with it the ioctl numbers, which encode the size. KVM then
// answers EINVAL. So C++ code uses these headers and the numbers below.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace kvm::uapi {

struct CpuidHeader {  // struct kvm_cpuid2 without its entries[]
    uint32_t nent;
    uint32_t padding;
};
struct MsrsHeader {  // struct kvm_msrs without its entries[]
    uint32_t nmsrs;
    uint32_t pad;
};
static_assert(sizeof(CpuidHeader) == 8 && sizeof(MsrsHeader) == 8);

constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);

}  // namespace kvm::uapi
