// synclab worker: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_worker(int, char**) { throw Error("'worker' is not available in this build yet"); }
}  // namespace synclab::app
