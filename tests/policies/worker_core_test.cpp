// WorkerCore: the blocking run() loop, local-SGD math against a hand-written reference,
// adaptive tau from the server's hints, and timing-only mode.
#include <cstring>

#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "fixture.hpp"
#include "policies/server_core.hpp"

namespace synclab {
namespace {

/// One worker wired straight to a ServerCore: every call completes at once.
class LoopbackDriver : public WorkerDriver {
 public:
  explicit LoopbackDriver(ServerCore& core) : core_(core) {}
  double now() override { return t_; }
  std::optional<PulledParams> pull(const PullInfo& pull, std::span<float> params) override {
    core_.pull(pull);
    auto out = core_.take_outbox();
    if (out.replies.empty()) return std::nullopt;  // a single worker is never held
    const PullReply& r = out.replies.front();
    std::copy(r.params->begin(), r.params->end(), params.begin());
    return PulledParams{r.version, r.local_steps};
  }
  void compute(double flops) override { t_ += flops * 1e-9; }
  void push(const PushInfo& info, std::span<const float> payload) override {
    core_.push(info, payload);
    (void)core_.take_outbox();
  }

 private:
  ServerCore& core_;
  double t_ = 0;
};

TEST(WorkerCore, BlockingRunOfOneBspWorkerIsPlainSgd) {
  test::TinyProblem p(1, 8, 3);
  ServerCoreOptions so;
  so.range = Range{0, p.initial.size()};
  so.optimizer.name = "sgd";
  so.optimizer.lr = 0.3;
  auto inst = make_policy(test::policy_spec("bsp"), 1);
  ServerCore core(std::move(inst.server), p.initial, so);
  WorkerCore wc(p.setups(inst.worker, 0.3)[0]);
  LoopbackDriver driver(core);
  wc.run(driver, 10);
  EXPECT_EQ(wc.clock(), 10u);
  EXPECT_EQ(core.version(), 10u);
  EXPECT_EQ(wc.stats().pushes, 10u);
  EXPECT_DOUBLE_EQ(wc.stats().compute_s, 10 * 1e6 * 1e-9);

  test::TinyProblem ref(1, 8, 3);
  std::vector<float> params = ref.initial, grad(params.size());
  for (int t = 0; t < 10; ++t) {
    ref.nets[0]->forward_backward(params, ref.samplers[0]->next(), grad, 0);
    for (std::size_t j = 0; j < params.size(); ++j) params[j] -= 0.3f * grad[j];
  }
  EXPECT_EQ(std::memcmp(params.data(), core.params().data(), params.size() * sizeof(float)), 0);
}

TEST(WorkerCore, LocalSgdAveragesTauLocalStepsPerWorker) {
  const int W = 2, tau = 3, rounds = 2;
  const double lr = 0.2;
  test::TinyProblem p(W, 6, 5);
  InprocOptions o;
  o.policy = test::policy_spec("local-sgd", {{"tau", std::to_string(tau)}});
  o.optimizer.name = "adam";  // model deltas bypass the server optimizer
  o.optimizer.lr = lr;
  o.max_updates = rounds;
  auto inst = make_policy(o.policy, W);
  InprocDriver d(o, p.initial, p.setups(inst.worker, lr));
  const InprocResult r = d.run();
  ASSERT_EQ(r.stop_reason, "updates");

  test::TinyProblem ref(W, 6, 5);
  std::vector<float> global = ref.initial, grad(global.size());
  for (int round = 0; round < rounds; ++round) {
    std::vector<float> sum(global.size(), 0.0f);
    for (int w = 0; w < W; ++w) {
      std::vector<float> local = global;
      for (int s = 0; s < tau; ++s) {
        ref.nets[static_cast<std::size_t>(w)]->forward_backward(local, ref.samplers[static_cast<std::size_t>(w)]->next(), grad, 0);
        for (std::size_t j = 0; j < local.size(); ++j) local[j] -= static_cast<float>(lr) * grad[j];
      }
      for (std::size_t j = 0; j < local.size(); ++j) sum[j] += 0.5f * (local[j] - global[j]);
    }
    for (std::size_t j = 0; j < global.size(); ++j) global[j] += sum[j];
  }
  for (std::size_t j = 0; j < global.size(); ++j) ASSERT_NEAR(r.params[j], global[j], 1e-6) << j;
  for (const auto& a : r.applied) EXPECT_GT(a.loss, 0.0);
}

TEST(WorkerCore, AdacommShrinksTauAsTheLossFalls) {
  ServerCoreOptions so;
  so.timing_only = true;
  auto inst = make_policy(test::policy_spec("adacomm", {{"tau", "20"}, {"interval", "1"}}), 1);
  ServerCore core(std::move(inst.server), {}, so);
  WorkerSetup ws;
  ws.policy = inst.worker;
  ws.num_params = 10;
  WorkerCore wc(ws);
  const double losses[] = {1.0, 0.81, 0.25, 0.01};
  const int expect_tau[] = {20, 20, 18, 10, 2};
  for (int round = 0; round < 5; ++round) {
    core.pull(wc.next_pull());
    auto out = core.take_outbox();
    ASSERT_EQ(out.replies.size(), 1u);
    wc.on_params(PulledParams{out.replies[0].version, out.replies[0].local_steps});
    EXPECT_EQ(wc.policy().local_steps, expect_tau[round]) << "round " << round;
    if (round == 4) break;
    WorkerPush push = wc.compute();
    EXPECT_EQ(push.info.local_steps, expect_tau[round]);
    push.info.loss = losses[round];
    core.push(push.info, push.payload);
    wc.pushed();
  }
}

TEST(WorkerCore, TimingModeComputesNothingButAccountsFlops) {
  WorkerSetup ws;
  ws.worker = 3;
  ws.policy.payload = PayloadKind::ModelDelta;
  ws.policy.local_steps = 4;
  ws.step_flops = 2e9;
  ws.batch = 32;
  ws.num_params = 1000;
  WorkerCore wc(ws);
  EXPECT_TRUE(wc.timing_only());
  EXPECT_TRUE(wc.params().empty());
  const WorkerPush p = wc.compute();
  EXPECT_TRUE(p.payload.empty());
  EXPECT_DOUBLE_EQ(p.flops, 8e9);
  EXPECT_EQ(p.samples, 128u);
  EXPECT_EQ(p.info.id, make_push_id(3, 0));
  wc.pushed();
  EXPECT_EQ(wc.next_pull().worker_clock, 1u);
}

/// Scripted driver: every third step is cancelled; records what was pushed.
class CancellingDriver : public WorkerDriver {
 public:
  double now() override { return t_; }
  std::optional<PulledParams> pull(const PullInfo& pull, std::span<float>) override {
    pulls.push_back(pull.worker_clock);
    t_ += 1;
    return PulledParams{pull.worker_clock, std::nullopt};
  }
  void compute(double) override { t_ += 2; }
  void push(const PushInfo& info, std::span<const float>) override { pushes.push_back(info); }
  bool cancelled() override { return ++steps_ % 3 == 0; }
  std::vector<std::uint64_t> pulls;
  std::vector<PushInfo> pushes;

