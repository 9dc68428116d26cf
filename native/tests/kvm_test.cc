// KVM layer: CPUID topology (pure), and — when /dev/kvm is usable — VM
// creation, memory slot bookkeeping, a tiny real-mode guest doing port I/O
// and the dirty log of the slot it wrote.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "check.h"
#include "kvm/cpuid.h"
#include "kvm/system.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

namespace {

kvm_cpuid_entry2 leaf(uint32_t fn, uint32_t idx, uint32_t a, uint32_t b, uint32_t c, uint32_t d, bool sig = false) {
    kvm_cpuid_entry2 e{};
    e.function = fn;
    e.index = idx;
    e.flags = sig ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    e.eax = a;
    e.ebx = b;
    e.ecx = c;
    e.edx = d;
    return e;
}

std::vector<kvm_cpuid_entry2> fake_intel() {
    // "GenuineIntel" = EBX "Genu", EDX "ineI", ECX "ntel".
    return {
        leaf(0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),
        leaf(1, 0, 0x000806f8, 0x00000800, 0x00000008 /* monitor */, 0),
        leaf(4, 0, 0x121, 0, 0, 0, true),  // L1d
        leaf(4, 1, 0x163, 0, 0, 0, true),  // L3 (level 3, unified)
        leaf(4, 2, 0, 0, 0, 0, true),      // end
        leaf(0xb, 0, 0, 0, 0, 0, true),
        leaf(0xb, 1, 0, 0, 0, 0, true),
        leaf(0xb, 2, 0, 0, 0, 0, true),
        leaf(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d, false),
    };
}

bool kvm_usable() { return ::access("/dev/kvm", R_OK | W_OK) == 0; }

}  // namespace

TEST(kvm_cpuid_topology_intel) {
    auto sup = fake_intel();
    for (uint32_t n : {1u, 2u, 3u, 4u}) {
        for (uint32_t i = 0; i < n; ++i) {
            auto t = kvm::make_cpuid(sup, {i, n, true});
            auto* l1 = kvm::find_cpuid(t, 1);
            CHECK(l1 != nullptr);
            CHECK_EQ(l1->ebx >> 24, i);
            CHECK_EQ((l1->ebx >> 16) & 0xff, n);
            CHECK((l1->ecx >> 31) & 1);   // hypervisor
            CHECK((l1->ecx >> 24) & 1);   // tsc deadline
            CHECK(!((l1->ecx >> 3) & 1)); // monitor masked
            CHECK((l1->edx >> 28) & 1);   // HTT
            auto* smt = kvm::find_cpuid(t, 0xb, 0);
            auto* core = kvm::find_cpuid(t, 0xb, 1);
            auto* end = kvm::find_cpuid(t, 0xb, 2);
            CHECK(smt && core && end);
            CHECK_EQ(smt->ebx, 1u);
            CHECK_EQ((smt->ecx >> 8) & 0xff, 1u);
            CHECK_EQ(core->ebx, n);
            CHECK_EQ((core->ecx >> 8) & 0xff, 2u);
            CHECK((1u << core->eax) >= n);
            CHECK_EQ(core->edx, i);
            CHECK_EQ(end->ebx, 0u);
            auto* l1d = kvm::find_cpuid(t, 4, 0);
            auto* l3 = kvm::find_cpuid(t, 4, 1);
            CHECK_EQ(l1d->eax >> 26, n - 1);
            CHECK_EQ((l1d->eax >> 14) & 0xfff, 0u);
            CHECK_EQ((l3->eax >> 14) & 0xfff, n - 1);
            CHECK_EQ(l3->eax & 0x3fff, 0x163u);
            // Paravirt leaves are kept as KVM gave them.
            auto* pv = kvm::find_cpuid(t, 0x40000000);
            CHECK(pv && pv->ebx == 0x4b4d564b);
        }
    }
}

TEST(kvm_cpuid_adds_leaf_b_when_missing) {
    auto sup = fake_intel();
    std::erase_if(sup, [](const kvm_cpuid_entry2& e) { return e.function == 0xb; });
    auto t = kvm::make_cpuid(sup, {1, 2, false});
    auto* core = kvm::find_cpuid(t, 0xb, 1);
    CHECK(core != nullptr);
    if (core) CHECK_EQ(core->edx, 1u);
}

