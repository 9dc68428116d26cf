#include "vmm/dirty.h"

#include <algorithm>

namespace vmm {

std::vector<std::pair<uint32_t, uint32_t>> dirty_pages_to_rows(const std::vector<uint64_t>& bits, uint64_t stride,
                                                               uint32_t height) {
    constexpr uint64_t kPage = 4096;
    std::vector<std::pair<uint32_t, uint32_t>> out;
    if (stride == 0 || height == 0) return out;
    const uint64_t visible = stride * height;
    for (size_t w = 0; w < bits.size(); ++w) {
        uint64_t word = bits[w];
        while (word) {
            unsigned b = static_cast<unsigned>(__builtin_ctzll(word));
            word &= word - 1;
            uint64_t start = (w * 64 + b) * kPage;
            if (start >= visible) return out;  // pages ascend: nothing visible follows
            uint64_t end = std::min(start + kPage, visible);
            uint32_t r0 = static_cast<uint32_t>(start / stride);
            uint32_t r1 = static_cast<uint32_t>((end - 1) / stride + 1);
            if (!out.empty() && r0 <= out.back().second) out.back().second = std::max(out.back().second, r1);
            else out.emplace_back(r0, r1);
        }
    }
    return out;
}

}  // namespace vmm
