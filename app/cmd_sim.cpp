// synclab sim: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_sim(int, char**) { throw Error("'sim' is not available in this build yet"); }
}  // namespace synclab::app
