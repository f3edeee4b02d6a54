#pragma once
// One simulated run of a test, from --set style overrides to its parsed summary.json: the
// config is loaded here, simulated in a forked child (one SimGrid engine per process) into
// scratch(tag, name), and the child's summary comes back through the pipe.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/run_config.hpp"
#include "tests/sim/run_in_child.hpp"
#include "tests/sim/scratch_runs.hpp"

namespace synclab::sim::testing {

/// summary.json of the run; a failed expectation (and a discarded json) when the child failed.
inline nlohmann::json simulated_summary(const std::string& tag, const std::vector<std::string>& overrides,
                                        const std::string& name) {
  const auto config = load_run_config("", overrides);
  const std::filesystem::path dir = scratch(tag, name);
  const std::string text = run_in_child([&] {
    simulate_quietly(config, dir);
    return slurp(dir / "summary.json");
  });
  auto j = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << name << ": " << text;
  return j;
}

}  // namespace synclab::sim::testing
