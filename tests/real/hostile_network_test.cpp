// Attacks that cost a PS before any authentication: size claims from strangers (memory),
// a full descriptor table (the accept loop), guessing the job token (delays, log volume),
// and where the PS listens.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/models/model_spec.hpp"
#include "real/protocol/fingerprint.hpp"
#include "real/protocol/messages.hpp"
#include "tests/real/job_fixture.hpp"
#include "tests/real/raw_peer.hpp"

namespace synclab::real {
namespace {

using namespace test;
using Clock = std::chrono::steady_clock;

// A field of /proc/<pid>/status in bytes ("VmRSS", "VmHWM"), or -1.
long long status_bytes(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}

// User + system CPU seconds of a process.
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::size_t count_lines_with(const std::filesystem::path& file, const std::string& text) {
  std::ifstream in(file);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) n += line.find(text) != std::string::npos;
  return n;
}

// A header with valid checksums claiming `len` payload bytes of `type`.
std::vector<std::uint8_t> header_claiming(MsgType type, std::uint32_t len) {
  auto h = encode_header(type, 0, {});
  std::memcpy(h.data() + 8, &len, 4);
  const auto crc = crc32_of({std::span<const std::uint8_t>(h.data(), 16)});
  std::memcpy(h.data() + 16, &crc, 4);
  return {h.begin(), h.end()};
}

Hello hello_for(const std::string& model, const std::string& token, int worker = 0) {
  const ModelSpec spec = make_model_spec(model);
  Hello h;
  h.model_fingerprint = model_fingerprint(spec);
  h.model = model;
  h.token = token;
  h.worker = worker;
  h.range_end = spec.num_params();
  return h;
}

// Waits until every peer saw the server close its connection; returns how many did.
std::size_t wait_all_closed(std::vector<std::unique_ptr<RawPeer>>& peers, double seconds) {
  std::vector<bool> closed(peers.size(), false);
  std::size_t n = 0;
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  std::uint8_t buf[256];
  while (n < peers.size() && Clock::now() < until) {
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (closed[i]) continue;
      pollfd pfd{peers[i]->fd(), POLLIN, 0};
      if (::poll(&pfd, 1, 0) <= 0) continue;
      if (::recv(peers[i]->fd(), buf, sizeof buf, MSG_DONTWAIT) <= 0) {
        closed[i] = true;
        ++n;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return n;
}

// Enough descriptors in this process for `n` peers (a CI shell may start with 1024).
void allow_descriptors(rlim_t n) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < n) {
    r.rlim_cur = std::min(n, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

struct Ps {
  std::filesystem::path dir, cfg;
  std::unique_ptr<ChildProcess> proc;
  int port = 0;
  Ps(const std::string& name, const std::string& config, std::vector<std::string> extra = {}, std::string descriptor_limit = "")
      : dir(temp_dir(name)), cfg(write_text(dir / "job.yaml", config)) {
    std::vector<std::string> args = {"ps", cfg.string(), "--out", (dir / "run").string(), "--port-file", (dir / "port").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    if (std::find(extra.begin(), extra.end(), "--ps_hosts") == extra.end()) args.insert(args.end(), {"--port", "0"});
    if (descriptor_limit.empty()) {
      proc = spawn("ps", args, dir / "ps.log");
    } else {
      // The shell lowers the descriptor limit, then becomes the PS.
      args.insert(args.begin(), {"/bin/sh", "-c", "ulimit -n " + descriptor_limit + " && exec \"$0\" \"$@\"", synclab_bin()});
      proc = std::make_unique<ChildProcess>("ps", args, std::map<std::string, std::string>{{"SYNCLAB_TOKEN", kTestToken}}, dir / "ps.log");
    }
    port = wait_for_port(dir / "port", *proc);
  }
  ~Ps() {
    proc.reset();
    std::filesystem::remove_all(dir);
  }
  std::string log() const { return read_text(dir / "ps.log"); }
};

// 600 strangers each send one push header claiming a CNN shard (13 MB) and nothing more.
// Before admission limits the PS allocated and zeroed each claim: 7.8 GB. Now a stranger
// may only send a hello, so the claim is refused from its header and nothing grows.
TEST(HostileNetwork, SizeClaimsBeforeTheHelloCostThePsNoMemory) {
  constexpr int kPeers = 600;
  allow_descriptors(kPeers + 256);
  Ps ps("claims", small_config("{name: async}", 1, 10).replace(0, std::string("model: softmax").size(), "model: cnn"),
        {"--bind", "127.0.0.1", "--set", "real.frame_timeout=60s", "--set", "real.timeout=60s"});
  ASSERT_GT(ps.port, 0) << ps.log();
  // The baseline is taken once the PS has settled: after its first evaluation.
  ASSERT_TRUE(log_shows(ps.dir / "ps.log", "version 0 test accuracy", 60)) << ps.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int pid = ps.proc->pid();
  const long long baseline = status_bytes(pid, "VmRSS");
  ASSERT_GT(baseline, 0);
  // Start the peak (VmHWM) afresh, so a transient of the PS's start-up does not count.
  const bool peak_reset = static_cast<bool>(std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5");
  const auto claim = header_claiming(MsgType::Push, static_cast<std::uint32_t>(max_param_payload(make_model_spec("cnn").num_params())));
  ASSERT_GT(claim.size(), 0u);
  std::vector<std::unique_ptr<RawPeer>> peers;
  for (int i = 0; i < kPeers; ++i) {
    peers.push_back(std::make_unique<RawPeer>(ps.port));
    ASSERT_TRUE(peers.back()->connected()) << "peer " << i;
    auto bytes = claim;
    bytes.push_back(0);  // the first payload byte: the parser now holds the frame open
    peers.back()->send(bytes);
  }
  const std::size_t closed = wait_all_closed(peers, 20);
  const long long during = status_bytes(pid, "VmRSS"), peak = peak_reset ? status_bytes(pid, "VmHWM") : during;
  peers.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long long after = status_bytes(pid, "VmRSS");
  std::cout << "PS RSS: baseline " << baseline / 1e6 << " MB, with " << kPeers << " claims " << during / 1e6 << " MB (peak " << peak / 1e6
            << " MB), after they left " << after / 1e6 << " MB\n";
  EXPECT_EQ(closed, static_cast<std::size_t>(kPeers)) << "the PS kept connections open that had claimed 13 MB without a hello";
  EXPECT_LT(peak - baseline, 50'000'000);
  EXPECT_LT(after - baseline, 50'000'000);
  EXPECT_FALSE(ps.proc->poll()) << ps.log();
  EXPECT_TRUE(log_shows(ps.dir / "ps.log", "push frame not accepted before the hello", 0)) << ps.log();
  // Strangers can trigger these lines at will: five per 10 s interval, not 600.
  EXPECT_LE(count_lines_with(ps.dir / "ps.log", "closing connection"), 15u);
}

// With its descriptor limit reached the PS pauses accepting and logs once per interval
// (it used to retry at once: 100 % CPU and millions of log lines), and a worker joins as
// soon as descriptors are free again.
TEST(HostileNetwork, AcceptBacksOffWhenDescriptorsRunOutAndAWorkerJoinsAfter) {
  Ps ps("emfile", small_config("{name: async}", 1, 30), {"--bind", "127.0.0.1"}, "48");
  ASSERT_GT(ps.port, 0) << ps.log();
  ASSERT_TRUE(log_shows(ps.dir / "ps.log", "serving range")) << ps.log();
  const int pid = ps.proc->pid();
  std::vector<std::unique_ptr<RawPeer>> idle;
  for (int i = 0; i < 70; ++i) idle.push_back(std::make_unique<RawPeer>(ps.port));
  ASSERT_TRUE(log_shows(ps.dir / "ps.log", "accept failed", 10)) << ps.log();
  const double cpu0 = cpu_seconds(pid);
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const double cpu = cpu_seconds(pid) - cpu0, wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto lines = count_lines_with(ps.dir / "ps.log", "accept failed");
  std::cout << "out of descriptors for " << wall << " s: " << cpu << " CPU s, " << lines << " 'accept failed' lines\n";
  EXPECT_LE(lines, 2u) << ps.log().substr(0, 4000);
  EXPECT_LT(cpu, 0.5 * wall) << "the accept loop spins";
  EXPECT_TRUE(log_shows(ps.dir / "ps.log", "pausing new connections", 0));
  idle.clear();
  auto w = spawn("worker", {"worker", ps.cfg.string(), "--ps_hosts", "127.0.0.1:" + std::to_string(ps.port), "--task_index", "0"},
                 ps.dir / "worker.log");
  EXPECT_EQ(wait_for(*w, 60), "exit 0") << read_text(ps.dir / "worker.log");
  EXPECT_EQ(wait_for(*ps.proc, 30), "exit 0") << ps.log();
}

// Each wrong token from an address makes the next try from there wait twice as long
// (0.25, 0.5, 1, 2 s ...), parallel connections included; the log gets one line per
// interval; the right token is still accepted (after its turn) and clears the record.
TEST(HostileNetwork, WrongTokensCostAGrowingDelayAndOneLogLinePerInterval) {
  Ps ps("guess", small_config("{name: async}", 1, 30), {"--bind", "127.0.0.1"});
  ASSERT_GT(ps.port, 0) << ps.log();
  const auto guess = [](int i) { return "guess-" + std::to_string(i); };
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) {
    RawPeer p(ps.port);
    p.send(encode(hello_for("softmax", guess(i))).flatten());
    auto f = p.read_frame(20);
    ASSERT_TRUE(f && f->header.type == MsgType::Refuse) << "guess " << i << "\n" << ps.log();
    EXPECT_EQ(decode_refuse(f->payload)->reason, RefuseReason::BadToken);
  }
  const double four = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(four, 0.25 + 0.5 + 1 - 0.1);
  // Parallel guesses are no way around it: they take their turns one after another.
  std::vector<std::unique_ptr<RawPeer>> two;
  for (int i = 0; i < 2; ++i) {
    two.push_back(std::make_unique<RawPeer>(ps.port));
    two.back()->send(encode(hello_for("softmax", guess(10 + i))).flatten());
  }
  const auto t1 = Clock::now();
  for (auto& p : two) ASSERT_TRUE(p->read_frame(30).has_value());
  const double parallel = std::chrono::duration<double>(Clock::now() - t1).count();
  std::cout << "4 wrong tokens in a row took " << four << " s; 2 more in parallel " << parallel << " s\n";
  EXPECT_GE(parallel, 2 + 4 - 0.3);  // the waits after the 4th and the 5th failure
  const auto lines = count_lines_with(ps.dir / "ps.log", "wrong job token");
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, 3u) << ps.log();
  RawPeer right(ps.port);
  right.send(encode(hello_for("softmax", kTestToken)).flatten());
  auto ack = right.read_frame(30);
  ASSERT_TRUE(ack && ack->header.type == MsgType::HelloAck) << ps.log();
}

// A weak user-supplied token is refused before anything listens, with a hint.
TEST(HostileNetwork, AWeakTokenIsRefusedWithAHint) {
  const auto dir = temp_dir("weak-token");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: async}", 1, 10));
  auto ps = spawn("ps", {"ps", cfg.string(), "--out", (dir / "run").string(), "--port", "0"}, dir / "ps.log", "ab");
  EXPECT_EQ(wait_for(*ps, 30), "exit 1");
  const auto log = read_text(dir / "ps.log");
  EXPECT_NE(log.find("SYNCLAB_TOKEN: job token too weak"), std::string::npos) << log;
  EXPECT_NE(log.find("openssl rand -hex 16"), std::string::npos) << log;
  std::filesystem::remove_all(dir);
}

// Given its --ps_hosts entry, a PS listens on that address only, not on every interface.
TEST(HostileNetwork, PsListensOnTheAddressOfItsHostEntry) {
  const int port = free_port();
  const std::string entry = "127.0.0.2:" + std::to_string(port);
  Ps ps("bind", small_config("{name: async}", 1, 10), {"--ps_hosts", entry, "--task_index", "0"});
  ASSERT_TRUE(log_shows(ps.dir / "ps.log", "serving range", 30)) << ps.log();
  EXPECT_TRUE(log_shows(ps.dir / "ps.log", "on " + entry, 0)) << ps.log();
  RawPeer other(port, "127.0.0.1");
  EXPECT_FALSE(other.connected()) << "the PS also listens on 127.0.0.1";
  RawPeer listed(port, "127.0.0.2");
  EXPECT_TRUE(listed.connected());
}

}  // namespace
}  // namespace synclab::real
