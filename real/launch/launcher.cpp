#include "real/launch/launcher.hpp"

#include <signal.h>

#include <array>
#include <csignal>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"
#include "core/common/shell_quote.hpp"
#include "core/data/dataset.hpp"
#include "core/run/child_process.hpp"
#include "core/run/dir_lock.hpp"
#include "core/run/run_writer.hpp"
#include "real/launch/cluster_spec.hpp"
#include "real/launch/job_options.hpp"
#include "real/launch/rank_role.hpp"
#include "real/launch/testbed_hosts.hpp"
#include "real/ps/ps_server.hpp"
#include "real/ps/shard_files.hpp"
#include "core/cost/step_emulation.hpp"
#include "real/worker/worker_process.hpp"

namespace synclab::real {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Set by SIGINT/SIGTERM/SIGHUP while a job runs; the supervising loop then takes the
// roles down with it (they may be in other process groups, or on other hosts over ssh).
volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

// Thrown when the launcher itself was signalled; launch() turns it into 128 + signal.
struct Interrupted {
  int sig;
};

// Installs the handlers for the lifetime of a job and restores the previous ones.
class SignalGuard {
 public:
  SignalGuard() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~SignalGuard() {
    for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
};

class Job {
 public:
  Job(const LaunchOptions& o, RunConfig config) : o_(o), config_(std::move(config)) {}

  ~Job() { kill_all(); }

  int run() {
    // Before anything is written: a second job in the same directory would interleave its
    // files with ours. The lock goes with this process, however it ends.
    std::filesystem::create_directories(o_.run_dir);
    lock_ = std::make_unique<DirLock>(o_.run_dir, "synclab launch");
    token_ = job_token(config_);
    if (token_.empty()) token_ = generate_token();
    std::filesystem::create_directories(logs());
    start_ = Clock::now();
    const int shards = config_.cluster.servers, workers = config_.cluster.workers;
    const bool remote = !config_.real.hosts.empty();
    if (remote && static_cast<int>(config_.real.hosts.size()) < shards + workers)
      throw ConfigError("real.hosts", fmt::format("{} hosts for {} PS shard(s) + {} workers", config_.real.hosts.size(), shards, workers));
    validate_step_emulation(config_);
    // On a testbed, host i runs shard i (i < shards) or worker i - shards, each inside the
    // host's network namespace, so every message crosses that host's shaped NIC.
    std::vector<TestbedHost> testbed;
    if (!config_.real.testbed.empty()) {
      if (remote) throw ConfigError("real.testbed", "cannot be combined with real.hosts");
      testbed = read_testbed(config_.real.testbed);
      if (static_cast<int>(testbed.size()) < shards + workers)
        throw ConfigError("real.testbed", fmt::format("testbed '{}' has {} hosts for {} PS shard(s) + {} workers", config_.real.testbed,
                                                      testbed.size(), shards, workers));
      spdlog::info("launch: on testbed '{}' ({} hosts)", config_.real.testbed, testbed.size());
    }
    auto in_host = [&](int host, std::vector<std::string> args) {
      if (testbed.empty()) return args;
      auto prefixed = netns_exec_prefix(testbed[static_cast<std::size_t>(host)].ns);
      prefixed.insert(prefixed.end(), args.begin(), args.end());
      return prefixed;
    };

    // Shards 1..n-1 start first so shard 0 can be given their addresses (it gathers the
    // whole model from them for evaluations).
    std::vector<Endpoint> ps(static_cast<std::size_t>(shards));
    for (int s = shards - 1; s >= 0; --s) {
      std::vector<std::string> args = role_args("ps");
      args.insert(args.end(), {"--shard", std::to_string(s)});
      if (s == 0 && shards > 1) {
        std::string peers;
        for (int o = 1; o < shards; ++o) peers.append(o > 1 ? "," : "").append(ps[static_cast<std::size_t>(o)].str());
        args.insert(args.end(), {"--peers", peers});
      }
      if (remote) {
        Endpoint ep = host_endpoint(config_.real.hosts[static_cast<std::size_t>(s)], s);
        args.insert(args.end(), {"--port", std::to_string(ep.port), "--bind", ep.host});
        start_child(fmt::format("ps{}", s), ep.host, first_start(args));
        ps[static_cast<std::size_t>(s)] = ep;
        restart_args_[fmt::format("ps{}", s)] = {ep.host, args};
      } else {
        const auto port_file = logs() / fmt::format("ps{}.port", s);
        std::filesystem::remove(port_file);
        const int port = config_.real.port ? config_.real.port + s : 0;
        const std::string bind = testbed.empty() ? "127.0.0.1" : testbed[static_cast<std::size_t>(s)].address;
        args.insert(args.end(), {"--bind", bind, "--port", std::to_string(port), "--port-file", port_file.string()});
        args = in_host(s, std::move(args));
        start_child(fmt::format("ps{}", s), "", first_start(args));
        ps[static_cast<std::size_t>(s)] = Endpoint{bind, wait_for_port(port_file, s)};
        // A restarted shard must come back on the same port: the workers reconnect there.
        args[args.size() - 3] = std::to_string(ps[static_cast<std::size_t>(s)].port);
        restart_args_[fmt::format("ps{}", s)] = {"", args};
      }
    }
    std::string ps_hosts;
    for (const auto& e : ps) {
      if (!ps_hosts.empty()) ps_hosts.push_back(',');
      ps_hosts.append(e.str());
    }
    for (int w = 0; w < workers; ++w) {
      std::vector<std::string> args = role_args("worker");
      args.insert(args.end(), {"--ps_hosts", ps_hosts, "--task_index", std::to_string(w)});
      const std::string host = remote ? host_endpoint(config_.real.hosts[static_cast<std::size_t>(shards + w)], 0).host : "";
      start_child(fmt::format("worker{}", w), host, in_host(shards + w, std::move(args)));
    }
    spdlog::info("launch: {} PS shard(s) at {} and {} worker(s) started; logs in {}", shards, ps_hosts, workers, logs().string());
    supervise();
    if (shards > 1) merge_shards();
    spdlog::info("launch: run directory {} ({:.1f} s)", o_.run_dir.string(), since(start_));
    return 0;
  }

