#include "experiments/sweep_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include <signal.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"
#include "core/run/child_process.hpp"
#include "core/run/dir_lock.hpp"
#include "core/run/run_writer.hpp"
#include "experiments/csv.hpp"

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

// What the files on disk say about one run.
struct RunState {
  std::string status;  // ok | failed | pending
  std::string error;   // why it is not ok
  nlohmann::json summary;
};

// A summary.json alone does not make a run finished: a child that failed after writing it
// (stop_reason failed, deadlock, error) left logs/<run>.error, and one stopped by an
// interrupt says so in its stop_reason. Only an ok run is cached by a rerun.
RunState run_state(const fs::path& out, const SweepRun& r) {
  RunState st{"pending", "", nlohmann::json::object()};
  const bool has_summary = fs::exists(summary_path(out, r));
  if (has_summary) {
    try {
      st.summary = nlohmann::json::parse(read_text(summary_path(out, r)));
    } catch (const std::exception& e) {
      st.summary = nlohmann::json::object();
      return {"failed", "unreadable summary.json: " + std::string(e.what()), st.summary};
    }
  }
  if (fs::exists(error_path(out, r))) {
    st.status = "failed";
    st.error = tail_lines(error_path(out, r), 1, 600);
    return st;
  }
  if (!has_summary) return st;
  const std::string reason = st.summary.is_object() ? st.summary.value("stop_reason", std::string()) : std::string();
  if (is_failure_stop_reason(reason)) {
    st.status = "failed";
    const std::string why = st.summary.value("error", std::string());
    st.error = "stop_reason " + reason + (why.empty() ? "" : ": " + why);
  } else if (reason == "interrupted") {
    st.error = "interrupted; the next run of the sweep redoes it";
  } else {
    st.status = "ok";
  }
  return st;
}

// Said with a failure whose child left nothing readable: the likeliest cause then.
std::string disk_full_note(const fs::path& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0 || v.f_bavail > 0) return "";
  return "; the file system of " + dir.string() + " is full";
}

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  const auto t = static_cast<long long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

