#pragma once
// Where the roles of a real job run: PS shard endpoints from the TensorFlow-style flags
// or a hosts list (roles by rank under Slurm or torchrun: rank_role.hpp).
#include <cstdint>
#include <string>
#include <vector>

namespace synclab::real {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const;  ///< "host:port"
};

/// "host:port" -> Endpoint; throws ConfigError(key, ...) on a missing or bad port.
Endpoint parse_endpoint(const std::string& key, const std::string& text);
/// Comma-separated "h1:p1,h2:p2" -> endpoints (empty text -> empty list).
std::vector<Endpoint> parse_endpoints(const std::string& key, const std::string& text);

}  // namespace synclab::real
