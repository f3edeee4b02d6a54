#include "experiments/sweep_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "experiments/csv.hpp"

extern char** environ;

namespace synclab::experiments {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Set by SIGINT/SIGTERM while a sweep runs: the runner then stops its children (which may
// not share our process group, e.g. under a job scheduler) instead of orphaning them.
volatile std::sig_atomic_t g_interrupted = 0;
void on_sweep_interrupt(int sig) { g_interrupted = sig; }

// Installs the handlers for the lifetime of a sweep and restores the previous ones.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sweep_interrupt;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

fs::path summary_path(const fs::path& out, const SweepRun& r) { return out / r.name / "summary.json"; }
fs::path error_path(const fs::path& out, const SweepRun& r) { return out / "logs" / (r.name + ".error"); }

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  const auto t = static_cast<long long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

struct Child {
  const SweepRun* run = nullptr;
  pid_t pid = -1;
  Clock::time_point start;
  bool term_sent = false, kill_sent = false;
};

class Runner {
 public:
  Runner(const SweepSpec& spec, const SweepOptions& opt, fs::path program)
      : spec_(spec), opt_(opt), program_(std::move(program)) {}

  void run(std::vector<const SweepRun*> todo, std::size_t total, std::size_t cached, SweepOutcome& outcome) {
    total_ = total;
    done_ = cached;
    cached_ = cached;
    // Real runs measure wall time on this machine: run them last, alone.
    std::deque<const SweepRun*> parallel, sequential;
    for (const auto* r : todo) (r->backend == "launch" ? sequential : parallel).push_back(r);
    int jobs = opt_.jobs > 0 ? opt_.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    drain(parallel, jobs);
    drain(sequential, 1);
    outcome.ran = ok_;
    outcome.failed = failed_;
    if (opt_.progress && tty_) std::fputc('\n', opt_.progress);
  }

 private:
  void drain(std::deque<const SweepRun*>& queue, int jobs) {
    std::vector<Child> running;
    while (!queue.empty() || !running.empty()) {
      if (g_interrupted) stop_all(running);
      while (!queue.empty() && static_cast<int>(running.size()) < jobs) {
        running.push_back(start(*queue.front()));
        queue.pop_front();
        progress();
      }
      bool reaped = false;
      for (auto it = running.begin(); it != running.end();) {
        int status = 0;
        const pid_t r = ::waitpid(it->pid, &status, WNOHANG);
        if (r == it->pid) {
          finish(*it, status);
          it = running.erase(it);
          reaped = true;
        } else {
          enforce_timeout(*it);
          ++it;
        }
      }
      if (reaped) progress();
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  [[noreturn]] void stop_all(std::vector<Child>& running) {
    for (auto& c : running) ::kill(c.pid, SIGTERM);
    for (auto& c : running) {
      int status = 0;
      // Give each child a few seconds to exit cleanly, then make sure it is gone.
      for (int i = 0; i < 250 && ::waitpid(c.pid, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (::waitpid(c.pid, &status, WNOHANG) == 0) {
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, &status, 0);
      }
    }
    // A run stopped here is a failure the index shows (under Slurm: a cancelled or timed-out
    // array task), not a run that never started; the next submission reruns it.
    const int sig = g_interrupted;
    for (auto& c : running)
      write_file_atomic(error_path(opt_.out, *c.run),
                        fmt::format("interrupted by {} (the sweep was cancelled or ran out of time); rerun the sweep to redo it\n",
                                    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : fmt::format("signal {}", sig)));
    if (opt_.progress && tty_) std::fputc('\n', opt_.progress);
    throw Error("sweep " + spec_.name + ": interrupted; finished runs are kept, run the same command to resume");
  }

  Child start(const SweepRun& run) {
    const fs::path rundir = opt_.out / run.name;
    // A directory without summary.json is the remains of a failed or killed attempt.
    std::error_code ec;
    fs::remove_all(rundir, ec);
    fs::remove(error_path(opt_.out, run), ec);
    const fs::path input = opt_.out / "inputs" / (run.name + ".yaml");
    {
      YAML::Emitter e;
      e << run.config;
      write_file_atomic(input, std::string(e.c_str()) + "\n");
    }
    const std::string out_log = (opt_.out / "logs" / (run.name + ".out")).string();
    const std::string err_log = (opt_.out / "logs" / (run.name + ".err")).string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> args = {program_.string(), run.backend, input.string(), "--out", rundir.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    Child c;
    c.run = &run;
    c.start = Clock::now();
    const int rc = ::posix_spawn(&c.pid, program_.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw Error(program_.string() + ": cannot start: " + std::strerror(rc));
    return c;
  }

  void enforce_timeout(Child& c) {
    if (spec_.timeout_s <= 0) return;
    const double age = std::chrono::duration<double>(Clock::now() - c.start).count();
    if (!c.term_sent && age > spec_.timeout_s) {
      ::kill(c.pid, SIGTERM);
      c.term_sent = true;
    } else if (c.term_sent && !c.kill_sent && age > spec_.timeout_s + 5.0) {
      ::kill(c.pid, SIGKILL);
      c.kill_sent = true;
    }
  }

  void finish(const Child& c, int status) {
    const SweepRun& run = *c.run;
    const double secs = std::chrono::duration<double>(Clock::now() - c.start).count();
    ++done_;
    const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const bool has_summary = fs::exists(summary_path(opt_.out, run));
    if (exited_ok && has_summary) {
      ++ok_;
      wall_sum_ += secs;
      ++timed_;
      return;
    }
    ++failed_;
    std::string why;
    if (c.term_sent) why = fmt::format("timed out after {:.0f} s", spec_.timeout_s);
    else if (WIFSIGNALED(status)) why = fmt::format("killed by signal {}", WTERMSIG(status));
    else if (exited_ok) why = "exited 0 but wrote no summary.json";
    else why = fmt::format("exit code {}", WEXITSTATUS(status));
    const auto tail = tail_lines(opt_.out / "logs" / (run.name + ".err"), 3, 400);
    write_file_atomic(error_path(opt_.out, run), why + (tail.empty() ? "" : ": " + tail) + "\n");
    if (opt_.progress) {
      if (tty_) std::fputc('\n', opt_.progress);
      std::fprintf(opt_.progress, "sweep %s: run %s failed: %s%s%s\n", spec_.name.c_str(), run.name.c_str(),
                   why.c_str(), tail.empty() ? "" : ": ", tail.c_str());
    }
  }

  std::string eta() const {
    const std::size_t remaining = total_ - done_;
    if (remaining == 0) return "0s";
    if (timed_ == 0) return "?";
    const int jobs = opt_.jobs > 0 ? opt_.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const double par = static_cast<double>(std::min<std::size_t>(remaining, static_cast<std::size_t>(jobs)));
    return format_duration(wall_sum_ / static_cast<double>(timed_) * static_cast<double>(remaining) / par);
  }

  void progress() {
    if (!opt_.progress) return;
    const auto line = fmt::format("sweep {}: {}/{} done ({} cached), {} failed, ETA {}", spec_.name, done_, total_,
                                  cached_, failed_, eta());
    if (tty_) std::fprintf(opt_.progress, "\r\033[K%s", line.c_str());
    else if (line != last_line_) std::fprintf(opt_.progress, "%s\n", line.c_str());
    last_line_ = line;
    std::fflush(opt_.progress);
  }

  const SweepSpec& spec_;
  const SweepOptions& opt_;
  fs::path program_;
  bool tty_ = opt_.progress && ::isatty(::fileno(opt_.progress));
  std::size_t total_ = 0, done_ = 0, cached_ = 0, ok_ = 0, failed_ = 0, timed_ = 0;
  double wall_sum_ = 0;
  std::string last_line_;
};

std::string json_text(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return "";
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return fmt::format("{:.6g}", v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

double json_number(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}

}  // namespace

fs::path self_executable() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the synclab binary (/proc/self/exe): " + ec.message());
  return p;
}

std::string tail_lines(const fs::path& file, std::size_t max_lines, std::size_t max_chars) {
  std::ifstream in(file);
  if (!in) return "";
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    // Progress output uses carriage returns: keep what was on screen last.
    if (const auto cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    if (line.empty()) continue;
    lines.push_back(line);
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : " | ") + l;
  if (out.size() > max_chars) out = "..." + out.substr(out.size() - max_chars);
  return out;
}

void write_index(const std::vector<SweepRun>& runs, const SweepSpec& spec, const fs::path& out) {
  std::vector<std::string> keys;
  for (const auto& a : spec.grid) keys.push_back(a.key);
  for (const auto& a : spec.zip) keys.push_back(a.key);
  // Fixed columns keep their names; a swept key that has the same name (e.g. `policy` swept
  // as a whole map, or `backend`) is written as "sweep.<key>".
  static const std::vector<std::string> fixed = {"run", "status", "backend", "seed", "policy", "workers", "updates",
                                                 "samples", "time_s", "final_test_accuracy", "final_test_loss",
                                                 "mean_staleness", "max_staleness", "bytes_sent", "updates_per_s",
                                                 "samples_per_s", "stop_reason", "error"};
  std::vector<std::string> header(fixed.begin(), fixed.begin() + 3);
  for (const auto& k : keys)
    header.push_back(std::find(fixed.begin(), fixed.end(), k) != fixed.end() ? "sweep." + k : k);
  header.insert(header.end(), fixed.begin() + 3, fixed.end());
  std::string text = csv_line(header) + "\n";
  for (const auto& r : runs) {
    std::vector<std::string> row = {r.name};
    nlohmann::json summary;
    std::string status = "pending", error;
    if (fs::exists(summary_path(out, r))) {
      try {
        summary = nlohmann::json::parse(read_text(summary_path(out, r)));
        status = "ok";
      } catch (const std::exception& e) {
        status = "failed";
        error = "unreadable summary.json: " + std::string(e.what());
      }
    } else if (fs::exists(error_path(out, r))) {
      status = "failed";
      error = tail_lines(error_path(out, r), 1, 600);
    }
    row.push_back(status);
    row.push_back(r.backend);
    for (const auto& k : keys) {
      std::string v;
      for (const auto& [key, value] : r.values)
        if (key == k) v = value_text(value);
      row.push_back(v);
    }
    row.push_back(r.has_seed ? std::to_string(r.seed) : "");
    for (const char* k : {"policy", "workers", "updates", "samples", "time_s", "final_test_accuracy",
                          "final_test_loss", "mean_staleness", "max_staleness", "bytes_sent"})
      row.push_back(json_text(summary, k));
    const double t = json_number(summary, "time_s");
    row.push_back(t > 0 ? fmt::format("{:.6g}", json_number(summary, "updates") / t) : "");
    row.push_back(t > 0 ? fmt::format("{:.6g}", json_number(summary, "samples") / t) : "");
    row.push_back(json_text(summary, "stop_reason"));
    row.push_back(error);
    text += csv_line(row) + "\n";
  }
  write_file_atomic(out / "index.csv", text);
}

SweepOutcome run_sweep(const SweepSpec& spec, const SweepOptions& opt) {
  if (opt.shard_count < 1 || opt.shard_index < 0 || opt.shard_index >= opt.shard_count)
    throw ConfigError("--shard", fmt::format("{}/{} is not a valid shard (want i/n with 0 <= i < n)", opt.shard_index,
                                             opt.shard_count));
  const fs::path program = opt.program.empty() ? self_executable() : opt.program;
  if (::access(program.c_str(), X_OK) != 0) throw Error(program.string() + ": not an executable");
  std::error_code ec;
  fs::create_directories(opt.out / "inputs", ec);
  fs::create_directories(opt.out / "logs", ec);
  if (ec) throw Error(opt.out.string() + ": cannot create the sweep directory: " + ec.message());
  if (!spec.file.empty()) write_file_atomic(opt.out / "sweep.yaml", read_text(spec.file));

  const auto runs = expand_sweep(spec);
  SweepOutcome outcome;
  std::vector<const SweepRun*> todo;
  for (const auto& r : runs) {
    if (static_cast<int>(r.index % static_cast<std::size_t>(opt.shard_count)) != opt.shard_index) continue;
    ++outcome.total;
    if (fs::exists(summary_path(opt.out, r))) ++outcome.cached;
    else todo.push_back(&r);
  }
  InterruptGuard guard;
  Runner runner(spec, opt, program);
  try {
    runner.run(todo, outcome.total, outcome.cached, outcome);
  } catch (...) {
    write_index(runs, spec, opt.out);  // what finished so far stays visible
    throw;
  }
  write_index(runs, spec, opt.out);
  return outcome;
}

}  // namespace synclab::experiments