 private:
  double t_ = 0;
  int steps_ = 0;
};

TEST(WorkerCore, CancelledStepsAreNotPushedAndKeepTheClock) {
  WorkerSetup ws;
  ws.worker = 1;
  ws.num_params = 5;
  ws.step_flops = 1;
  WorkerCore wc(ws);
  CancellingDriver d;
  wc.run(d, 4);
  ASSERT_EQ(d.pushes.size(), 4u);
  for (std::size_t i = 0; i < d.pushes.size(); ++i) {
    EXPECT_EQ(d.pushes[i].worker_clock, i);
    EXPECT_EQ(d.pushes[i].id, make_push_id(1, i));
  }
  EXPECT_EQ(wc.stats().cancelled, 1u);
  EXPECT_EQ(d.pulls, (std::vector<std::uint64_t>{0, 1, 2, 2, 3}));
  EXPECT_DOUBLE_EQ(wc.stats().wait_s, 5.0);
  EXPECT_DOUBLE_EQ(wc.stats().compute_s, 10.0);
}

TEST(WorkerCore, FullModeNeedsNetworkAndSampler) {
  test::TinyProblem p(1, 4, 1);
  WorkerSetup ws = p.setups(WorkerPolicy{}, 0.1)[0];
  ws.sampler = nullptr;
  EXPECT_THROW(WorkerCore{ws}, Error);
}

}  // namespace
}  // namespace synclab
