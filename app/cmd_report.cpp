// synclab report: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_report(int, char**) { throw Error("'report' is not available in this build yet"); }
}  // namespace synclab::app
