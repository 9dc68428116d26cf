#include "kvm/vcpu.h"

#include "kvm/uapi.h"

#include <csignal>
#include <cstring>
#include <mutex>
#include <sys/ioctl.h>
#include <sys/mman.h>

namespace kvm {

Vcpu::Vcpu(Vm& vm, uint32_t id) : id_(id) {
    int f = ::ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(id));
    if (f < 0) throw Error("KVM_CREATE_VCPU " + std::to_string(id), errno);
    fd_.reset(f);
    run_size_ = vm.system().vcpu_mmap_size();
    void* p = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd(), 0);
    if (p == MAP_FAILED) throw Error("mmap of kvm_run", errno);
    run_ = static_cast<kvm_run*>(p);
}

Vcpu::~Vcpu() {
    if (run_) ::munmap(run_, run_size_);
}

kvm_regs Vcpu::get_regs() const {
    kvm_regs r{};
    if (::ioctl(fd(), KVM_GET_REGS, &r) < 0) throw Error("KVM_GET_REGS", errno);
    return r;
}

void Vcpu::set_regs(const kvm_regs& r) {
    if (::ioctl(fd(), KVM_SET_REGS, &r) < 0) throw Error("KVM_SET_REGS", errno);
}

kvm_sregs Vcpu::get_sregs() const {
    kvm_sregs s{};
    if (::ioctl(fd(), KVM_GET_SREGS, &s) < 0) throw Error("KVM_GET_SREGS", errno);
    return s;
}

void Vcpu::set_sregs(const kvm_sregs& s) {
    if (::ioctl(fd(), KVM_SET_SREGS, &s) < 0) throw Error("KVM_SET_SREGS", errno);
}

void Vcpu::set_fpu(const kvm_fpu& f) {
    if (::ioctl(fd(), KVM_SET_FPU, &f) < 0) throw Error("KVM_SET_FPU", errno);
}

void Vcpu::set_msrs(const std::vector<std::pair<uint32_t, uint64_t>>& msrs) {
    if (msrs.empty()) return;
    std::vector<uint8_t> buf(sizeof(uapi::MsrsHeader) + msrs.size() * sizeof(kvm_msr_entry));
    reinterpret_cast<uapi::MsrsHeader*>(buf.data())->nmsrs = static_cast<uint32_t>(msrs.size());
    auto* entries = reinterpret_cast<kvm_msr_entry*>(buf.data() + sizeof(uapi::MsrsHeader));
    for (size_t i = 0; i < msrs.size(); ++i) {
        entries[i].index = msrs[i].first;
        entries[i].reserved = 0;
        entries[i].data = msrs[i].second;
    }
    int r = ::ioctl(fd(), uapi::kSetMsrs, buf.data());
    if (r < 0) throw Error("KVM_SET_MSRS", errno);
    // KVM returns how many it set: the first refused one is named.
    if (static_cast<size_t>(r) != msrs.size()) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "%#x", msrs[static_cast<size_t>(r)].first);
        throw Error(std::string("KVM_SET_MSRS refused MSR ") + hex);
    }
}

void Vcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) {
    std::vector<uint8_t> buf(sizeof(uapi::CpuidHeader) + entries.size() * sizeof(kvm_cpuid_entry2));
    reinterpret_cast<uapi::CpuidHeader*>(buf.data())->nent = static_cast<uint32_t>(entries.size());
    std::memcpy(buf.data() + sizeof(uapi::CpuidHeader), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
    if (::ioctl(fd(), uapi::kSetCpuid2, buf.data()) < 0) throw Error("KVM_SET_CPUID2", errno);
}

void Vcpu::set_mp_state(uint32_t state) {
    kvm_mp_state s{state};
    if (::ioctl(fd(), KVM_SET_MP_STATE, &s) < 0) throw Error("KVM_SET_MP_STATE", errno);
}

uint32_t Vcpu::get_mp_state() const {
    kvm_mp_state s{};
    if (::ioctl(fd(), KVM_GET_MP_STATE, &s) < 0) throw Error("KVM_GET_MP_STATE", errno);
    return s.mp_state;
}

int Vcpu::run() {
    if (::ioctl(fd(), KVM_RUN, 0) == 0) return 0;
    int e = errno;
    if (e == EINTR || e == EAGAIN) return EINTR;
    throw Error("KVM_RUN", e);
}

void Vcpu::request_exit() { __atomic_store_n(&run_->immediate_exit, 1, __ATOMIC_SEQ_CST); }
void Vcpu::clear_exit_request() { __atomic_store_n(&run_->immediate_exit, 0, __ATOMIC_SEQ_CST); }

namespace {
void on_kick(int) {}  // its only job is to interrupt the KVM_RUN ioctl
}

int kick_signal() {
    // A real-time signal: Node owns SIGUSR1 (inspector) and libuv SIGCHLD.
    static int sig = [] {
        int s = SIGRTMIN + 4;
        struct sigaction sa{};
        sa.sa_handler = on_kick;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
        ::sigaction(s, &sa, nullptr);
        return s;
    }();
    return sig;
}

}  // namespace kvm
