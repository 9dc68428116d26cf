// Configuration of the VM runner: command-line flags (`npm run vm -- ...`
// passes them through unchanged) or one CONFIG.json, the file the host agent
// writes (server/agent/local.ts; its TypeScript shape is VmRunConfig in
// server/vm/config.ts):
//
//   {"name": "web1", "memoryMiB": 256, "vcpus": 2,          (both required)
//    "kernel": "/path", "initrd": "/path", "cmdline": "...",  (kernel required)
//    "disks": [{"path": "/path", "readonly": false}],
//    "net": {"tap": "tap0", "mac": "52:54:00:00:00:01"},
//    "framebuffer": {"width": 1024, "height": 768} | null,  (default 1024x768)
//    "serial": "stdio" | "none" | "unix:PATH",              (default stdio)
//    "vnc": "unix:PATH", "control": "unix:PATH", "pidFile": "/path"}
//
// Unknown keys are ignored. Limits: memory 16 MiB..1 TiB, 1..64 vCPUs,
// framebuffer up to 1920x1080, TAP names up to 15 characters.
#pragma once

#include <string>
#include <vector>

#include "vmm/config.h"

namespace runner {

struct Options {
    vmm::MachineConfig machine;
    std::string serial = "stdio";  // "stdio", "none" or a unix socket path after "unix:"
    std::string serial_path;       // set when serial is "unix"
    std::string vnc_path;          // RFB server on this unix socket
    std::string control_path;      // JSON-lines control socket
    std::string pid_file;
    std::string name;
    bool help = false;
};

extern const char* const kUsage;

// Throws std::invalid_argument with one line (the CLI prints "error: ..." and exits 2).
Options parse_args(const std::vector<std::string>& argv);

// The agent's way: `kvmvmm-runner CONFIG.json`. Same exceptions, messages
// "config: <key>: <what>".
Options parse_config_file(const std::string& path);

}  // namespace runner
