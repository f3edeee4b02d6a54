#pragma once
// Which SimGrid network model a simulation uses. The default makes an uncontended transfer
// of M bytes take exactly M/B + L (CM02, no cross-traffic, no TCP window cap); a user who
// wants SimGrid's TCP-calibrated behaviour passes SimGrid settings (`--cfg k:v`) instead.
#include <string>
#include <vector>

namespace synclab::sim {

/// SimGrid "key:value" settings synclab applies before building a platform.
std::vector<std::string> exact_network_settings();

/// Applies exact_network_settings(), then the user's "key:value" settings in order (later
/// wins), and silences SimGrid's per-setting INFO lines. Must run before any zone exists.
/// Throws Error naming the setting when SimGrid rejects one.
void configure_engine(const std::vector<std::string>& user_settings);

}  // namespace synclab::sim
