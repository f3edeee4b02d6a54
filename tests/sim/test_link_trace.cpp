// sim.trace: the packet link tells each data packet as it leaves (closed form), a traced run
// accounts for every byte of its transfers in its packets and repeats exactly, the fluid
// star traces transfers only, and SimGrid's solver refuses the trace naming the key.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "sim/packet_link.hpp"
#include "tests/sim/run_in_child.hpp"
#include "tests/sim/scratch_runs.hpp"

namespace fs = std::filesystem;
using synclab::sim::PacketLink;
using synclab::sim::PacketLinkSpec;
using synclab::sim::testing::run_in_child;
using synclab::sim::testing::scratch;
using synclab::sim::testing::slurp;
using Dir = PacketLink::Direction;

namespace {

synclab::sim::testing::ScratchCleanup cleanup{"trace"};

// Rows of a CSV text after its header, split at commas.
std::vector<std::vector<std::string>> rows(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream l(line);
    std::string cell;
    while (std::getline(l, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    out.push_back(cells);
  }
  return out;
}

synclab::RunConfig traced(const std::vector<std::string>& extra) {
  std::vector<std::string> o = {"model=mlp",          "sim.mode=timing",      "train.eval_every=0",
                                "cluster.workers=3",  "policy.name=async",    "train.stop.updates=60",
                                "cluster.link.bandwidth=100Mbps", "cluster.link.latency=50us", "sim.trace=on"};
  o.insert(o.end(), extra.begin(), extra.end());
  return synclab::load_run_config("", o);
}

// Simulates in a child; returns "messages.csv\n--\npackets.csv" (packets empty when absent).
std::string traced_run(const synclab::RunConfig& config, const fs::path& dir) {
  return run_in_child([&] {
    synclab::sim::testing::simulate_quietly(config, dir);
    return slurp(dir / "trace" / "messages.csv") + "\n--\n" +
           (fs::exists(dir / "trace" / "packets.csv") ? slurp(dir / "trace" / "packets.csv") : std::string());
  });
}

}  // namespace

// Rate 1 MB/s, 1000-byte packets, ACKs free: three packets of a push and one of a reply
// join their queues at 0; each direction serves its own: the push's leave at 1, 2 and 3 ms
// having waited 1, 2 and 3 ms there (their own time at the rate included), the reply's at 1 ms.
TEST(PacketLink, TellsEachDataPacketWhenItLeftAndHowLongItWaited) {
  PacketLink link(PacketLinkSpec{.rate = 1e6, .segment = 1000, .window = 100000, .acks_queued = false});
  std::vector<std::tuple<double, Dir, std::uint64_t, std::uint64_t, double>> seen;
  EXPECT_TRUE(link.observe_packets([&](double t, Dir d, std::uint64_t c, std::uint64_t b, double q) {
    seen.emplace_back(t, d, c, b, q);
  }));
  link.add(0, Dir::Into, 3000, 4);
  link.add(0, Dir::OutOf, 1000, 7);
  while (link.active() > 0) link.complete(link.next_completion(), 1e-12);
  ASSERT_EQ(seen.size(), 4u);
  std::map<Dir, std::vector<std::tuple<double, std::uint64_t, std::uint64_t, double>>> by;
  for (const auto& [t, d, c, b, q] : seen) by[d].emplace_back(t, c, b, q);
  ASSERT_EQ(by[Dir::Into].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& [t, c, b, q] = by[Dir::Into][i];
    EXPECT_NEAR(t, 1e-3 * static_cast<double>(i + 1), 1e-12);
    EXPECT_NEAR(q, 1e-3 * static_cast<double>(i + 1), 1e-12);
    EXPECT_EQ(c, 4u);
    EXPECT_EQ(b, 1000u);
  }
  ASSERT_EQ(by[Dir::OutOf].size(), 1u);
  EXPECT_NEAR(std::get<0>(by[Dir::OutOf][0]), 1e-3, 1e-12);
  EXPECT_EQ(std::get<1>(by[Dir::OutOf][0]), 7u);
}

// Three async workers, BBR windows, ACKs queued: every byte a finished transfer moved left
// the shard's NIC as a packet of that worker and direction, none before its transfer
// started or after it ended; the same config writes the same trace.
TEST(LinkTrace, EveryByteOfATracedRunLeavesAsItsPackets) {
  const auto config = traced({"sim.network=packet", "sim.packet.congestion=bbr", "sim.packet.gso=8192"});
  const std::string out = traced_run(config, scratch("trace", "packet"));
  ASSERT_EQ(out.rfind("CHILD FAILED", 0), std::string::npos) << out;
  const auto cut = out.find("\n--\n");
  const auto messages = rows(out.substr(0, cut)), packets = rows(out.substr(cut + 4));
  ASSERT_FALSE(packets.empty());
  std::map<std::pair<std::string, std::string>, std::vector<std::tuple<double, double, std::uint64_t>>> moved;
  int pushes = 0;
  for (const auto& m : messages) {
    ASSERT_EQ(m.size(), 6u);
    EXPECT_TRUE(m[0] == "push" || m[0] == "reply") << m[0];
    EXPECT_TRUE(m[5] == "done" || m[5] == "unfinished") << m[5];
    if (m[5] != "done") continue;
    pushes += m[0] == "push";
    EXPECT_LE(std::stod(m[3]), std::stod(m[4]));
    moved[{m[0], m[1]}].emplace_back(std::stod(m[3]), std::stod(m[4]), std::stoull(m[2]));
  }
  EXPECT_GE(pushes, 60);  // one per update
  EXPECT_EQ(moved.size(), 6u);  // three workers, both ways
  std::map<std::pair<std::string, std::string>, std::uint64_t> sent;
  for (const auto& p : packets) {
    ASSERT_EQ(p.size(), 5u);
    const double t = std::stod(p[0]), queued = std::stod(p[4]);
    EXPECT_GE(queued, 0);
    const auto& list = moved[{p[1], p[2]}];
    bool inside = false;
    for (const auto& [a, b, bytes] : list) inside = inside || (a <= t && t <= b);
    const bool later_unfinished = list.empty() || t >= std::get<1>(list.back());
    EXPECT_TRUE(inside || later_unfinished) << p[1] << " " << p[2] << " packet at " << t;
    if (inside) sent[{p[1], p[2]}] += std::stoull(p[3]);
  }
  for (const auto& [key, list] : moved) {
    std::uint64_t bytes = 0;
    for (const auto& m : list) bytes += std::get<2>(m);
    EXPECT_EQ(sent[key], bytes) << key.first << " " << key.second;
  }
  EXPECT_EQ(traced_run(config, scratch("trace", "again")), out);
}

TEST(LinkTrace, TheFluidStarTracesTransfersOnly) {
  const fs::path dir = scratch("trace", "fluid");
  const std::string out = run_in_child([&] {
    synclab::sim::testing::simulate_quietly(traced({"sim.network=star"}), dir);
    return std::to_string(rows(slurp(dir / "trace" / "messages.csv")).size()) + " " +
           std::to_string(fs::exists(dir / "trace" / "packets.csv"));
  });
  int messages = 0, packets = 1;
  std::istringstream(out) >> messages >> packets;
  EXPECT_GE(messages, 2 * 60) << out;
  EXPECT_EQ(packets, 0) << out;
}

TEST(LinkTrace, SimgridsSolverRefusesItNamingTheKey) {
  const std::string out = run_in_child([&] {
    try {
      synclab::sim::testing::simulate_quietly(traced({"sim.network=simgrid"}), scratch("trace", "simgrid"));
    } catch (const synclab::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  EXPECT_NE(out.find("sim.trace"), std::string::npos) << out;
  EXPECT_NE(out.find("sim.network star or packet"), std::string::npos) << out;
}
