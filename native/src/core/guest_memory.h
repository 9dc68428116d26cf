// Guest physical memory as seen by the VMM.
//
// Every address a guest hands us (descriptor addresses, buffer lengths, ring
// positions) is untrusted. All access to guest RAM from device code goes
// through this class, which refuses anything that is not entirely inside one
// mapped region. Device code never does pointer arithmetic on guest memory
// itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

namespace vmm {

struct MemoryRegion {
    uint64_t gpa;        // guest physical base
    uint64_t size;       // bytes
    uint8_t* host;       // host virtual base (mmap'ed)
};

class GuestMemory {
public:
    GuestMemory() = default;
    explicit GuestMemory(std::vector<MemoryRegion> regions) : regions_(std::move(regions)) {}

    void add(MemoryRegion r) { regions_.push_back(r); }
    const std::vector<MemoryRegion>& regions() const { return regions_; }

    // Host pointer to [gpa, gpa+len) if the whole range lies in one region,
    // nullptr otherwise (including on overflow of gpa+len). len 0 is valid.
    uint8_t* ptr(uint64_t gpa, uint64_t len) const {
        for (const auto& r : regions_) {
            if (gpa < r.gpa) continue;
            uint64_t off = gpa - r.gpa;
            if (off > r.size || len > r.size - off) continue;
            return r.host + off;
        }
        return nullptr;
    }

    std::optional<std::span<uint8_t>> span(uint64_t gpa, uint64_t len) const {
        uint8_t* p = ptr(gpa, len);
        if (!p) return std::nullopt;
        return std::span<uint8_t>(p, static_cast<size_t>(len));
    }

    bool read(uint64_t gpa, void* dst, uint64_t len) const {
        const uint8_t* p = ptr(gpa, len);
        if (!p) return false;
        std::memcpy(dst, p, len);
        return true;
    }

    bool write(uint64_t gpa, const void* src, uint64_t len) const {
        uint8_t* p = ptr(gpa, len);
        if (!p) return false;
        std::memcpy(p, src, len);
        return true;
    }

    // Typed little-endian accessors (x86 hosts only: guest and host share
    // byte order). Return false instead of touching anything out of bounds.
    template <typename T> bool load(uint64_t gpa, T& out) const { return read(gpa, &out, sizeof(T)); }
    template <typename T> bool store(uint64_t gpa, const T& v) const { return write(gpa, &v, sizeof(T)); }

private:
    std::vector<MemoryRegion> regions_;
};

}  // namespace vmm
