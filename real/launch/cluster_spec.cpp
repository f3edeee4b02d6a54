#include "real/launch/cluster_spec.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab::real {
namespace {

std::vector<std::string> split_top_level(const std::string& s) {
  // Commas inside [...] belong to a range list, not to the outer list.
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

int parse_int(const std::string& key, const std::string& text) {
  try {
    std::size_t pos = 0;
    const int v = std::stoi(text, &pos);
    if (pos != text.size()) throw std::invalid_argument("trailing");
    return v;
  } catch (const std::exception&) {
    throw ConfigError(key, fmt::format("'{}' is not an integer", text));
  }
}

}  // namespace

std::string Endpoint::str() const { return fmt::format("{}:{}", host, port); }

Endpoint parse_endpoint(const std::string& key, const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw ConfigError(key, fmt::format("'{}' is not host:port", text));
  const int port = parse_int(key, text.substr(colon + 1));
  if (port < 1 || port > 65535) throw ConfigError(key, fmt::format("port {} out of range 1..65535", port));
  Endpoint e;
  e.host = text.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

std::vector<Endpoint> parse_endpoints(const std::string& key, const std::string& text) {
  std::vector<Endpoint> out;
  for (const auto& part : split_top_level(text)) out.push_back(parse_endpoint(key, part));
  return out;
}

std::vector<std::string> expand_nodelist(const std::string& list) {
  std::vector<std::string> out;
  for (const auto& item : split_top_level(list)) {
    const auto open = item.find('[');
    if (open == std::string::npos) {
      out.push_back(item);
      continue;
    }
    const auto close = item.find(']', open);
    if (close == std::string::npos) throw ConfigError("SLURM_JOB_NODELIST", fmt::format("unbalanced '[' in '{}'", item));
    const std::string prefix = item.substr(0, open), suffix = item.substr(close + 1);
    std::string ranges = item.substr(open + 1, close - open - 1);
    std::size_t start = 0;
    while (start <= ranges.size()) {
      const auto comma = ranges.find(',', start);
      const std::string r = ranges.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      const auto dash = r.find('-');
      if (dash == std::string::npos) {
        out.push_back(prefix + r + suffix);
      } else {
        const std::string lo = r.substr(0, dash), hi = r.substr(dash + 1);
        const int a = parse_int("SLURM_JOB_NODELIST", lo), b = parse_int("SLURM_JOB_NODELIST", hi);
        // Zero padding follows the width of the lower bound ("n[01-10]" -> n01..n10).
        for (int v = a; v <= b; ++v) out.push_back(prefix + fmt::format("{:0{}}", v, lo.size()) + suffix);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::vector<int> expand_tasks_per_node(const std::string& text) {
  std::vector<int> out;
  for (const auto& part : split_top_level(text)) {
    const auto x = part.find("(x");
    if (x == std::string::npos) {
      out.push_back(parse_int("SLURM_TASKS_PER_NODE", part));
    } else {
      const int n = parse_int("SLURM_TASKS_PER_NODE", part.substr(0, x));
      const int rep = parse_int("SLURM_TASKS_PER_NODE", part.substr(x + 2, part.size() - x - 3));
      out.insert(out.end(), static_cast<std::size_t>(rep), n);
    }
  }
  return out;
}

std::optional<RoleAssignment> role_from_slurm(const std::map<std::string, std::string>& env, int servers, std::uint16_t base_port) {
  auto get = [&](const char* name) -> std::string {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  if (get("SLURM_PROCID").empty()) return std::nullopt;
  const int rank = parse_int("SLURM_PROCID", get("SLURM_PROCID"));
  const int ntasks = parse_int("SLURM_NTASKS", get("SLURM_NTASKS"));
  if (ntasks <= servers) throw ConfigError("SLURM_NTASKS", fmt::format("{} tasks leave no worker beside {} PS shard(s)", ntasks, servers));
  const auto nodes = expand_nodelist(get("SLURM_JOB_NODELIST"));
  if (nodes.empty()) throw ConfigError("SLURM_JOB_NODELIST", "empty node list");
  std::vector<int> per_node = expand_tasks_per_node(get("SLURM_TASKS_PER_NODE").empty() ? "1" : get("SLURM_TASKS_PER_NODE"));
  // Block distribution: tasks fill node 0 first, then node 1, ...; without a usable
  // SLURM_TASKS_PER_NODE, ranks go round-robin over the nodes.
  auto node_of = [&](int r) -> const std::string& {
    int seen = 0;
    for (std::size_t n = 0; n < per_node.size() && n < nodes.size(); ++n) {
      seen += per_node[n];
      if (r < seen) return nodes[n];
    }
    return nodes[static_cast<std::size_t>(r) % nodes.size()];
  };
  RoleAssignment role;
  role.workers = ntasks - servers;
  role.job = rank < servers ? "ps" : "worker";
  role.index = rank < servers ? rank : rank - servers;
  for (int s = 0; s < servers; ++s) role.ps.push_back(Endpoint{node_of(s), static_cast<std::uint16_t>(base_port + s)});
  return role;
}

std::map<std::string, std::string> slurm_environment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_NODELIST", "SLURM_TASKS_PER_NODE"})
    if (const char* v = std::getenv(name)) env[name] = v;
  return env;
}

}  // namespace synclab::real
