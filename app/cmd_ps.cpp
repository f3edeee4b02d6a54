// synclab ps: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_ps(int, char**) { throw Error("'ps' is not available in this build yet"); }
}  // namespace synclab::app
