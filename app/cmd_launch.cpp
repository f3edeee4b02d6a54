// synclab launch: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_launch(int, char**) { throw Error("'launch' is not available in this build yet"); }
}  // namespace synclab::app
