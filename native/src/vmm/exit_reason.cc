#include "vmm/exit_reason.h"

namespace vmm {

const char* exit_kind_name(ExitKind k) {
    switch (k) {
        case ExitKind::None: return "running";
        case ExitKind::Poweroff: return "poweroff";
        case ExitKind::Reset: return "reset";
        case ExitKind::TripleFault: return "triple-fault";
        case ExitKind::InternalError: return "internal-error";
        case ExitKind::FailEntry: return "fail-entry";
        case ExitKind::VmmError: return "vmm-error";
        case ExitKind::Stopped: return "stopped";
    }
    return "unknown";
}

}  // namespace vmm
