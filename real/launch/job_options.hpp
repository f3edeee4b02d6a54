#pragma once
// Options shared by the ps, worker and launch commands, derived from the run config and
// the environment.
#include <string>

#include "core/config/run_config.hpp"
#include "real/net/connection.hpp"

namespace synclab::real {

/// Environment variable carrying the job token to child processes (kept off the command line).
inline constexpr const char* kTokenEnv = "SYNCLAB_TOKEN";

/// real.token when set, else $SYNCLAB_TOKEN, else empty.
std::string job_token(const RunConfig& config);

/// 128 random bits as 32 hex characters (from the OS entropy source).
std::string generate_token();

/// Frame / idle timeouts and heartbeat interval from real.frame_timeout, real.timeout, real.heartbeat.
ConnectionLimits connection_limits(const RunConfig& config);

}  // namespace synclab::real
