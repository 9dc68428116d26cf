#include "kvm/vm.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

namespace kvm {

Vm::Vm(const System& sys) : sys_(sys) {
    int f = ::ioctl(sys.fd(), KVM_CREATE_VM, 0);
    if (f < 0) throw Error("KVM_CREATE_VM", errno);
    fd_.reset(f);
}

Vm::~Vm() {
    // The VM fd goes first so KVM drops its references before we unmap.
    fd_.reset();
    for (auto& s : slots_) ::munmap(s.host, s.size);
}

const Slot& Vm::add_memory(uint64_t gpa, uint64_t size, bool dirty_log) {
    if (size == 0 || (size & 0xfff) || (gpa & 0xfff) || gpa + size < gpa)
        throw Error("memory slot must be a non-empty page-aligned range");
    for (const auto& s : slots_) {
        if (gpa < s.gpa + s.size && s.gpa < gpa + size) throw Error("memory slot overlaps another one");
    }
    // MAP_NORESERVE: a VM's RAM is committed only as the guest touches it.
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw Error("mmap of guest memory", errno);
    ::madvise(p, size, MADV_MERGEABLE);  // best effort (KSM may be off)
    ::madvise(p, size, MADV_DONTDUMP);   // guest RAM has no place in a core dump

    kvm_userspace_memory_region r{};
    r.slot = static_cast<uint32_t>(slots_.size());
    r.flags = dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    r.guest_phys_addr = gpa;
    r.memory_size = size;
    r.userspace_addr = reinterpret_cast<uint64_t>(p);
    if (::ioctl(fd(), KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        int e = errno;
        ::munmap(p, size);
        throw Error("KVM_SET_USER_MEMORY_REGION", e);
    }
    slots_.push_back({r.slot, gpa, size, static_cast<uint8_t*>(p), dirty_log});
    return slots_.back();
}

vmm::GuestMemory Vm::memory() const {
    vmm::GuestMemory m;
    for (const auto& s : slots_) m.add({s.gpa, s.size, s.host});
    return m;
}

void Vm::set_tss_addr(uint64_t addr) {
    if (::ioctl(fd(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0) throw Error("KVM_SET_TSS_ADDR", errno);
}

void Vm::set_identity_map_addr(uint64_t addr) {
    if (sys_.check_extension(KVM_CAP_SET_IDENTITY_MAP_ADDR) <= 0) return;
    __u64 a = addr;
    if (::ioctl(fd(), KVM_SET_IDENTITY_MAP_ADDR, &a) < 0) throw Error("KVM_SET_IDENTITY_MAP_ADDR", errno);
}

void Vm::create_irqchip() {
    if (::ioctl(fd(), KVM_CREATE_IRQCHIP, 0) < 0) throw Error("KVM_CREATE_IRQCHIP", errno);
}

void Vm::create_pit2() {
    kvm_pit_config c{};
    c.flags = KVM_PIT_SPEAKER_DUMMY;
    if (::ioctl(fd(), KVM_CREATE_PIT2, &c) < 0) throw Error("KVM_CREATE_PIT2", errno);
}

void Vm::irq_line(uint32_t gsi, bool level) {
    kvm_irq_level l{};
    l.irq = gsi;
    l.level = level ? 1 : 0;
    if (::ioctl(fd(), KVM_IRQ_LINE, &l) < 0) throw Error("KVM_IRQ_LINE", errno);
}

void Vm::get_dirty_log(uint32_t slot, std::vector<uint64_t>& bitmap) {
    if (slot >= slots_.size() || !slots_[slot].dirty_log) throw Error("dirty log requested for a slot without one");
    uint64_t pages = slots_[slot].size >> 12;
    bitmap.assign((pages + 63) / 64, 0);
    kvm_dirty_log d{};
    d.slot = slot;
    d.dirty_bitmap = bitmap.data();
    if (::ioctl(fd(), KVM_GET_DIRTY_LOG, &d) < 0) throw Error("KVM_GET_DIRTY_LOG", errno);
}

}  // namespace kvm