 private:
  std::filesystem::path logs() const { return o_.run_dir / "logs"; }

  // --fresh applies to the first start of a shard only: a shard restarted after a crash
  // must resume from its checkpoint (or fail), never silently begin again at version 0.
  std::vector<std::string> first_start(std::vector<std::string> args) const {
    if (o_.fresh) args.push_back("--fresh");
    return args;
  }

  // The launcher was signalled: the roles go down with it, with a word about why.
  void check_signal() {
    const int sig = g_signal;
    if (!sig) return;
    spdlog::warn("launch: {} received; stopping the PS shard(s) and workers", strsignal(sig));
    kill_all();
    throw Interrupted{sig};
  }

  std::vector<std::string> role_args(const char* role) const {
    std::vector<std::string> a = {self_executable(), role, std::filesystem::absolute(o_.config_path).string()};
    for (const auto& s : o_.overrides) a.insert(a.end(), {"--set", s});
    a.insert(a.end(), {"--out", std::filesystem::absolute(o_.run_dir).string()});
    return a;
  }

  Endpoint host_endpoint(const std::string& entry, int shard) const {
    if (entry.find(':') != std::string::npos) return parse_endpoint("real.hosts", entry);
    const int base = config_.real.port ? config_.real.port : 29500;
    return Endpoint{entry, static_cast<std::uint16_t>(base + shard)};
  }

  void start_child(const std::string& name, const std::string& host, const std::vector<std::string>& args) {
    children_.push_back(make_child(name, host, args));
  }

  std::unique_ptr<ChildProcess> make_child(const std::string& name, const std::string& host, const std::vector<std::string>& args) {
    const auto log = logs() / (name + ".log");
    std::map<std::string, std::string> env = {{kTokenEnv, token_}};
    if (host.empty()) return std::make_unique<ChildProcess>(name, args, env, log);
    // Remote roles run through ssh. The token is never on a command line (ps shows those,
    // here and on the remote host): it crosses on ssh's stdin, and the remote shell moves
    // it into the role's environment.
    std::string cmd = fmt::format("IFS= read -r {0} && export {0} && exec", kTokenEnv);
    for (const auto& a : args) cmd.append(" ").append(shell_quote(a));
    const char* ssh = std::getenv("SYNCLAB_SSH");  // another ssh client (or a wrapper), e.g. for tests
    return std::make_unique<ChildProcess>(name, std::vector<std::string>{ssh && *ssh ? ssh : "/usr/bin/ssh", "-o", "BatchMode=yes", host, cmd},
                                          std::map<std::string, std::string>{}, log, token_ + "\n");
  }

