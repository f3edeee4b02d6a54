// Parameter validation: unknown, malformed and out-of-range keys are ConfigErrors naming the key.
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "policies/registry.hpp"

namespace synclab {
namespace {

PolicySpec spec(std::string name, std::map<std::string, std::string> params = {}) {
  PolicySpec s;
  s.name = std::move(name);
  s.params = std::move(params);
  return s;
}

std::string error_key(const PolicySpec& s, int workers) {
  try {
    validate_policy(s, workers);
  } catch (const ConfigError& e) {
    return e.key();
  }
  return "";
}

TEST(PolicyParams, EveryRegisteredPolicyBuildsWithDefaults) {
  for (const auto& info : policy_list()) {
    auto p = make_policy(spec(info.name), 4);
    ASSERT_TRUE(p.server) << info.name;
    EXPECT_EQ(p.server->name(), info.name);
    EXPECT_FALSE(p.server->describe().empty());
  }
}

TEST(PolicyParams, UnknownNameListsKnownOnes) {
  try {
    validate_policy(spec("bulk"), 4);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "policy.name");
    EXPECT_NE(std::string(e.what()).find("ssp"), std::string::npos);
  }
}

TEST(PolicyParams, UnknownKeyNamesIt) {
  EXPECT_EQ(error_key(spec("bsp", {{"staleness", "3"}}), 4), "policy.staleness");
  EXPECT_EQ(error_key(spec("ssp", {{"stalenes", "3"}}), 4), "policy.stalenes");
  EXPECT_EQ(error_key(spec("async", {{"lambda", "0.1"}}), 4), "policy.lambda");
}

TEST(PolicyParams, OutOfRangeAndMalformed) {
  EXPECT_EQ(error_key(spec("ssp", {{"staleness", "-1"}}), 4), "policy.staleness");
  EXPECT_EQ(error_key(spec("ssp", {{"staleness", "three"}}), 4), "policy.staleness");
  EXPECT_EQ(error_key(spec("ssp", {{"staleness", "2.5"}}), 4), "policy.staleness");
  EXPECT_EQ(error_key(spec("backup", {{"backup", "4"}}), 4), "policy.backup");
  EXPECT_EQ(error_key(spec("ksync", {{"k", "5"}}), 4), "policy.k");
  EXPECT_EQ(error_key(spec("ksync", {{"k", "0"}}), 4), "policy.k");
  EXPECT_EQ(error_key(spec("kasync", {{"k", "9"}}), 4), "policy.k");
  EXPECT_EQ(error_key(spec("local-sgd", {{"tau", "0"}}), 4), "policy.tau");
  EXPECT_EQ(error_key(spec("adacomm", {{"interval", "0"}}), 4), "policy.interval");
  EXPECT_EQ(error_key(spec("dc-asgd", {{"lambda", "-0.1"}}), 4), "policy.lambda");
  EXPECT_EQ(error_key(spec("dc-asgd", {{"lambda", "nan"}}), 4), "policy.lambda");
  EXPECT_EQ(error_key(spec("bsp", {{"timeout", "-3"}}), 4), "policy.timeout");
  EXPECT_EQ(error_key(spec("bsp", {{"on_worker_lost", "retry"}}), 4), "policy.on_worker_lost");
  EXPECT_EQ(error_key(spec("ssp", {{"rule", "fancy"}}), 4), "policy.rule");
  EXPECT_EQ(error_key(spec("bsp"), 0), "cluster.workers");
}

TEST(PolicyParams, ValidParametersAreResolved) {
  EXPECT_EQ(error_key(spec("ssp", {{"staleness", "0"}, {"rule", "dc-asgd"}, {"lambda", "0.5"}}), 4), "");
  EXPECT_EQ(error_key(spec("bsp", {{"timeout", "250ms"}, {"on_worker_lost", "stop"}}), 4), "");
  EXPECT_EQ(error_key(spec("backup", {{"backup", "3"}}), 4), "");
  auto p = make_policy(spec("ssp", {{"staleness", "2"}, {"rule", "staleness-lr"}}), 4);
  EXPECT_EQ(p.server->describe(), "ssp(staleness=2, rule=staleness-lr, timeout=5, on_worker_lost=continue)");
  auto l = make_policy(spec("local-sgd", {{"tau", "7"}}), 4);
  EXPECT_EQ(l.worker.local_steps, 7);
  EXPECT_EQ(l.worker.payload, PayloadKind::ModelDelta);
  auto d = make_policy(spec("dc-asgd", {{"staleness", "3"}}), 4);
  EXPECT_TRUE(d.server->needs_pull_snapshots());
  EXPECT_FALSE(d.server->synchronous());
}

}  // namespace
}  // namespace synclab
