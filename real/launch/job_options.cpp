#include "real/launch/job_options.hpp"

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab::real {

std::string job_token(const RunConfig& config) {
  if (!config.real.token.empty()) return config.real.token;
  if (const char* env = std::getenv(kTokenEnv)) return env;
  return {};
}

std::string generate_token() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char bytes[16] = {};
  in.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  if (!in) throw Error("/dev/urandom: cannot read random bytes for the job token");
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

ConnectionLimits connection_limits(const RunConfig& config) {
  ConnectionLimits l;
  l.frame_timeout = config.real.frame_timeout;
  l.idle_timeout = config.real.timeout;
  l.heartbeat_interval = std::min(config.real.heartbeat, config.real.timeout / 4);
  return l;
}

}  // namespace synclab::real
