// synclab sweep: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_sweep(int, char**) { throw Error("'sweep' is not available in this build yet"); }
}  // namespace synclab::app
