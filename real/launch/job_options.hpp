#pragma once
// Options shared by the ps, worker and launch commands, derived from the run config and
// the environment.
#include <string>

#include "core/config/run_config.hpp"
#include "real/net/connection.hpp"

namespace synclab::real {

/// Environment variable carrying the job token to child processes (kept off the command line).
inline constexpr const char* kTokenEnv = "SYNCLAB_TOKEN";

/// real.token when set, else $SYNCLAB_TOKEN, else empty. Throws ConfigError naming the
/// source when that token is too weak (see check_token_strength).
std::string job_token(const RunConfig& config);

/// Estimated entropy of a token in bits: its length times the bits per character of the
/// smallest alphabet it fits (hex 4, base64 6, printable ASCII 6.5); 0 when it uses fewer
/// than 8 distinct characters (a pattern, not a random string).
double token_entropy_bits(const std::string& token);

/// Throws ConfigError(source, ...) with a hint unless the token carries at least 128 bits
/// (32 hex or 22 base64 characters of random data) and is at most kMaxTokenLength bytes.
void check_token_strength(const std::string& token, const std::string& source);

/// The address a PS shard listens on when its entry in the host list is `host`: a literal
/// IP as it is; a name resolved, preferring an address that is not loopback (Debian maps
/// the machine's own name to 127.0.1.1, which no other host can reach). Empty when the
/// name only resolves to loopback addresses though it is not a loopback name (the caller
/// then listens on every interface and says so). Throws ConfigError(key) when it does not resolve.
std::string listen_address(const std::string& key, const std::string& host);

/// 128 random bits as 32 hex characters (from the OS entropy source).
std::string generate_token();

/// listen_address of a host-list entry, or 0.0.0.0 with a warning when it is empty.
std::string ps_listen_address(const std::string& key, const std::string& host);

/// Frame / idle timeouts and heartbeat interval from real.frame_timeout, real.timeout, real.heartbeat.
ConnectionLimits connection_limits(const RunConfig& config);

}  // namespace synclab::real
