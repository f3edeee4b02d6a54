#pragma once
// Local child processes (the roles of `synclab launch`, the runs of a sweep): started with
// fork + exec, output to log files, reaped with a bounded wait, killed on failure.
// Destruction kills and reaps. A child gets kParentDeathSignal when the thread that started
// it ends, so a parent killed with SIGKILL leaves no orphans (start children from a thread
// that lives as long as they should). Children stay in the parent's process group, so a
// Ctrl-C at the terminal reaches them too.
#include <sys/types.h>

#include <csignal>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace synclab {

/// Signal a child receives when its parent dies (Linux PR_SET_PDEATHSIG).
inline constexpr int kParentDeathSignal = SIGTERM;  // roles and runs shut down and log why

/// Where a child's standard streams go.
struct ChildStreams {
  std::filesystem::path out;  ///< stdout, and stderr too when err is empty
  std::filesystem::path err;  ///< stderr; empty = the same file as out
  bool truncate = false;      ///< start the log files empty instead of appending to them
  std::string stdin_text;     ///< what the child reads on stdin (at most 4 KiB); empty = /dev/null
};

class ChildProcess {
 public:
  /// Starts argv[0] with argv, the variables of env added to this process's environment
  /// (replacing same-named ones), streams as given. Throws Error naming the child and the
  /// program (or the log file) when it cannot start.
  ChildProcess(std::string name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const ChildStreams& streams);
  /// The same with stdout+stderr appended to log; stdin_text as in ChildStreams (a secret
  /// kept off command lines).
  ChildProcess(std::string name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::filesystem::path& log, const std::string& stdin_text = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Non-blocking: the raw wait status once the child ended (reaping it), else nullopt.
  std::optional<int> poll();
  /// Sends a signal if still running.
  void signal(int sig);
  /// SIGTERM, then SIGKILL after grace seconds; always reaps.
  void terminate(double grace = 2.0);
  bool running() const { return !status_.has_value(); }
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  /// The file stdout goes to.
  const std::filesystem::path& log() const { return log_; }
  /// "exit 0", "exit 3", "killed by signal 9".
  std::string describe() const;

 private:
  std::string name_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  std::optional<int> status_;  // raw wait status
};

/// The path of the running executable (/proc/self/exe), to start synclab children.
std::filesystem::path self_executable();

/// The last n non-empty lines of a text file, oldest first; of a line that a progress display
/// rewrote with carriage returns, what was on screen last. Empty when it cannot be read.
std::vector<std::string> last_lines(const std::filesystem::path& file, std::size_t n);

/// last_lines, each indented by four spaces and ended by a newline (for "why did the child
/// fail" messages).
std::string tail_lines(const std::filesystem::path& file, int n);

}  // namespace synclab
