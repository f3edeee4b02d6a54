#include "real/launch/hostlist.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/common/error.hpp"

extern char** environ;

namespace synclab::real {
namespace {

constexpr std::size_t kMaxHosts = 1'000'000;

// One bracket group's values, as text with their zero padding.
std::vector<std::string> expand_group(const std::string& key, const std::string& item, const std::string& group) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto comma = group.find(',', start);
    const std::string r = group.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto dash = r.find('-');
    const std::string lo = r.substr(0, dash), hi = dash == std::string::npos ? lo : r.substr(dash + 1);
    auto digits = [](const std::string& s) { return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos; };
    if (!digits(lo) || !digits(hi)) throw ConfigError(key, fmt::format("'{}' in '{}' is not a number or a lo-hi range", r, item));
    const long a = std::stol(lo), b = std::stol(hi);
    if (b < a) throw ConfigError(key, fmt::format("range '{}' in '{}' runs backwards", r, item));
    if (static_cast<std::size_t>(b - a) >= kMaxHosts) throw ConfigError(key, fmt::format("range '{}' in '{}' is too long", r, item));
    // Zero padding follows the width of the lower bound ("n[01-10]" -> n01..n10).
    for (long v = a; v <= b; ++v) out.push_back(fmt::format("{:0{}}", v, lo.size()));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// One item of the list: the product of its literal parts and bracket groups.
void expand_item(const std::string& key, const std::string& item, std::vector<std::string>& out) {
  std::vector<std::string> literals;               // literal text before each group, then the tail
  std::vector<std::vector<std::string>> groups;    // each group's values
  std::size_t pos = 0, count = 1;
  for (;;) {
    const auto open = item.find('[', pos);
    literals.push_back(item.substr(pos, open == std::string::npos ? std::string::npos : open - pos));
    if (literals.back().find(']') != std::string::npos) throw ConfigError(key, fmt::format("unbalanced ']' in '{}'", item));
    if (open == std::string::npos) break;
    const auto close = item.find(']', open);
    if (close == std::string::npos) throw ConfigError(key, fmt::format("unbalanced '[' in '{}'", item));
    groups.push_back(expand_group(key, item, item.substr(open + 1, close - open - 1)));
    count *= groups.back().size();
    if (count > kMaxHosts || out.size() + count > kMaxHosts) throw ConfigError(key, fmt::format("'{}' names more than {} hosts", item, kMaxHosts));
    pos = close + 1;
  }
  if (groups.empty()) {
    out.push_back(item);
    return;
  }
  // Slurm's order (scontrol show hostnames, 22.05): the last group varies fastest, then the
  // first, the second, ..., the next-to-last slowest. With two groups that is row order
  // (rack[1-2]-n[01-02]: rack1-n01, rack1-n02, rack2-n01, ...).
  const std::size_t k = groups.size();
  std::vector<std::size_t> significance;  // most significant first
  for (std::size_t g = k - 1; g-- > 0;) significance.push_back(g);
  significance.push_back(k - 1);
  std::vector<std::size_t> idx(k, 0);
  for (;;) {
    std::string host = literals[0];
    for (std::size_t g = 0; g < k; ++g) host.append(groups[g][idx[g]]).append(literals[g + 1]);
    out.push_back(std::move(host));
    std::size_t digit = k;
    while (digit > 0) {
      const std::size_t g = significance[digit - 1];
      if (++idx[g] < groups[g].size()) break;
      idx[g] = 0;
      --digit;
    }
    if (digit == 0) break;
  }
}

// scontrol needs a configuration: SLURM_CONF (set by slurmd in every job, also configless)
// or the default file. Without one it spends seconds on DNS before failing.
bool slurm_config_present() {
  const char* conf = std::getenv("SLURM_CONF");
  std::error_code ec;
  if (conf && *conf) return std::filesystem::exists(conf, ec);
  return std::filesystem::exists("/etc/slurm/slurm.conf", ec);
}

}  // namespace

std::vector<std::string> parse_hostlist(const std::string& key, const std::string& list) {
  std::vector<std::string> out;
  std::string item;
  int depth = 0;
  for (std::size_t i = 0; i <= list.size(); ++i) {
    const char c = i < list.size() ? list[i] : ',';
    if (c == '[' && ++depth > 1) throw ConfigError(key, fmt::format("nested '[' in '{}'", list));
    if (c == ']' && --depth < 0) throw ConfigError(key, fmt::format("unbalanced ']' in '{}'", list));
    // Commas inside [...] separate values of a group, not hosts.
    if (c == ',' && depth == 0) {
      if (!item.empty()) expand_item(key, item, out);
      item.clear();
    } else if (c != ' ' && c != '\n') {
      item += c;
    }
  }
  if (depth != 0) throw ConfigError(key, fmt::format("unbalanced '[' in '{}'", list));
  return out;
}

std::optional<std::vector<std::string>> scontrol_hostnames(const std::string& list) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  std::string a0 = "scontrol", a1 = "show", a2 = "hostnames", a3 = list;
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "scontrol", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return std::nullopt;
  }
  // scontrol may try DNS for a configuration it does not find: bounded, never a hang.
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    const ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  std::vector<std::string> hosts;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) hosts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (hosts.empty()) return std::nullopt;
  return hosts;
}

std::vector<std::string> expand_hostlist(const std::string& key, const std::string& list) {
  if (list.find('[') != std::string::npos && slurm_config_present()) {
    if (auto hosts = scontrol_hostnames(list)) return *hosts;
    spdlog::debug("{}: scontrol show hostnames did not answer; expanding '{}' here", key, list);
  }
  return parse_hostlist(key, list);
}

}  // namespace synclab::real
