#include "vmm/config.h"

#include <stdexcept>

#include "core/platform.h"

namespace vmm {

void validate(const MachineConfig& c) {
    if (c.ram_mib < kMinRamMib)
        throw std::invalid_argument("memory " + std::to_string(c.ram_mib) + " MiB is too little (at least " +
                                    std::to_string(kMinRamMib) + " MiB)");
    if (c.ram_mib > kMaxRamMib) throw std::invalid_argument("memory " + std::to_string(c.ram_mib) + " MiB is too much");
    if (c.vcpus < 1 || c.vcpus > kMaxVcpus)
        throw std::invalid_argument("vcpus must be 1.." + std::to_string(kMaxVcpus));
    if (c.kernel.empty() && c.kernel_path.empty()) throw std::invalid_argument("no kernel given");
    bool fb = c.fb_width || c.fb_height;
    if (fb && (c.fb_width == 0 || c.fb_height == 0 || c.fb_width > platform::kFramebufferMaxWidth ||
               c.fb_height > platform::kFramebufferMaxHeight))
        throw std::invalid_argument("framebuffer must be 0x0 or up to " + std::to_string(platform::kFramebufferMaxWidth) +
                                    "x" + std::to_string(platform::kFramebufferMaxHeight));
    if (c.disks.size() + (c.tap.empty() ? 0 : 1) + (c.rng ? 1 : 0) + (c.tablet ? 1 : 0) > platform::kVirtioMmioSlots)
        throw std::invalid_argument("too many virtio devices (at most " + std::to_string(platform::kVirtioMmioSlots) + ")");
    for (const auto& d : c.disks)
        if (d.path.empty()) throw std::invalid_argument("disk path is empty");
}

}  // namespace vmm
