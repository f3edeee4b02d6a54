#include "sim/network_model.hpp"

#include <exception>

#include <simgrid/s4u/Engine.hpp>
#include <xbt/log.h>

#include "core/common/error.hpp"

namespace synclab::sim {

std::vector<std::string> exact_network_settings() {
  // CM02 is the plain max-min fluid model: bandwidth factor 1 and latency factor 1.
  // Cross-traffic off: a push does not also load the reverse direction with ACKs.
  // TCP-gamma 0: no window cap of gamma / (2 latency), which would bite on fast links.
  return {"network/model:CM02", "network/crosstraffic:0", "network/TCP-gamma:0"};
}

void configure_engine(const std::vector<std::string>& user_settings) {
  // Every set_config prints an INFO line; a run's output should be ours alone.
  xbt_log_control_set("xbt_cfg.thresh:warning");
  // Transfers still in flight when a run stops are dropped on purpose; do not report them.
  xbt_log_control_set("s4u_comm.thresh:warning");
  std::vector<std::string> all = exact_network_settings();
  all.insert(all.end(), user_settings.begin(), user_settings.end());
  for (const auto& setting : all) {
    if (setting.find(':') == std::string::npos)
      throw ConfigError("--cfg", "'" + setting + "' is not of the form key:value");
    try {
      simgrid::s4u::Engine::set_config(setting);
    } catch (const std::exception& e) {
      // SimGrid appends the list of every known key; keep the first sentence only.
      std::string why = e.what();
      why = why.substr(0, why.find(" Existing config keys"));
      why = why.substr(0, why.find('\n'));
      throw ConfigError("--cfg", "SimGrid rejected '" + setting + "': " + why);
    }
  }
}

}  // namespace synclab::sim
