#pragma once
// Hosts of a one-machine testbed (experiments/testbed/testbed.sh): one network namespace
// per host, with its address. `synclab launch` with real.testbed set starts each role
// inside its host's namespace (`ip netns exec`), PS shards on the first hosts.
#include <string>
#include <vector>

namespace synclab::real {

struct TestbedHost {
  int index = 0;
  std::string ns;       ///< network namespace name
  std::string address;  ///< IPv4 address inside the testbed
  std::string rate;     ///< shaped NIC rate as given to tc, or "unshaped"
};

/// Reads the hosts of testbed `name`; throws ConfigError naming real.testbed when it is not
/// up or its state file is malformed.
std::vector<TestbedHost> read_testbed(const std::string& name);

/// argv prefix that runs a command inside namespace `ns` ("ip netns exec ns"); throws
/// Error when iproute2's ip is not installed.
std::vector<std::string> netns_exec_prefix(const std::string& ns);

}  // namespace synclab::real