TEST(kvm_cpuid_amd_core_count) {
    // "AuthenticAMD" = EBX "Auth", EDX "enti", ECX "cAMD".
    std::vector<kvm_cpuid_entry2> sup = {
        leaf(0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
        leaf(1, 0, 0, 0, 0, 0),
        leaf(0xb, 0, 0, 0, 0, 0, true),  // this AMD host lists subleaf 0 only
        leaf(0x80000000, 0, 0x8000001e, 0, 0, 0),
        leaf(0x80000008, 0, 0x3030, 0, 0xff, 0),
        leaf(0x8000001e, 0, 0, 0x100, 0, 0),
    };
    auto t = kvm::make_cpuid(sup, {3, 4, false});
    CHECK_EQ(kvm::find_cpuid(t, 0x80000008)->ecx & 0xff, 3u);
    CHECK_EQ((kvm::find_cpuid(t, 0x80000008)->ecx >> 12) & 0xf, 2u);
    CHECK_EQ(kvm::find_cpuid(t, 0x8000001e)->eax, 3u);
    CHECK_EQ(kvm::find_cpuid(t, 0x8000001e)->ebx & 0xff00, 0u);
    auto* core = kvm::find_cpuid(t, 0xb, 1);
    CHECK(core != nullptr);
    if (core) {
        CHECK_EQ(core->ebx, 4u);
        CHECK_EQ(core->edx, 3u);
    }
    size_t n_b = 0;
    for (const auto& e : t) n_b += e.function == 0xb;
    CHECK_EQ(n_b, size_t{3});
}

TEST(kvm_system_and_supported_cpuid) {
    if (!kvm_usable()) { std::printf("  (skipped: /dev/kvm not usable)\n"); return; }
    kvm::System sys;
    CHECK(sys.vcpu_mmap_size() >= sizeof(kvm_run));
    CHECK(!sys.supported_cpuid().empty());
    CHECK(kvm::find_cpuid(sys.supported_cpuid(), 0) != nullptr);
    CHECK(sys.check_extension(KVM_CAP_IRQCHIP) > 0);
    bool threw = false;
    try {
        kvm::System bad("/nonexistent/kvm");
    } catch (const kvm::Error& e) {
        threw = std::strstr(e.what(), "No such file") != nullptr;
    }
    CHECK(threw);
}

TEST(kvm_memory_slots) {
    if (!kvm_usable()) return;
    kvm::System sys;
    kvm::Vm vm(sys);
    const kvm::Slot& a = vm.add_memory(0, 1 << 20);
    CHECK_EQ(a.id, 0u);
    const kvm::Slot& b = vm.add_memory(0x100000000ull, 2 << 20, true);
    CHECK_EQ(b.id, 1u);
    bool overlap = false, unaligned = false;
    try { vm.add_memory(0x80000, 0x100000); } catch (const kvm::Error&) { overlap = true; }
    try { vm.add_memory(0x200001, 0x1000); } catch (const kvm::Error&) { unaligned = true; }
    CHECK(overlap);
    CHECK(unaligned);
    CHECK_EQ(vm.slots().size(), size_t{2});
    vmm::GuestMemory m = vm.memory();
    CHECK(m.ptr(0, 1 << 20) == vm.slots()[0].host);
    CHECK(m.ptr(0x100000000ull + 4096, 8) == vm.slots()[1].host + 4096);
    CHECK(m.ptr(0xFFFFF, 2) == nullptr);  // straddles the end of slot 0
    bool no_log = false;
    std::vector<uint64_t> bits;
    try { vm.get_dirty_log(0, bits); } catch (const kvm::Error&) { no_log = true; }
    CHECK(no_log);
}

TEST(kvm_real_mode_guest_io_and_dirty_log) {
    if (!kvm_usable()) return;
    kvm::System sys;
    kvm::Vm vm(sys);
    vm.set_identity_map_addr(0xfffbc000);
    vm.set_tss_addr(0xfffbd000);
    const kvm::Slot& low = vm.add_memory(0, 0x10000);
    const kvm::Slot& fb = vm.add_memory(0x10000, 0x10000, true);
    // mov byte [0x3000], 0x42 (ds.base = 0x10000); mov al, 7; out 0x10, al; hlt
    const uint8_t code[] = {0xC6, 0x06, 0x00, 0x30, 0x42, 0xB0, 0x07, 0xE6, 0x10, 0xF4};
    std::memcpy(low.host + 0x1000, code, sizeof code);
    uint8_t* fb_host = fb.host;
    std::vector<uint64_t> bits;
    vm.get_dirty_log(1, bits);  // start from a clean log

    kvm::Vcpu cpu(vm, 0);
    kvm_sregs s = cpu.get_sregs();
    s.cs.base = 0;
    s.cs.selector = 0;
    s.ds.base = 0x10000;
    s.ds.selector = 0x1000;
    cpu.set_sregs(s);
    kvm_regs r{};
    r.rip = 0x1000;
    r.rflags = 2;
    cpu.set_regs(r);

    int guard = 0;
    kvm_run* run = cpu.run_page();
    do {
        CHECK_EQ(cpu.run(), 0);
    } while (run->exit_reason != KVM_EXIT_IO && ++guard < 100);
    CHECK_EQ(run->exit_reason, uint32_t{KVM_EXIT_IO});
    CHECK_EQ(run->io.port, uint16_t{0x10});
    CHECK_EQ(run->io.direction, uint8_t{KVM_EXIT_IO_OUT});
    CHECK_EQ(reinterpret_cast<uint8_t*>(run)[run->io.data_offset], uint8_t{7});
    CHECK_EQ(fb_host[0x3000], uint8_t{0x42});

    vm.get_dirty_log(1, bits);
    CHECK_EQ(bits.size(), size_t{1});
    CHECK_EQ(bits[0], uint64_t{1} << 3);  // page 3 of the slot, nothing else
    vm.get_dirty_log(1, bits);
    CHECK_EQ(bits[0], uint64_t{0});

    CHECK_EQ(cpu.run(), 0);  // hlt: no in-kernel irqchip, so it exits
    CHECK_EQ(run->exit_reason, uint32_t{KVM_EXIT_HLT});
}

TEST(kvm_immediate_exit_interrupts_run) {
    if (!kvm_usable()) return;
    kvm::System sys;
    kvm::Vm vm(sys);
    vm.add_memory(0, 0x10000);
    kvm::Vcpu cpu(vm, 0);
    cpu.request_exit();
    CHECK_EQ(cpu.run(), EINTR);
    cpu.clear_exit_request();
}
