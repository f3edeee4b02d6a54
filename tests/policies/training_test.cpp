// Every registered policy really trains: in full mode on a small learnable problem, the
// training loss after a few dozen updates is well below the initial one, deterministically.
#include <cstring>

#include <gtest/gtest.h>

#include "fixture.hpp"

namespace synclab {
namespace {

double mean_loss(test::TinyProblem& p, std::span<const float> params) {
  const EvalStats s = p.nets[0]->evaluate(params, p.train.slice(0, 96));
  return s.loss_sum / static_cast<double>(s.count);
}

InprocResult train(const std::string& name, std::uint64_t schedule_seed) {
  const int W = 3;
  test::TinyProblem p(W, 16, 21, 600);
  InprocOptions o;
  o.policy = test::policy_spec(name, name == "local-sgd" || name == "adacomm" ? std::map<std::string, std::string>{{"tau", "4"}}
                                                                            : std::map<std::string, std::string>{});
  o.optimizer.name = "sgd";
  o.optimizer.lr = 0.01;
  o.max_updates = 60;
  test::random_schedule(o, schedule_seed, W);
  auto inst = make_policy(o.policy, W);
  InprocDriver d(o, p.initial, p.setups(inst.worker, 0.01));
  return d.run();
}

TEST(Training, EveryPolicyLowersTheLoss) {
  test::TinyProblem p(1, 8, 21, 600);
  const double initial = mean_loss(p, p.initial);
  for (const auto& info : policy_list()) {
    const InprocResult r = train(info.name, 4);
    ASSERT_EQ(r.stop_reason, "updates") << info.name;
    const double final_loss = mean_loss(p, r.params);
    EXPECT_LT(final_loss, 0.7 * initial) << info.name << ": " << initial << " -> " << final_loss;
    // Same seed and schedule: the same bits.
    const InprocResult again = train(info.name, 4);
    EXPECT_EQ(std::memcmp(again.params.data(), r.params.data(), r.params.size() * sizeof(float)), 0) << info.name;
  }
}

}  // namespace
}  // namespace synclab
