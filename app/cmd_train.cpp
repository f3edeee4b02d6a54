// synclab train: not built yet; replaced by its owner.
#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace synclab::app {
int cmd_train(int, char**) { throw Error("'train' is not available in this build yet"); }
}  // namespace synclab::app
