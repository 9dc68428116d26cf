// Why a VM stopped: exactly one reason per run, the first one wins.
#pragma once

#include <string>

namespace vmm {

enum class ExitKind {
    None = 0,       // still running
    Poweroff,       // ACPI S5 or KVM_SYSTEM_EVENT_SHUTDOWN
    Reset,          // i8042 0xFE, 0xCF9, KVM_SYSTEM_EVENT_RESET
    TripleFault,    // KVM_EXIT_SHUTDOWN
    InternalError,  // KVM_EXIT_INTERNAL_ERROR (suberror in message)
    FailEntry,      // KVM_EXIT_FAIL_ENTRY (hardware reason in message)
    VmmError,       // our own failure (message)
    Stopped,        // stop() was called
};

struct ExitReason {
    ExitKind kind = ExitKind::None;
    std::string message;  // one line, for humans
};

const char* exit_kind_name(ExitKind k);  // "poweroff", "reset", ...

}  // namespace vmm