struct Child {
  const SweepRun* run = nullptr;
  std::unique_ptr<ChildProcess> proc;
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
    try {
      drain_loop(queue, jobs, running);
    } catch (...) {
      // An error of the sweep itself (e.g. its own files on a full disk): no orphans.
      stop_children(running);
      throw;
    }
  }

  void drain_loop(std::deque<const SweepRun*>& queue, int jobs, std::vector<Child>& running) {
    while (!queue.empty() || !running.empty()) {
      if (g_interrupted) stop_all(running);
      while (!queue.empty() && static_cast<int>(running.size()) < jobs) {
        running.push_back(start(*queue.front()));
        queue.pop_front();
        progress();
      }
      bool reaped = false;
      for (auto it = running.begin(); it != running.end();) {
        if (const auto status = it->proc->poll()) {
          finish(*it, *status);
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
    stop_children(running);
    if (opt_.progress && tty_) std::fputc('\n', opt_.progress);
    throw Error("sweep " + spec_.name + ": interrupted; finished runs are kept, run the same command to resume");
  }

  void stop_children(std::vector<Child>& running) {
    // All at once, then a few seconds for each to exit cleanly before it is killed.
    for (auto& c : running) c.proc->signal(SIGTERM);
    for (auto& c : running) c.proc->terminate(5.0);
    // A run stopped here is a failure the index shows (under Slurm: a cancelled or timed-out
    // array task), not a run that never started; the next submission reruns it.
    const int sig = g_interrupted;
    if (sig == 0) return;
    for (auto& c : running)
      write_file_atomic(error_path(opt_.out, *c.run),
                        fmt::format("interrupted by {} (the sweep was cancelled or ran out of time); rerun the sweep to redo it\n",
                                    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : fmt::format("signal {}", sig)));
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
    // A child gets kParentDeathSignal when the sweep dies, however it dies (kill -9 of the
    // sweep's PID alone included): a `synclab launch` child then stops its own roles.
    const ChildStreams streams{opt_.out / "logs" / (run.name + ".out"), opt_.out / "logs" / (run.name + ".err"), true, ""};
    Child c;
    c.run = &run;
    c.start = Clock::now();
    c.proc = std::make_unique<ChildProcess>("sweep " + spec_.name + ": run " + run.name,
                                            std::vector<std::string>{program_.string(), run.backend, input.string(), "--out", rundir.string()},
                                            std::map<std::string, std::string>{}, streams);
    return c;
  }

  void enforce_timeout(Child& c) {
    if (spec_.timeout_s <= 0) return;
    const double age = std::chrono::duration<double>(Clock::now() - c.start).count();
    if (!c.term_sent && age > spec_.timeout_s) {
      c.proc->signal(SIGTERM);
      c.term_sent = true;
    } else if (c.term_sent && !c.kill_sent && age > spec_.timeout_s + 5.0) {
      c.proc->signal(SIGKILL);
      c.kill_sent = true;
    }
  }

  void finish(const Child& c, int status) {
    const SweepRun& run = *c.run;
    const double secs = std::chrono::duration<double>(Clock::now() - c.start).count();
    ++done_;
    const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const bool has_summary = fs::exists(summary_path(opt_.out, run));
    // The exit status decides: a child that wrote summary.json and then exited non-zero
    // (a failed or deadlocked simulation, a job whose PS failed) has failed.
    const RunState st = exited_ok && has_summary ? run_state(opt_.out, run) : RunState{};
    if (st.status == "ok") {
      ++ok_;
      wall_sum_ += secs;
      ++timed_;
      return;
    }
    ++failed_;
    std::string why;
    if (c.term_sent) why = fmt::format("timed out after {:.0f} s", spec_.timeout_s);
    else if (WIFSIGNALED(status)) why = fmt::format("killed by signal {}", WTERMSIG(status));
    else if (exited_ok && has_summary) why = "exited 0 but summary.json says " + st.error;
    else if (exited_ok) why = "exited 0 but wrote no summary.json";
    else why = fmt::format("exit code {}", WEXITSTATUS(status));
    const auto tail = tail_lines(opt_.out / "logs" / (run.name + ".err"), 3, 400);
    if (tail.empty()) why += disk_full_note(opt_.out);
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

std::string tail_lines(const fs::path& file, std::size_t max_lines, std::size_t max_chars) {
  std::string out;
  for (const auto& l : last_lines(file, max_lines)) out += (out.empty() ? "" : " | ") + l;
  if (out.size() > max_chars) out = "..." + out.substr(out.size() - max_chars);
  return out;
}

namespace {

void flatten_value(const std::string& key, const YAML::Node& v, std::vector<std::pair<std::string, std::string>>& out) {
  if (v.IsMap() && v.size() > 0) {
    for (auto it = v.begin(); it != v.end(); ++it) flatten_value(key + "." + it->first.as<std::string>(), it->second, out);
    return;
  }
  out.emplace_back(key, index_cell(v));
}

std::vector<std::string> axis_keys(const SweepSpec& spec) {
  std::vector<std::string> keys;
  for (const auto& a : spec.grid) keys.push_back(a.key);
  for (const auto& a : spec.zip) keys.push_back(a.key);
  return keys;
}

// One run's value of one swept key as (leaf column, cell) pairs.
std::vector<std::pair<std::string, std::string>> axis_cells(const std::string& axis, const SweepRun& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : r.values)
    if (key == axis) flatten_value(key, value, out);
  return out;
}

}  // namespace

nlohmann::ordered_json yaml_to_json(const YAML::Node& v) {
  if (!v || v.IsNull()) return nullptr;
  if (v.IsSequence()) {
    auto a = nlohmann::ordered_json::array();
    for (const auto& e : v) a.push_back(yaml_to_json(e));
    return a;
  }
  if (v.IsMap()) {
    auto o = nlohmann::ordered_json::object();  // keys in the file's order
    for (auto it = v.begin(); it != v.end(); ++it) o[it->first.as<std::string>()] = yaml_to_json(it->second);
    return o;
  }
  const std::string& t = v.Scalar();
  if (v.Tag() == "!") return t;  // quoted in the file: a string even when it looks like a number
  if (t == "true" || t == "false") return t == "true";
  if (!t.empty()) {
    // Whole-text numbers only: "1Gbps" and "50us" stay strings.
    char* end = nullptr;
    const long long i = std::strtoll(t.c_str(), &end, 10);
    if (*end == '\0') return i;
    const double d = std::strtod(t.c_str(), &end);
    if (*end == '\0' && std::isfinite(d)) return d;
  }
  return t;
}

std::string index_cell(const YAML::Node& v) {
  if (!v || v.IsNull()) return "";
  if (v.IsScalar()) return v.Scalar();
  return yaml_to_json(v).dump();
}

void write_index(const std::vector<SweepRun>& runs, const SweepSpec& spec, const fs::path& out) {
  // One column per swept leaf key: a swept map (`policy: [{name: ssp, staleness: 2}]`)
  // becomes policy.name and policy.staleness; swept keys in the sweep file's order, a map's
  // entries in the order they first appear; a run whose value lacks a leaf leaves it empty.
  std::vector<std::string> keys;
  for (const auto& axis : axis_keys(spec))
    for (const auto& r : runs)
      for (const auto& cell : axis_cells(axis, r))
        if (std::find(keys.begin(), keys.end(), cell.first) == keys.end()) keys.push_back(cell.first);
  // Fixed columns keep their names; a swept key that has the same name (e.g. `backend`)
  // is written as "sweep.<key>".
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
    const RunState st = run_state(out, r);
    const nlohmann::json& summary = st.summary;
    const std::string& status = st.status;
    const std::string& error = st.error;
    row.push_back(status);
    row.push_back(r.backend);
    std::vector<std::pair<std::string, std::string>> cells;
    for (const auto& axis : axis_keys(spec))
      for (auto& cell : axis_cells(axis, r)) cells.push_back(std::move(cell));
    for (const auto& k : keys) {
      std::string v;
      for (const auto& [key, value] : cells)
        if (key == k) v = value;
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
  if (!ec) fs::create_directories(opt.out / "logs", ec);
  if (ec) throw Error(opt.out.string() + ": cannot create the sweep directory: " + ec.message());
  // One sweep per directory (each Slurm shard locks its own part): a second one would run
  // every run again, into the same run directories.
  const bool sharded = opt.shard_count > 1;
  const DirLock lock(opt.out, sharded ? fmt::format("synclab sweep shard {}/{}", opt.shard_index, opt.shard_count) : "synclab sweep",
                     sharded ? opt.shard_index : -1);
  if (!spec.file.empty()) write_file_atomic(opt.out / "sweep.yaml", read_text(spec.file));

  const auto runs = expand_sweep(spec);
  SweepOutcome outcome;
  std::vector<const SweepRun*> todo;
  for (const auto& r : runs) {
    if (static_cast<int>(r.index % static_cast<std::size_t>(opt.shard_count)) != opt.shard_index) continue;
    ++outcome.total;
    if (run_state(opt.out, r).status == "ok") ++outcome.cached;
    else todo.push_back(&r);
  }
  InterruptGuard guard;
  Runner runner(spec, opt, program);
  try {
    runner.run(todo, outcome.total, outcome.cached, outcome);
  } catch (const std::exception& e) {
    // What finished so far stays visible, unless the index cannot be written either.
    try {
      write_index(runs, spec, opt.out);
    } catch (const std::exception& index_error) {
      throw Error(std::string(e.what()) + "; and " + index_error.what());
    }
    throw;
  }
  write_index(runs, spec, opt.out);
  return outcome;
}

}  // namespace synclab::experiments
