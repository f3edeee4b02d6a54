// Every example run config shipped in experiments/ resolves against the schema.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"

namespace synclab {
namespace {

TEST(Examples, EveryRunConfigResolves) {
  const std::filesystem::path dir = std::filesystem::path(SYNCLAB_SOURCE_DIR) / "experiments" / "examples";
  ASSERT_TRUE(std::filesystem::is_directory(dir));
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    const YAML::Node node = YAML::LoadFile(entry.path().string());
    if (node["grid"] || node["base"] || node["zip"]) continue;  // a sweep file, not a run config
    try {
      load_run_config(entry.path().string());
    } catch (const Error& e) {
      ADD_FAILURE() << entry.path().filename() << ": " << e.what();
    }
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(Examples, FidelityJobResolvesWithItsStraggler) {
  const auto file = std::filesystem::path(SYNCLAB_SOURCE_DIR) / "experiments" / "fidelity" / "job.yaml";
  const RunConfig c = load_run_config(file.string(), {"tag=1Gbps"});
  EXPECT_EQ(c.model, "mlp");
  EXPECT_EQ(c.tag, "1Gbps");
  EXPECT_EQ(c.cluster.straggler.dist, "exponential");
  EXPECT_DOUBLE_EQ(c.cluster.straggler.mean, 0.02);
  EXPECT_EQ(c.cluster.straggler.workers, std::vector<int>{1});
  EXPECT_EQ(c.resolved["tag"].as<std::string>(), "1Gbps");  // reports keep tags apart
}

}  // namespace
}  // namespace synclab
