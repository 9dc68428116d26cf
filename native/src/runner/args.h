// Command line of the native VM runner: the same flags, defaults and limits
// as `npm run vm` (server/vm/cli.ts + config.ts), so either runner can be
// started by the agent with the same arguments.
#pragma once

#include <string>
#include <vector>

#include "vmm/config.h"

namespace runner {

struct Options {
    vmm::MachineConfig machine;
    std::string serial = "stdio";  // "stdio", "none" or a unix socket path after "unix:"
    std::string serial_path;       // set when serial is "unix"
    std::string vnc_path;          // accepted, not served yet (as in runner.ts)
    std::string control_path;      // JSON-lines control socket
    std::string pid_file;
    std::string name;
    bool help = false;
};

extern const char* const kUsage;

// Throws std::invalid_argument with one line (the CLI prints "error: ..." and exits 2).
Options parse_args(const std::vector<std::string>& argv);

// The agent's way: `kvmvmm-runner CONFIG.json`, the file runner.ts reads
// (server/vm/config.ts vmRunConfigSchema; unknown keys are ignored, as zod
// does). Same exceptions.
Options parse_config_file(const std::string& path);

}  // namespace runner
