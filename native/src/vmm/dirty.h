// Framebuffer dirty tracking: KVM's per-page dirty bitmap -> row ranges.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace vmm {

// `bits` has one bit per 4 KiB page from the framebuffer's start. Returns
// ascending, merged [first_row, end_row) ranges of the visible
// `stride * height` bytes touched by a dirty page; pages past it are ignored.
std::vector<std::pair<uint32_t, uint32_t>> dirty_pages_to_rows(const std::vector<uint64_t>& bits, uint64_t stride,
                                                               uint32_t height);

}  // namespace vmm