  // A shard that crashed (ended by a signal) is restarted from its checkpoint when
  // checkpoints are on, at most kMaxRestarts times; the workers reconnect by themselves.
  bool try_restart(std::unique_ptr<ChildProcess>& child) {
    constexpr int kMaxRestarts = 3;
    const bool checkpoints = config_.real.checkpoint_every > 0 || config_.real.checkpoint_interval > 0;
    const std::string how = child->describe();
    auto it = restart_args_.find(child->name());
    if (!checkpoints || how.rfind("killed by signal", 0) != 0 || it == restart_args_.end()) return false;
    int& n = restarts_[child->name()];
    if (n >= kMaxRestarts) return false;
    ++n;
    spdlog::warn("launch: {} {}; restarting it from its newest checkpoint (restart {} of {})", child->name(), how, n, kMaxRestarts);
    const std::string name = child->name();
    child = make_child(name, it->second.first, it->second.second);
    return true;
  }

  std::uint16_t wait_for_port(const std::filesystem::path& file, int shard) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    auto& child = *children_.back();
    while (Clock::now() < deadline) {
      std::ifstream in(file);
      int port = 0;
      if (in >> port && port > 0) return static_cast<std::uint16_t>(port);
      check_signal();
      if (child.poll()) fail(child, fmt::format("PS shard {} ended before listening", shard));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    fail(child, fmt::format("PS shard {} did not report its port within 60 s (waiting for {})", shard, file.string()));
  }

  [[noreturn]] void fail(ChildProcess& culprit, const std::string& why) {
    check_signal();  // a child that ended because the launcher's signal reached it too
    const std::string tail = tail_lines(culprit.log(), 8);
    kill_all();
    throw Error(fmt::format("launch: {} ({}; log {}):\n{}", why, culprit.describe(), culprit.log().string(), tail));
  }

  void kill_all() {
    for (auto& c : children_) c->signal(SIGTERM);
    for (auto& c : children_) c->terminate(2.0);
  }

  double job_deadline() const {
    if (o_.timeout > 0) return o_.timeout;
    if (config_.train.stop_time > 0) return config_.train.stop_time * 2 + 120;
    return 6 * 3600.0;
  }

