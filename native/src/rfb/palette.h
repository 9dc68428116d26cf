// Pixel value -> palette index, for the encoders that send indexed pixels
// (ZRLE tiles: up to 127 colours; Tight rectangles: up to 256). A small
// open-addressing table, cleared per tile/rectangle.
#pragma once

#include <cstdint>
#include <cstring>

namespace vmm::rfb {

template <unsigned kMaxColours, unsigned kSlotBits>
struct Palette {
    static constexpr unsigned kSlots = 1u << kSlotBits;
    static_assert(kSlots >= 2 * kMaxColours, "keep the table at most half full");
    uint32_t key[kSlots];
    int16_t idx[kSlots];
    uint32_t colours[kMaxColours];
    unsigned n = 0;
    void clear() {
        std::memset(idx, -1, sizeof idx);
        n = 0;
    }
    static unsigned hash(uint32_t v) { return (v * 2654435761u) >> (32 - kSlotBits); }
    // Index of v, inserting it; -1 once the palette is full.
    int find_or_add(uint32_t v) {
        unsigned h = hash(v);
        while (idx[h] >= 0) {
            if (key[h] == v) return idx[h];
            h = (h + 1) & (kSlots - 1);
        }
        if (n >= kMaxColours) return -1;
        key[h] = v;
        idx[h] = int16_t(n);
        colours[n] = v;
        return int(n++);
    }
    int find(uint32_t v) const {
        unsigned h = hash(v);
        while (idx[h] >= 0) {
            if (key[h] == v) return idx[h];
            h = (h + 1) & (kSlots - 1);
        }
        return -1;
    }
};

}  // namespace vmm::rfb
