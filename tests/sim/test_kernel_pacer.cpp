// A transfer's kernel work charged as its bytes arrive (sim/kernel_pacer.hpp), in closed
// form against transfers whose bytes arrive at a steady rate: the work spreads over the
// transfer instead of running first, a transfer whose kernel work outpaces its core ends
// when the core catches up, and each transfer's work stays on one core.
#include <gtest/gtest.h>

#include <simgrid/s4u.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sim/kernel_pacer.hpp"
#include "sim/machine_cpu.hpp"
#include "sim/network_model.hpp"
#include "tests/sim/machine_cores.hpp"

namespace sg = simgrid::s4u;
using synclab::sim::testing::parse_times;
using synclab::sim::testing::run_on_cores;
using synclab::sim::testing::times_text;

namespace {

// Bytes arrive at a steady rate from `start` for `duration` seconds.
class SteadyTransfer final : public synclab::sim::Transfer {
 public:
  SteadyTransfer(double start, double duration, std::uint64_t bytes) : start_(start), duration_(duration), bytes_(bytes) {}
  void wait() override { sg::this_actor::sleep_until(start_ + duration_); }
  bool done() const override { return sg::Engine::get_clock() >= start_ + duration_; }
  std::uint64_t delivered() override {
    const double f = std::clamp((sg::Engine::get_clock() - start_) / duration_, 0.0, 1.0);
    return static_cast<std::uint64_t>(f * static_cast<double>(bytes_));
  }
  void cancel() override {}
  double first_byte_at() const override { return start_; }

 private:
  double start_, duration_;
  std::uint64_t bytes_;
};

constexpr std::uint64_t kBytes = 1'000'000;
// Every transfer goes out in as many pieces as the pacer allows, each its bytes' share of
// the transfer's 1 s.
constexpr std::uint64_t kChunk = kBytes / synclab::sim::KernelPacer::kMaxPieces;
constexpr double kTick = 1.0 / synclab::sim::KernelPacer::kMaxPieces;

// On a machine of `cores` cores: transfers of 1 s, each with `kernel` seconds of kernel
// work, all starting at 0, and a step of `step` seconds (none if 0) started at 0. Returns
// when each transfer's receiver had its message (waited for the transfer and its kernel
// work), then when the step ended.
std::vector<double> ends_of(int cores, const std::vector<double>& kernel, double step) {
  const std::string answer = run_on_cores(cores, [&](const std::vector<sg::Host*>& hosts, sg::Engine& engine) {
    auto cpu = std::make_shared<synclab::sim::MachineCpu>(hosts, 0.0, 1);
    auto pacer = std::make_shared<synclab::sim::KernelPacer>(*cpu, hosts[0], kChunk, static_cast<double>(kBytes));
    auto ends = std::make_shared<std::vector<double>>(kernel.size() + 1, -1.0);
    for (std::size_t i = 0; i < kernel.size(); ++i)
      sg::Actor::create("receiver-" + std::to_string(i), hosts[0], [=] {
        auto t = std::make_shared<SteadyTransfer>(0.0, 1.0, kBytes);
        auto share = pacer->follow(t, kBytes, kernel[i]);
        t->wait();
        pacer->finish(share);
        (*ends)[i] = sg::Engine::get_clock();
      });
    if (step > 0)
      sg::Actor::create("step", hosts[0], [=] {
        cpu->start(step)->wait();
        ends->back() = sg::Engine::get_clock();
      });
    engine.run();
    return times_text(*ends);
  });
  auto ends = parse_times(answer);
  if (ends.size() != kernel.size() + 1) ADD_FAILURE() << answer;
  return ends;
}

}  // namespace

// Half a core of kernel work over a 1 s transfer leaves a step on that core half of it all
// along: a 0.25 s step ends at about 0.5 s (charged all at the start, it would end at
// 0.75 s); the message is in when its last byte is.
TEST(KernelPacer, KernelWorkFollowsTheBytes) {
  const auto e = ends_of(1, {0.5}, 0.25);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_NEAR(e[0], 1.0, 2 * kTick);
  EXPECT_NEAR(e[1], 0.5, 2 * kTick);
}

// Twice the transfer's time in kernel work: the core falls behind the bytes, and the
// message is in only once it has caught up, at about 2 s.
TEST(KernelPacer, AKernelBehindItsBytesHoldsTheMessage) {
  const auto e = ends_of(1, {2.0}, 0);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_NEAR(e[0], 2.0, 2 * kTick);
}

// A transfer's kernel work stays on the core it opened on: two transfers whose kernel
// keeps pace with their bytes take a core each and end with their bytes; a third shares a
// core with one of them, and those two end at about 2 s (a core shared for 2 s of work).
TEST(KernelPacer, EachTransfersWorkStaysOnOneCore) {
  auto two = ends_of(2, {1.0, 1.0}, 0);
  ASSERT_EQ(two.size(), 3u);
  EXPECT_NEAR(two[0], 1.0, 2 * kTick);
  EXPECT_NEAR(two[1], 1.0, 2 * kTick);
  auto three = ends_of(2, {1.0, 1.0, 1.0}, 0);
  ASSERT_EQ(three.size(), 4u);
  std::sort(three.begin(), three.end() - 1);
  EXPECT_NEAR(three[0], 1.0, 2 * kTick);
  EXPECT_NEAR(three[1], 2.0, 2 * kTick);
  EXPECT_NEAR(three[2], 2.0, 2 * kTick);
}

// Without a shared machine nothing is followed: the transfer alone says when a message is in.
TEST(KernelPacer, NoSharedMachineFollowsNothing) {
  const synclab::sim::MachineCpu own;
  synclab::sim::KernelPacer pacer(own, nullptr, kChunk, 1e6);
  EXPECT_EQ(pacer.follow(std::make_shared<SteadyTransfer>(0.0, 1.0, kBytes), kBytes, 1.0), nullptr);
}
