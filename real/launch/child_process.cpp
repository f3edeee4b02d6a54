#include "real/launch/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "core/common/error.hpp"

extern char** environ;

namespace synclab::real {

ChildProcess::ChildProcess(std::string name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                           const std::filesystem::path& log, const std::string& stdin_text)
    : name_(std::move(name)), log_(log) {
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

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  int in[2] = {-1, -1};
  if (stdin_text.empty()) {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  } else {
    // A short text fits the pipe buffer: written before the child runs, then closed (EOF).
    if (stdin_text.size() > 4096 || ::pipe2(in, O_CLOEXEC) != 0) {
      posix_spawn_file_actions_destroy(&fa);
      throw Error(fmt::format("{}: cannot make its stdin pipe", name_));
    }
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  }
  const int rc = posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  if (in[0] >= 0) {
    ::close(in[0]);
    // A failed write shows up as the child reading end-of-file (and failing with a reason).
    if (rc == 0) {
      [[maybe_unused]] const ssize_t n = ::write(in[1], stdin_text.data(), stdin_text.size());
    }
    ::close(in[1]);
  }
  if (rc != 0) throw Error(fmt::format("{}: cannot start {}: {}", name_, argv[0], std::strerror(rc)));
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

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot locate the synclab executable (/proc/self/exe)");
  return p.string();
}

std::string tail_lines(const std::filesystem::path& file, int n) {
  std::ifstream in(file);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > n) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += "    " + l + "\n";
  return out;
}

}  // namespace synclab::real
