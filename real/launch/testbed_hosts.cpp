#include "real/launch/testbed_hosts.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab::real {

namespace {
// Where testbed.sh keeps the state of testbed `name` (its hosts file).
std::string testbed_state_dir(const std::string& name) { return "/run/synclab-testbed/" + name; }
}  // namespace

std::vector<TestbedHost> read_testbed(const std::string& name) {
  const std::string file = testbed_state_dir(name) + "/hosts";
  std::ifstream in(file);
  if (!in)
    throw ConfigError("real.testbed", fmt::format("no testbed named '{}' is up ({} is missing); start one with "
                                                  "experiments/testbed/testbed.sh up --name {} --hosts N", name, file, name));
  std::vector<TestbedHost> hosts;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    std::istringstream ls(line);
    TestbedHost h;
    if (!(ls >> h.index >> h.ns >> h.address >> h.rate) || h.index != static_cast<int>(hosts.size()))
      throw ConfigError("real.testbed", fmt::format("{} line {} is malformed: '{}'", file, n, line));
    hosts.push_back(h);
  }
  if (hosts.empty()) throw ConfigError("real.testbed", fmt::format("{} lists no hosts", file));
  return hosts;
}

std::vector<std::string> netns_exec_prefix(const std::string& ns) {
  for (const char* ip : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (std::filesystem::exists(ip)) return {ip, "netns", "exec", ns};
  throw Error("real.testbed: iproute2's 'ip' is not installed (apt-get install iproute2)");
}

}  // namespace synclab::real