  // Waits for shard 0 to finish, reacting to every child's exit; all waits are bounded.
  void supervise() {
    const int shards = config_.cluster.servers;
    const double deadline = job_deadline();
    auto last_status = Clock::now();
    bool ps0_done = false;
    Clock::time_point ps0_done_at{};
    for (;;) {
      check_signal();
      bool any_running = false;
      for (std::size_t i = 0; i < children_.size(); ++i) {
        auto& c = *children_[i];
        const bool was_running = c.running();
        const auto st = c.poll();
        if (!st) {
          any_running = true;
          continue;
        }
        if (!was_running) continue;
        const bool is_ps = c.name().rfind("ps", 0) == 0;
        const bool ok = c.describe() == "exit 0";
        if (is_ps && !ok) {
          if (try_restart(children_[i])) {
            any_running = true;
            continue;
          }
          fail(c, fmt::format("{} failed", c.name()));
        }
        if (c.name() == "ps0") {
          ps0_done = true;
          ps0_done_at = Clock::now();
        }
        if (!is_ps && !ok) spdlog::warn("launch: {} ended ({}); the policy decides whether the job carries on", c.name(), c.describe());
        else spdlog::info("launch: {} finished", c.name());
      }
      if (!any_running) break;
      if (!ps0_done) fail_if_no_worker_left();
      if (ps0_done && since(ps0_done_at) > 15) {
        std::string left;
        for (auto& c : children_)
          if (c->running()) left.append(" ").append(c->name());
        spdlog::warn("launch: ps0 finished 15 s ago; stopping what is left:{}", left);
        kill_all();
        break;
      }
      if (since(start_) > deadline) {
        kill_all();
        throw Error(fmt::format("launch: the job did not finish within {:g} s (logs in {})", deadline, logs().string()));
      }
      if (since(last_status) > 30) {
        last_status = Clock::now();
        int running = 0;
        for (auto& c : children_) running += c->running() ? 1 : 0;
        spdlog::info("launch: {:.0f} s, waiting for ps0 to stop the job ({} processes running)", since(start_), running);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!std::filesystem::exists(o_.run_dir / "summary.json")) fail(*children_[static_cast<std::size_t>(shards - 1)], "ps0 ended without writing summary.json");
  }

  // Nothing restarts a worker under launch: when every worker has ended with an error
  // (a device that does not exist, a crash at start, lost for good), the PS would only wait
  // out real.timeout for nobody. Fail at once with the workers' own reasons.
  void fail_if_no_worker_left() {
    std::vector<ChildProcess*> failed;
    for (auto& c : children_) {
      if (c->name().rfind("worker", 0) != 0) continue;
      if (c->running() || c->describe() == "exit 0") return;
      failed.push_back(c.get());
    }
    if (failed.empty()) return;
    std::string reasons;
    constexpr std::size_t kShown = 3;
    for (std::size_t i = 0; i < failed.size() && i < kShown; ++i)
      reasons += fmt::format("  {} ({}; log {}):\n{}", failed[i]->name(), failed[i]->describe(), failed[i]->log().string(),
                             tail_lines(failed[i]->log(), 3));
    if (failed.size() > kShown) reasons += fmt::format("  ... and {} more\n", failed.size() - kShown);
    spdlog::error("launch: all {} worker(s) ended with an error; stopping the job", failed.size());
    kill_all();
    throw Error(fmt::format("launch: every worker ended with an error, so the job cannot go on:\n{}", reasons));
  }

  // Several shards: the final flat buffer is assembled from the shards' files, then hashed
  // and evaluated here, and the summary completed.
  void merge_shards() {
    const ModelSpec spec = make_model_spec(config_.model);
    const auto params = read_all_shard_params(o_.run_dir, config_.cluster.servers, spec.num_params());
    const DataSplit data = load_data(config_.data.source, config_.train.seed);
    NetworkOptions no;
    no.max_batch = kEvalBatch;
    auto net = make_network(spec, BackendKind::Fast, no);
    const TestResult r = evaluate_dataset(*net, params, data.test, 0);
    const auto file = o_.run_dir / "summary.json";
    std::ifstream in(file);
    nlohmann::json j = nlohmann::json::parse(in);
    j["final_params_sha256"] = sha256_hex(params);
    j["final_test_accuracy"] = r.accuracy;
    j["final_test_loss"] = r.loss;
    write_file_atomic(file, j.dump(2) + "\n");
  }

  LaunchOptions o_;
  RunConfig config_;
  std::string token_;
  std::vector<std::unique_ptr<ChildProcess>> children_;
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> restart_args_;  // PS name -> host, argv
  std::map<std::string, int> restarts_;
  Clock::time_point start_;
  std::unique_ptr<DirLock> lock_;
};

int run_rank_role(const LaunchOptions& o, const RunConfig& config, const RoleAssignment& role) {
  const std::string token = job_token(config);
  if (token.empty())
    throw ConfigError("real.token", fmt::format("under {} every rank needs the same token: set real.token or SYNCLAB_TOKEN", role.launcher));
  spdlog::info("launch: {} rank is {} {} (PS shards at {}{})", role.launcher, role.job, role.index, role.ps[0].str(), role.ps.size() > 1 ? ", ..." : "");
  if (role.job == "ps") {
    PsOptions p;
    p.config = config;
    p.shard = role.index;
    p.shards = static_cast<int>(role.ps.size());
    p.port = role.ps[static_cast<std::size_t>(role.index)].port;
    p.bind = ps_listen_address("SLURM_JOB_NODELIST", role.ps[static_cast<std::size_t>(role.index)].host);
    p.token = token;
    p.run_dir = o.run_dir;
    p.checkpoint_dir = config.real.checkpoint_dir.empty() ? std::filesystem::path() : std::filesystem::path(config.real.checkpoint_dir);
    for (std::size_t i = 0; i < role.ps.size(); ++i)
      if (static_cast<int>(i) != role.index) p.peers.push_back(role.ps[i]);
    p.checkpoint_every = config.real.checkpoint_every;
    p.checkpoint_seconds = config.real.checkpoint_interval;
    p.fresh = o.fresh;
    p.lost_grace = config.real.timeout;
    p.limits = connection_limits(config);
    return run_ps(p);
  }
  WorkerOptions w;
  w.config = config;
  w.worker = role.index;
  w.ps = role.ps;
  w.token = token;
  w.device = config.worker.device;
  w.reconnect_timeout = config.real.timeout;
  w.limits = connection_limits(config);
  return run_worker(w);
}

}  // namespace

int launch(const LaunchOptions& o) {
  RunConfig config = load_run_config(o.config_path, o.overrides);
  if (o.allow_slurm) {
    if (auto role = role_from_environment(launcher_environment(), config.cluster.servers, static_cast<std::uint16_t>(config.real.port))) {
      auto overrides = o.overrides;
      overrides.push_back("cluster.workers=" + std::to_string(role->workers));
      return run_rank_role(o, load_run_config(o.config_path, overrides), *role);
    }
  }
  SignalGuard signals;
  try {
    Job job(o, std::move(config));
    return job.run();
  } catch (const Interrupted& i) {
    return 128 + i.sig;
  }
}

}  // namespace synclab::real
