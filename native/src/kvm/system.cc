#include "kvm/system.h"

#include <cstring>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "kvm/uapi.h"

namespace kvm {

System::System(const char* path) {
    int f = ::open(path, O_RDWR | O_CLOEXEC);
    if (f < 0) throw Error(std::string("cannot open ") + path, errno);
    fd_.reset(f);

    int version = ::ioctl(fd(), KVM_GET_API_VERSION, 0);
    if (version < 0) throw Error("KVM_GET_API_VERSION", errno);
    if (version != KVM_API_VERSION)
        throw Error("KVM API version " + std::to_string(version) + ", expected " + std::to_string(KVM_API_VERSION));

    require(KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY");
    require(KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
    require(KVM_CAP_PIT2, "KVM_CAP_PIT2");
    require(KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID");
    require(KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT");
    require(KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR");

    int sz = ::ioctl(fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (sz <= 0) throw Error("KVM_GET_VCPU_MMAP_SIZE", errno);
    mmap_size_ = static_cast<size_t>(sz);

    // The table's size is not known in advance: grow until KVM stops
    // answering E2BIG.
    for (uint32_t n = 128; n <= 4096; n *= 2) {
        std::vector<uint8_t> buf(sizeof(uapi::CpuidHeader) + n * sizeof(kvm_cpuid_entry2));
        auto* h = reinterpret_cast<uapi::CpuidHeader*>(buf.data());
        h->nent = n;
        if (::ioctl(fd(), uapi::kGetSupportedCpuid, buf.data()) == 0) {
            cpuid_.resize(h->nent);
            std::memcpy(cpuid_.data(), buf.data() + sizeof(uapi::CpuidHeader), h->nent * sizeof(kvm_cpuid_entry2));
            return;
        }
        // E2BIG: table larger than n. Some hosts (PVM) refuse n above
        // their own maximum with EINVAL instead; by then n was big enough
        // unless the table really is larger, which E2BIG would have said.
        if (errno != E2BIG) throw Error("KVM_GET_SUPPORTED_CPUID", errno);
    }
    throw Error("KVM_GET_SUPPORTED_CPUID: table too large");
}

int System::check_extension(long cap) const {
    int r = ::ioctl(fd(), KVM_CHECK_EXTENSION, cap);
    return r < 0 ? 0 : r;
}

void System::require(long cap, const char* name) const {
    if (check_extension(cap) <= 0) throw Error(std::string("KVM lacks required capability ") + name);
}

bool System::is_pvm_host() {
    struct stat st;
    return ::stat("/sys/module/kvm_pvm", &st) == 0;
}

const char* System::pvm_notice() {
    return "host KVM is kvm_pvm (nested, no VT-x/AMD-V): guest kernel-mode code is emulated "
           "(~1.8 us/instruction) and a stock Linux kernel stops in early boot here; it boots fully "
           "on hardware KVM";
}

}  // namespace kvm
