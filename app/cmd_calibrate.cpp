// synclab calibrate: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_calibrate(int, char**) { throw Error("'calibrate' is not available in this build yet"); }
}  // namespace synclab::app
