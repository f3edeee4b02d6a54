#include "core/run/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "core/common/error.hpp"

extern char** environ;

namespace synclab {

namespace {

// What the child was doing when it failed before exec; it reports the step and errno.
enum class Step : int { DeathSignal, OpenOut, OpenErr, Stdin, Exec };

// Called between fork and exec: plain C strings only (no allocation).
int open_log(const char* file, bool truncate) {
  return ::open(file, O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND), 0644);
}

}  // namespace

ChildProcess::ChildProcess(std::string name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                           const std::filesystem::path& log, const std::string& stdin_text)
    : ChildProcess(std::move(name), argv, env, ChildStreams{log, {}, false, stdin_text}) {}

ChildProcess::ChildProcess(std::string name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                           const ChildStreams& streams)
    : name_(std::move(name)), log_(streams.out) {
  if (argv.empty()) throw Error(fmt::format("{}: no program to start", name_));
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos && env.count(kv.substr(0, eq))) continue;  // overridden below
    envs.push_back(kv);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  const std::string& stdin_text = streams.stdin_text;
  const std::string out_path = streams.out.string();
  const std::string err_path = streams.err.empty() ? std::string() : streams.err.string();
  const bool truncate = streams.truncate;

  // fork + exec rather than posix_spawn: the child must ask for a death signal
  // (PR_SET_PDEATHSIG) before it runs the program, so that it goes down with this process
  // even when this process is killed with SIGKILL and cannot clean up. Everything the child
  // does before execve is async-signal-safe; the strings were all built above.
  int in[2] = {-1, -1};
  if (!stdin_text.empty() && (stdin_text.size() > 4096 || ::pipe2(in, O_CLOEXEC) != 0))
    throw Error(fmt::format("{}: cannot make its stdin pipe", name_));
  int report[2] = {-1, -1};  // the child writes {step, errno} here when it cannot exec
  if (::pipe2(report, O_CLOEXEC) != 0) {
    if (in[0] >= 0) {
      ::close(in[0]);
      ::close(in[1]);
    }
    throw Error(fmt::format("{}: cannot make a pipe: {}", name_, std::strerror(errno)));
  }
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    auto die = [&](Step step, int err) {
      const int msg[2] = {static_cast<int>(step), err};
      [[maybe_unused]] const ssize_t n = ::write(report[1], msg, sizeof msg);
      ::_exit(127);
    };
    if (::prctl(PR_SET_PDEATHSIG, kParentDeathSignal) != 0) die(Step::DeathSignal, errno);
    if (::getppid() != parent) ::_exit(127);  // the parent died before the line above
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int out = open_log(out_path.c_str(), truncate);
    if (out < 0 || ::dup2(out, 1) < 0) die(Step::OpenOut, errno);
    const int err = err_path.empty() ? out : open_log(err_path.c_str(), truncate);
    if (err < 0 || ::dup2(err, 2) < 0) die(Step::OpenErr, errno);
    const int input = in[0] >= 0 ? in[0] : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (input < 0 || ::dup2(input, 0) < 0) die(Step::Stdin, errno);
    ::execve(cargv[0], cargv.data(), cenv.data());
    die(Step::Exec, errno);
  }
  const int fork_errno = errno;
  ::close(report[1]);
  if (in[0] >= 0) {
    ::close(in[0]);
    // A short text fits the pipe buffer: written at once, then closed (EOF). A failed write
    // shows up as the child reading end-of-file (and failing with a reason).
    if (pid_ > 0) {
      [[maybe_unused]] const ssize_t n = ::write(in[1], stdin_text.data(), stdin_text.size());
    }
    ::close(in[1]);
  }
  if (pid_ < 0) {
    ::close(report[0]);
    throw Error(fmt::format("{}: cannot start {}: {}", name_, argv[0], std::strerror(fork_errno)));
  }
  int msg[2] = {0, 0};
  ssize_t got = 0;
  do got = ::read(report[0], msg, sizeof msg);
  while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof msg)) {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    status_ = st;
    const char* why = std::strerror(msg[1]);
    switch (static_cast<Step>(msg[0])) {
      case Step::OpenOut: throw Error(fmt::format("{}: cannot open its log {}: {}", name_, out_path, why));
      case Step::OpenErr: throw Error(fmt::format("{}: cannot open its log {}: {}", name_, err_path, why));
      default: throw Error(fmt::format("{}: cannot start {}: {}", name_, argv[0], why));
    }
  }
}

ChildProcess::~ChildProcess() {
  if (running()) terminate(1.0);
}

std::optional<int> ChildProcess::poll() {
  if (status_) return status_;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = st;
  return status_;
}

void ChildProcess::signal(int sig) {
  if (running() && !poll()) ::kill(pid_, sig);
}

void ChildProcess::terminate(double grace) {
  if (!running() || poll()) return;
  ::kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  while (std::chrono::steady_clock::now() < until) {
    if (poll()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  int st = 0;
  if (::waitpid(pid_, &st, 0) == pid_) status_ = st;
}

std::string ChildProcess::describe() const {
  if (!status_) return "running";
  if (WIFEXITED(*status_)) return fmt::format("exit {}", WEXITSTATUS(*status_));
  if (WIFSIGNALED(*status_)) return fmt::format("killed by signal {}", WTERMSIG(*status_));
  return "ended";
}

std::filesystem::path self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot locate the synclab executable (/proc/self/exe): " + ec.message());
  return p;
}

std::vector<std::string> last_lines(const std::filesystem::path& file, std::size_t n) {
  std::ifstream in(file);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    // Progress output uses carriage returns: keep what was on screen last.
    if (const auto cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    if (line.empty()) continue;
    lines.push_back(line);
    if (lines.size() > n) lines.pop_front();
  }
  return {lines.begin(), lines.end()};
}

std::string tail_lines(const std::filesystem::path& file, int n) {
  std::string out;
  for (const auto& l : last_lines(file, n > 0 ? static_cast<std::size_t>(n) : 0)) out += "    " + l + "\n";
  return out;
}

}  // namespace synclab
