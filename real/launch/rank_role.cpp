#include "real/launch/rank_role.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "real/launch/hostlist.hpp"

namespace synclab::real {
namespace {

constexpr std::uint16_t kSlurmBasePort = 29500;

using Env = std::map<std::string, std::string>;

std::string get(const Env& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// The step's variable when set (inside an allocation a step may use part of it), else the job's.
std::pair<std::string, std::string> step_or_job(const Env& env, const std::string& step, const std::string& job) {
  if (!get(env, step).empty()) return {step, get(env, step)};
  return {job, get(env, job)};
}

int parse_count(const std::string& key, const std::string& text) {
  try {
    std::size_t pos = 0;
    const int v = std::stoi(text, &pos);
    if (pos != text.size() || v < 0) throw std::invalid_argument("bad");
    return v;
  } catch (const std::exception&) {
    throw ConfigError(key, text.empty() ? "not set" : fmt::format("'{}' is not a non-negative integer", text));
  }
}

RoleAssignment assign(const char* launcher, int rank, int ntasks, int servers, const std::string& ntasks_key) {
  if (ntasks <= servers)
    throw ConfigError(ntasks_key, fmt::format("{} tasks leave no worker beside {} PS shard(s)", ntasks, servers));
  if (rank >= ntasks) throw ConfigError(ntasks_key, fmt::format("rank {} is not below the {} tasks", rank, ntasks));
  RoleAssignment role;
  role.launcher = launcher;
  role.workers = ntasks - servers;
  role.job = rank < servers ? "ps" : "worker";
  role.index = rank < servers ? rank : rank - servers;
  return role;
}

// Node of each rank: block fills node 0 first, cyclic deals ranks round-robin over the
// nodes that still have room; both bounded by the tasks per node.
std::vector<std::size_t> layout(const std::string& distribution, const std::vector<int>& per_node, int ntasks,
                                const std::string& key) {
  std::vector<std::size_t> node_of;
  std::vector<int> left = per_node;
  if (distribution == "cyclic") {
    while (static_cast<int>(node_of.size()) < ntasks) {
      bool placed = false;
      for (std::size_t n = 0; n < left.size() && static_cast<int>(node_of.size()) < ntasks; ++n)
        if (left[n] > 0) {
          --left[n];
          node_of.push_back(n);
          placed = true;
        }
      if (!placed) break;
    }
  } else {
    for (std::size_t n = 0; n < left.size(); ++n)
      for (int t = 0; t < left[n] && static_cast<int>(node_of.size()) < ntasks; ++t) node_of.push_back(n);
  }
  if (static_cast<int>(node_of.size()) < ntasks)
    throw ConfigError(key, fmt::format("places {} tasks, fewer than the {} of the step", node_of.size(), ntasks));
  return node_of;
}

}  // namespace

std::vector<int> expand_tasks_per_node(const std::string& text) {
  std::vector<int> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto x = part.find("(x");
    if (x == std::string::npos) {
      out.push_back(parse_count("SLURM_TASKS_PER_NODE", part));
    } else {
      if (part.back() != ')') throw ConfigError("SLURM_TASKS_PER_NODE", fmt::format("'{}' is not N or N(xM)", part));
      const int n = parse_count("SLURM_TASKS_PER_NODE", part.substr(0, x));
      const int rep = parse_count("SLURM_TASKS_PER_NODE", part.substr(x + 2, part.size() - x - 3));
      out.insert(out.end(), static_cast<std::size_t>(rep), n);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<RoleAssignment> role_from_slurm(const Env& env, int servers, std::uint16_t base_port) {
  if (get(env, "SLURM_PROCID").empty()) return std::nullopt;
  const int rank = parse_count("SLURM_PROCID", get(env, "SLURM_PROCID"));
  const auto [ntasks_key, ntasks_text] = step_or_job(env, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS");
  const int ntasks = parse_count(ntasks_key, ntasks_text);
  RoleAssignment role = assign("Slurm", rank, ntasks, servers, ntasks_key);
  const auto [nodes_key, nodes_text] = step_or_job(env, "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST");
  const auto nodes = expand_hostlist(nodes_key, nodes_text);
  if (nodes.empty()) throw ConfigError(nodes_key, "empty node list");
  const auto [tpn_key, tpn_text] = step_or_job(env, "SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE");
  // Without a tasks-per-node variable, the tasks are spread evenly (rounded up).
  std::vector<int> per_node = tpn_text.empty() ? std::vector<int>(nodes.size(), (ntasks + static_cast<int>(nodes.size()) - 1) / static_cast<int>(nodes.size()))
                                               : expand_tasks_per_node(tpn_text);
  if (per_node.size() != nodes.size())
    throw ConfigError(tpn_key, fmt::format("'{}' counts {} nodes, {} lists {}", tpn_text, per_node.size(), nodes_key, nodes.size()));
  // SLURM_DISTRIBUTION is e.g. "cyclic", "block", "cyclic:block"; the first part places tasks on nodes.
  std::string distribution = get(env, "SLURM_DISTRIBUTION");
  distribution = distribution.substr(0, distribution.find_first_of(":,"));
  if (!distribution.empty() && distribution != "block" && distribution != "cyclic")
    throw ConfigError("SLURM_DISTRIBUTION", fmt::format("'{}' is not supported (block or cyclic)", distribution));
  const auto node_of = layout(distribution, per_node, ntasks, tpn_key);
  for (int s = 0; s < servers; ++s)
    role.ps.push_back(Endpoint{nodes[node_of[static_cast<std::size_t>(s)]], static_cast<std::uint16_t>(base_port + s)});
  return role;
}

std::optional<RoleAssignment> role_from_torchrun(const Env& env, int servers, std::uint16_t port) {
  if (get(env, "RANK").empty() || get(env, "WORLD_SIZE").empty()) return std::nullopt;
  const int rank = parse_count("RANK", get(env, "RANK"));
  const int world = parse_count("WORLD_SIZE", get(env, "WORLD_SIZE"));
  RoleAssignment role = assign("torchrun", rank, world, servers, "WORLD_SIZE");
  const std::string master = get(env, "MASTER_ADDR");
  if (master.empty()) throw ConfigError("MASTER_ADDR", "not set (the host every PS shard runs on)");
  int base = port;
  if (base == 0) {
    base = parse_count("MASTER_PORT", get(env, "MASTER_PORT"));
    if (base < 1 || base > 65535) throw ConfigError("MASTER_PORT", fmt::format("{} out of range 1..65535", base));
  }
  if (base + servers - 1 > 65535) throw ConfigError("MASTER_PORT", fmt::format("{} + {} shards passes port 65535", base, servers));
  for (int s = 0; s < servers; ++s) role.ps.push_back(Endpoint{master, static_cast<std::uint16_t>(base + s)});
  return role;
}

std::optional<RoleAssignment> role_from_environment(const Env& env, int servers, std::uint16_t port) {
  if (auto role = role_from_torchrun(env, servers, port)) return role;
  return role_from_slurm(env, servers, port ? port : kSlurmBasePort);
}

std::map<std::string, std::string> launcher_environment() {
  Env env;
  for (const char* name : {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "SLURM_JOB_NODELIST", "SLURM_STEP_NODELIST",
                           "SLURM_TASKS_PER_NODE", "SLURM_STEP_TASKS_PER_NODE", "SLURM_DISTRIBUTION", "RANK", "WORLD_SIZE",
                           "MASTER_ADDR", "MASTER_PORT"})
    if (const char* v = std::getenv(name)) env[name] = v;
  return env;
}

}  // namespace synclab::real
