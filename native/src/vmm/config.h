// What a VM is made of: the Machine's whole configuration.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vmm {

struct DiskConfig {
    std::string path;
    bool readonly = false;
};

struct MachineConfig {
    uint32_t ram_mib = 256;
    uint32_t vcpus = 1;
    // Kernel and initrd come either from a file or as bytes (bytes win).
    std::string kernel_path;
    std::vector<uint8_t> kernel;
    std::string initrd_path;
    std::vector<uint8_t> initrd;
    std::string cmdline;
    std::vector<DiskConfig> disks;
    std::string tap;  // TAP interface name; empty: no network
    std::string mac;  // "52:54:00:12:34:56"; empty: random locally administered
    // Initial framebuffer mode; 0x0 means no framebuffer at all.
    uint32_t fb_width = 1024;
    uint32_t fb_height = 768;
    bool rng = true;     // virtio-rng
    bool tablet = true;  // virtio-input tablet (pointer events); i8042 mouse otherwise
};

// Limits checked before anything is allocated.
constexpr uint32_t kMinRamMib = 16;
constexpr uint32_t kMaxRamMib = 1u << 20;  // 1 TiB
constexpr uint32_t kMaxVcpus = 64;

// Throws std::invalid_argument with a one-line message.
void validate(const MachineConfig& c);

}  // namespace vmm
