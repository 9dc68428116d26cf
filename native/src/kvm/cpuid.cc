#include "kvm/cpuid.h"

#include <cstring>

namespace kvm {

namespace {

uint32_t bits_for(uint32_t n) {  // ceil(log2(n)), 0 for n <= 1
    uint32_t b = 0;
    while ((1u << b) < n) ++b;
    return b;
}

bool is_amd(const std::vector<kvm_cpuid_entry2>& t) {
    const kvm_cpuid_entry2* e = find_cpuid(t, 0);
    if (!e) return false;
    char v[12];
    std::memcpy(v, &e->ebx, 4);
    std::memcpy(v + 4, &e->edx, 4);
    std::memcpy(v + 8, &e->ecx, 4);
    return std::memcmp(v, "AuthenticAMD", 12) == 0 || std::memcmp(v, "HygonGenuine", 12) == 0;
}

// Leaf 0xB / 0x1F: level 0 = SMT (1 thread per core), level 1 = core
// (all vCPUs), then the terminating invalid level.
void set_topology_leaf(kvm_cpuid_entry2& e, uint32_t apic_id, uint32_t n) {
    uint32_t shift = bits_for(n);
    e.edx = apic_id;
    switch (e.index) {
        case 0: e.eax = 0; e.ebx = 1; e.ecx = (1u << 8) | 0; break;
        case 1: e.eax = shift; e.ebx = n; e.ecx = (2u << 8) | 1; break;
        default: e.eax = 0; e.ebx = 0; e.ecx = e.index & 0xff; break;
    }
}

}  // namespace

const kvm_cpuid_entry2* find_cpuid(const std::vector<kvm_cpuid_entry2>& t, uint32_t fn, uint32_t index) {
    for (const auto& e : t) {
        if (e.function != fn) continue;
        if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e.index != index) continue;
        return &e;
    }
    return nullptr;
}

std::vector<kvm_cpuid_entry2> make_cpuid(const std::vector<kvm_cpuid_entry2>& supported, const CpuidOptions& o) {
    const uint32_t n = o.vcpu_count ? o.vcpu_count : 1;
    const uint32_t apic = o.vcpu_index;
    const bool amd = is_amd(supported);
    std::vector<kvm_cpuid_entry2> out;
    out.reserve(supported.size() + 4);
    bool have_1f = false;

    for (kvm_cpuid_entry2 e : supported) {
        switch (e.function) {
            case 1:
                e.ebx = (e.ebx & 0x0000ffff) | (apic << 24) | ((n & 0xff) << 16);
                // HTT means "EBX[23:16] is valid": set for every count, as hardware does.
                e.edx |= 1u << 28;
                e.ecx |= 1u << 31;  // hypervisor present
                if (o.tsc_deadline) e.ecx |= 1u << 24;
                e.ecx &= ~(1u << 3);  // MONITOR/MWAIT: not offered to guests
                break;
            case 4: {
                // Deterministic cache parameters: cores per package in
                // EAX[31:26]; only the last level cache is shared by all cores.
                uint32_t type = e.eax & 0x1f;
                if (type == 0) break;
                uint32_t level = (e.eax >> 5) & 7;
                uint32_t sharing = level >= 3 ? n - 1 : 0;
                e.eax = (e.eax & 0x3fff) | ((sharing & 0xfff) << 14) | (((n - 1) & 0x3f) << 26);
                break;
            }
            case 6:
                // Thermal/power management: nothing a vCPU can honour
                // consistently (APERF/MPERF, HWP) beyond ARAT.
                e.eax &= 1u << 2;
                e.ebx = e.ecx = e.edx = 0;
                break;
            case 0xb:
            case 0x1f:
                // Rebuilt below with all three subleaves: hosts list
                // only some of them (an AMD host here lists 0xB.0 alone).
                if (e.function == 0x1f) have_1f = true;
                continue;
            case 0x80000001:
                // CmpLegacy on AMD: cores are reported through 0x80000008.
                if (amd && n > 1) e.ecx |= 1u << 1;
                break;
            case 0x80000008:
                if (amd) e.ecx = (bits_for(n) << 12) | ((n - 1) & 0xff);
                break;
            case 0x8000001d: {
                // AMD cache topology: NumSharingCache-1 in EAX[25:14].
                uint32_t level = (e.eax >> 5) & 7;
                if ((e.eax & 0x1f) == 0) break;
                e.eax = (e.eax & ~(0xfffu << 14)) | (((level >= 3 ? n - 1 : 0) & 0xfff) << 14);
                break;
            }
            case 0x8000001e:
                // Extended APIC ID, compute unit = core, one thread each.
                e.eax = apic;
                e.ebx = apic & 0xff;
                e.ecx = 0;
                break;
            default:
                break;
        }
        out.push_back(e);
    }
    // Intel-style guests find the x2APIC ID in leaf 0xB even on hosts
    // whose list lacks it; only add when the max basic leaf covers it.
    const kvm_cpuid_entry2* l0 = find_cpuid(out, 0);
    const uint32_t max_basic = l0 ? l0->eax : 0;
    for (uint32_t fn : {0xbu, 0x1fu}) {
        if (fn > max_basic || (fn == 0x1f && !have_1f)) continue;
        for (uint32_t i = 0; i < 3; ++i) {
            kvm_cpuid_entry2 e{};
            e.function = fn;
            e.index = i;
            e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
            set_topology_leaf(e, apic, n);
            out.push_back(e);
        }
    }
    return out;
}

}  // namespace kvm
