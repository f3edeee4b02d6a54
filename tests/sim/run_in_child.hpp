#pragma once
// SimGrid allows one Engine per process: each simulation in a test runs in a forked child
// that sends its result (a string) back through a pipe.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

namespace synclab::sim::testing {

/// Runs fn() in a child process; returns what it returned. On a crash, an exception or a
/// non-zero exit, returns "CHILD FAILED: <reason>" so the assertion shows why.
template <class Fn>
std::string run_in_child(Fn fn) {
  int fds[2];
  if (pipe(fds) != 0) return "CHILD FAILED: pipe";
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return "CHILD FAILED: fork";
  if (pid == 0) {
    close(fds[0]);
    std::string out;
    int code = 0;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = std::string("CHILD FAILED: exception: ") + e.what();
      code = 3;
    }
    std::size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = write(fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    close(fds[1]);
    std::fflush(nullptr);
    _exit(code);
  }
  close(fds[1]);
  std::string result;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) result.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return "CHILD FAILED: signal " + std::to_string(WTERMSIG(status)) + " after: " + result;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && result.rfind("CHILD FAILED", 0) != 0)
    return "CHILD FAILED: exit " + std::to_string(WEXITSTATUS(status)) + " after: " + result;
  return result;
}

/// Simulated times as a child's answer: full precision, space-separated.
inline std::string times_text(const std::vector<double>& times) {
  std::ostringstream out;
  out.precision(17);
  for (double t : times) out << t << ' ';
  return out.str();
}

/// The times of times_text() back (fewer, or none, when the child failed: the caller
/// checks the count and shows the answer).
inline std::vector<double> parse_times(const std::string& text) {
  std::istringstream in(text);
  std::vector<double> v;
  double x;
  while (in >> x) v.push_back(x);
  return v;
}

}  // namespace synclab::sim::testing
