// Initial CPU state: flat GDT (written to guest RAM so it matches what we
// load into the hidden segment registers), TSS and, for the 64-bit Linux
// entry, identity-mapped page tables.
#include "boot/layout.h"

namespace vmm::boot {

namespace {

constexpr uint64_t kCr0Pe = 1, kCr0Et = 1 << 4, kCr0Pg = 1ULL << 31;
constexpr uint64_t kCr4Pae = 1 << 5;
constexpr uint64_t kEferLme = 1 << 8, kEferLma = 1 << 10;

Segment code32(uint16_t sel) { return {0, 0xFFFFFFFF, sel, 0xB, 1, 0, 1, 1, 0, 1, 0, 0}; }
Segment code64(uint16_t sel) { return {0, 0xFFFFFFFF, sel, 0xB, 1, 0, 0, 1, 1, 1, 0, 0}; }
Segment data(uint16_t sel) { return {0, 0xFFFFFFFF, sel, 0x3, 1, 0, 1, 1, 0, 1, 0, 0}; }
// Busy TSS (type 11, valid for both 32-bit and long mode): VMX needs a usable TR.
Segment tss(uint16_t sel) { return {kTssAddr, 0x67, sel, 0xB, 1, 0, 0, 0, 0, 0, 0, 0}; }
Segment null_ldt() { return {0, 0, 0, 0x2, 0, 0, 0, 0, 0, 0, 0, 1}; }

uint64_t descriptor(const Segment& s) {
    uint64_t limit = s.g ? (uint64_t{s.limit} >> 12) : s.limit;
    return (limit & 0xFFFF) | ((s.base & 0xFFFFFF) << 16) | (uint64_t{s.type} << 40) | (uint64_t{s.s} << 44) |
           (uint64_t{s.dpl} << 45) | (uint64_t{s.present} << 47) | (((limit >> 16) & 0xF) << 48) |
           (uint64_t{s.avl} << 52) | (uint64_t{s.l} << 53) | (uint64_t{s.db} << 54) | (uint64_t{s.g} << 55) |
           (((s.base >> 24) & 0xFF) << 56);
}

void write_gdt(const GuestMemory& mem, CpuState& st, const std::vector<uint64_t>& gdt) {
    put(mem, kGdtAddr, gdt.data(), gdt.size() * 8, "gdt");
    zero(mem, kTssAddr, 0x68, "tss");
    st.gdt_base = kGdtAddr;
    st.gdt_limit = static_cast<uint16_t>(gdt.size() * 8 - 1);
}

}  // namespace

CpuState setup_protected_mode(const GuestMemory& mem) {
    // PVH: CS 0x08 flat 32-bit code, DS/ES/SS (and FS/GS) 0x10 flat data, TR 0x18.
    CpuState st;
    st.cs = code32(0x08);
    st.ds = st.es = st.fs = st.gs = st.ss = data(0x10);
    st.tr = tss(0x18);
    st.ldt = null_ldt();
    write_gdt(mem, st, {0, descriptor(st.cs), descriptor(st.ds), descriptor(st.tr)});
    st.cr0 = kCr0Pe | kCr0Et;
    st.rsp = kBootStackTop;  // PVH defines no stack; a valid one costs nothing
    st.rflags = 0x2;
    return st;
}

CpuState setup_long_mode(const GuestMemory& mem) {
    // Linux boot protocol, 64-bit entry: __BOOT_CS = 0x10, __BOOT_DS = 0x18.
    CpuState st;
    st.long_mode = true;
    st.cs = code64(0x10);
    st.ds = st.es = st.fs = st.gs = st.ss = data(0x18);
    st.tr = tss(0x20);
    st.ldt = null_ldt();
    // A long-mode TSS descriptor takes two slots; the upper one holds base[63:32] (0 here).
    write_gdt(mem, st, {0, descriptor(code32(0x08)), descriptor(st.cs), descriptor(st.ds), descriptor(st.tr), 0});

    // Identity map 0..4 GiB with 2 MiB pages: covers the kernel, its init_size,
    // boot_params and the command line, which are all below 3 GiB.
    uint64_t pml4[512] = {}, pdpt[512] = {};
    pml4[0] = kPdptAddr | 0x3;  // present, writable
    for (uint64_t i = 0; i < 4; ++i) pdpt[i] = (kPdAddr + i * 0x1000) | 0x3;
    put(mem, kPml4Addr, pml4, sizeof pml4, "page tables");
    put(mem, kPdptAddr, pdpt, sizeof pdpt, "page tables");
    for (uint64_t i = 0; i < 4; ++i) {
        uint64_t pd[512];
        for (uint64_t j = 0; j < 512; ++j) pd[j] = ((i << 30) + (j << 21)) | 0x83;  // present, writable, 2 MiB
        put(mem, kPdAddr + i * 0x1000, pd, sizeof pd, "page tables");
    }
    st.cr3 = kPml4Addr;
    st.cr4 = kCr4Pae;
    st.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
    st.efer = kEferLme | kEferLma;
    st.rsp = kBootStackTop;
    st.rflags = 0x2;
    return st;
}

}  // namespace vmm::boot
