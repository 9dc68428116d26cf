// PVH boot: an ELF kernel (32- or 64-bit) whose PT_NOTE carries
// XEN_ELFNOTE_PHYS32_ENTRY. Segments go to their p_paddr; the kernel starts
// in 32-bit protected mode with EBX pointing at hvm_start_info (version 1).
#include <cstring>

#include "boot/layout.h"

namespace vmm::boot {

namespace {

constexpr uint32_t kXenElfnotePhys32Entry = 18;
constexpr uint32_t kStartInfoMagic = 0x336ec578;
constexpr uint32_t kPtLoad = 1, kPtNote = 4;

struct Phdr {
    uint32_t type;
    uint64_t offset, paddr, filesz, memsz;
};

// Bounds-checked little-endian reads from the image.
struct Image {
    const std::vector<uint8_t>& b;
    bool has(uint64_t off, uint64_t len) const { return off <= b.size() && len <= b.size() - off; }
    uint64_t u(uint64_t off, int n) const {
        if (!has(off, n)) throw BootError("kernel: ELF image is truncated");
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[off + i];
        return v;
    }
};

bool in_ram(uint64_t ram, uint64_t addr, uint64_t len) {
    // Loadable RAM: [1 MiB, low end) or [4 GiB, 4 GiB + rest). The first MiB
    // belongs to the boot data, EBDA and ACPI.
    if (addr + len < addr) return false;
    uint64_t low = low_ram_end(ram);
    if (addr >= kMinLoadAddr && addr + len <= low) return true;
    if (ram > platform::kMmioHoleStart && addr >= platform::kHighMemStart &&
        addr + len <= platform::kHighMemStart + (ram - platform::kMmioHoleStart))
        return true;
    return false;
}

std::optional<uint64_t> find_pvh_entry(const Image& img, const std::vector<Phdr>& phdrs) {
    for (const auto& ph : phdrs) {
        if (ph.type != kPtNote) continue;
        if (!img.has(ph.offset, ph.filesz)) throw BootError("kernel: ELF note segment is outside the file");
        uint64_t off = ph.offset, end = ph.offset + ph.filesz;
        while (end - off >= 12) {
            uint64_t namesz = img.u(off, 4), descsz = img.u(off + 4, 4), type = img.u(off + 8, 4);
            uint64_t name_off = off + 12;
            uint64_t desc_off = name_off + ((namesz + 3) & ~3ULL);
            uint64_t next = desc_off + ((descsz + 3) & ~3ULL);
            if (next > end) throw BootError("kernel: ELF note is truncated");
            if (type == kXenElfnotePhys32Entry && namesz == 4 && std::memcmp(&img.b[name_off], "Xen", 4) == 0) {
                if (descsz != 4 && descsz != 8) throw BootError("kernel: PVH entry note has a bad size (" + std::to_string(descsz) + ")");
                uint64_t entry = img.u(desc_off, static_cast<int>(descsz));
                if (entry > 0xFFFFFFFFULL) throw BootError("kernel: PVH entry " + hex(entry) + " is not a 32-bit address");
                return entry;
            }
            off = next;
        }
    }
    return std::nullopt;
}

}  // namespace

BootResult load_pvh(const GuestMemory& mem, const BootConfig& cfg, const std::vector<E820Entry>& e820) {
    Image img{cfg.kernel};
    if (!img.has(0, 0x34)) throw BootError("kernel: ELF image is truncated");
    const uint8_t* id = cfg.kernel.data();
    bool is64 = id[4] == 2;
    if ((id[4] != 1 && id[4] != 2) || id[5] != 1) throw BootError("kernel: ELF is not a little-endian 32- or 64-bit image");
    uint64_t machine = img.u(18, 2);
    if (machine != 3 && machine != 62) throw BootError("kernel: ELF is not for x86 (e_machine " + std::to_string(machine) + ")");
    uint64_t phoff = is64 ? img.u(32, 8) : img.u(28, 4);
    uint64_t phentsize = img.u(is64 ? 54 : 42, 2);
    uint64_t phnum = img.u(is64 ? 56 : 44, 2);
    uint64_t min_ent = is64 ? 56 : 32;
    if (phnum == 0) throw BootError("kernel: ELF has no program headers");
    if (phentsize < min_ent) throw BootError("kernel: ELF program header size " + std::to_string(phentsize) + " is too small");
    if (!img.has(phoff, phnum * phentsize)) throw BootError("kernel: ELF program headers are outside the file");

    std::vector<Phdr> phdrs;
    for (uint64_t i = 0; i < phnum; ++i) {
        uint64_t o = phoff + i * phentsize;
        Phdr p;
        p.type = static_cast<uint32_t>(img.u(o, 4));
        if (is64) {
            p.offset = img.u(o + 8, 8); p.paddr = img.u(o + 24, 8);
            p.filesz = img.u(o + 32, 8); p.memsz = img.u(o + 40, 8);
        } else {
            p.offset = img.u(o + 4, 4); p.paddr = img.u(o + 12, 4);
            p.filesz = img.u(o + 16, 4); p.memsz = img.u(o + 20, 4);
        }
        phdrs.push_back(p);
    }
    auto entry = find_pvh_entry(img, phdrs);
    if (!entry) throw BootError("kernel: ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build with CONFIG_PVH or use a bzImage");

    // Validate every PT_LOAD before writing anything.
    uint64_t low_end = 0, loaded = 0;
    bool entry_ok = false;
    for (const auto& p : phdrs) {
        if (p.type != kPtLoad || p.memsz == 0) continue;
        if (p.filesz > p.memsz) throw BootError("kernel: ELF segment at " + hex(p.paddr) + " has filesz > memsz");
        if (!img.has(p.offset, p.filesz)) throw BootError("kernel: ELF segment at " + hex(p.paddr) + " is outside the file");
        if (p.paddr + p.memsz < p.paddr) throw BootError("kernel: ELF segment at " + hex(p.paddr) + " wraps around");
        if (!in_ram(cfg.ram_bytes, p.paddr, p.memsz)) {
            if (p.paddr >= kMinLoadAddr && p.paddr + p.memsz <= platform::kMmioHoleStart)
                throw BootError("memory: " + size_str(cfg.ram_bytes) + " is too little for this kernel (needs " +
                                size_str(p.paddr + p.memsz) + ")");
            throw BootError("kernel: ELF segment " + hex(p.paddr) + "-" + hex(p.paddr + p.memsz) +
                            " is outside loadable RAM (1 MiB and up)");
        }
        if (p.paddr < platform::kMmioHoleStart && p.paddr + p.memsz > low_end) low_end = p.paddr + p.memsz;
        if (*entry >= p.paddr && *entry < p.paddr + p.memsz) entry_ok = true;
        loaded += p.memsz;
    }
    if (loaded == 0) throw BootError("kernel: ELF has no loadable segments");
    if (!entry_ok) throw BootError("kernel: PVH entry " + hex(*entry) + " is outside the loaded segments");

    // Boot data first: the kernel segments were checked to stay above 1 MiB.
    CpuState st = setup_protected_mode(mem);
    for (const auto& p : phdrs) {
        if (p.type != kPtLoad || p.memsz == 0) continue;
        put(mem, p.paddr, cfg.kernel.data() + p.offset, p.filesz, "kernel");
        zero(mem, p.paddr + p.filesz, p.memsz - p.filesz, "kernel");
    }

    uint64_t max_cmdline = kCmdlineMax - 1;
    put_cmdline(mem, cfg.cmdline, max_cmdline);
    uint64_t initrd = place_initrd(mem, cfg, low_end, platform::kMmioHoleStart);

    // hvm_start_info v1 + one module (the initrd) + the memory map.
    if (e820.size() > kMaxE820) throw BootError("memory: too many e820 entries");
    uint8_t si[0x38] = {};
    auto w = [&](uint8_t* base, size_t off, uint64_t v, int n) {
        for (int i = 0; i < n; ++i) base[off + i] = static_cast<uint8_t>(v >> (8 * i));
    };
    w(si, 0x00, kStartInfoMagic, 4);
    w(si, 0x04, 1, 4);
    w(si, 0x0C, initrd ? 1 : 0, 4);
    w(si, 0x10, initrd ? kModlistAddr : 0, 8);
    w(si, 0x18, kCmdlineAddr, 8);
    w(si, 0x20, platform::kAcpiRsdp, 8);
    w(si, 0x28, kMemmapAddr, 8);
    w(si, 0x30, e820.size(), 4);
    put(mem, kStartInfoAddr, si, sizeof si, "start_info");
    uint8_t mod[32] = {};
    w(mod, 0, initrd, 8);
    w(mod, 8, cfg.initrd.size(), 8);
    put(mem, kModlistAddr, mod, sizeof mod, "start_info");
    for (size_t i = 0; i < e820.size(); ++i) {
        uint8_t e[24] = {};
        w(e, 0, e820[i].addr, 8);
        w(e, 8, e820[i].size, 8);
        w(e, 16, e820[i].type, 4);
        put(mem, kMemmapAddr + i * 24, e, sizeof e, "start_info");
    }

    st.rip = *entry;
    st.rbx = kStartInfoAddr;
    BootResult r{KernelKind::Pvh, st, e820, ""};
    r.summary = std::string("PVH ELF") + (is64 ? "64" : "32") + ", entry " + hex(*entry) + ", " + size_str(loaded) + " loaded";
    if (initrd) r.summary += ", initrd " + size_str(cfg.initrd.size()) + " at " + hex(initrd);
    return r;
}

}  // namespace vmm::boot
