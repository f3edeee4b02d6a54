#pragma once
// Local child processes of `synclab launch`: started with fork + exec, output to a log file,
// reaped with a bounded wait, killed on failure. Destruction kills and reaps. A child gets
// kParentDeathSignal when the thread that started it ends, so a parent killed with SIGKILL
// leaves no orphans (start children from a thread that lives as long as they should).
#include <sys/types.h>

#include <csignal>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace synclab::real {

/// Signal a child receives when its parent dies (Linux PR_SET_PDEATHSIG).
inline constexpr int kParentDeathSignal = SIGTERM;  // roles shut down and log why

class ChildProcess {
 public:
  /// Starts argv[0] with argv, extra environment variables added, stdout+stderr appended to
  /// log. stdin_text, when not empty, is what the child reads on its standard input (a
  /// secret kept off command lines), else stdin is /dev/null. Throws Error naming the
  /// program when it cannot start.
  ChildProcess(std::string name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::filesystem::path& log, const std::string& stdin_text = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Non-blocking: the exit status once the child ended (reaping it), else nullopt.
  std::optional<int> poll();
  /// Sends a signal if still running.
  void signal(int sig);
  /// SIGTERM, then SIGKILL after grace seconds; always reaps.
  void terminate(double grace = 2.0);
  bool running() const { return !status_.has_value(); }
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::filesystem::path& log() const { return log_; }
  /// "exit 0", "exit 3", "killed by signal 9".
  std::string describe() const;

 private:
  std::string name_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  std::optional<int> status_;  // raw wait status
};

/// The path of the running executable (to start `synclab ps` / `synclab worker` children).
std::string self_executable();

/// Last n lines of a text file (for "why did the child fail" messages).
std::string tail_lines(const std::filesystem::path& file, int n);

}  // namespace synclab::real
