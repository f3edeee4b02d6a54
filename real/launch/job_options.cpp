#include "real/launch/job_options.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include <asio/ip/address.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/common/error.hpp"
#include "real/protocol/messages.hpp"

namespace synclab::real {

std::string job_token(const RunConfig& config) {
  if (!config.real.token.empty()) {
    check_token_strength(config.real.token, "real.token");
    return config.real.token;
  }
  if (const char* env = std::getenv(kTokenEnv); env && *env) {
    check_token_strength(env, kTokenEnv);
    return env;
  }
  return {};
}

double token_entropy_bits(const std::string& token) {
  const std::set<char> distinct(token.begin(), token.end());
  if (distinct.size() < 8) return 0;
  const auto all = [&](auto pred) { return std::all_of(token.begin(), token.end(), [&](char c) { return pred(static_cast<unsigned char>(c)); }); };
  double bits_per_char = std::log2(95.0);
  if (all([](unsigned char c) { return std::isxdigit(c) != 0; })) bits_per_char = 4;
  else if (all([](unsigned char c) { return std::isalnum(c) || c == '+' || c == '/' || c == '-' || c == '_' || c == '='; })) bits_per_char = 6;
  // Base64 padding carries no entropy.
  const auto padding = static_cast<double>(std::count(token.begin(), token.end(), '='));
  return (static_cast<double>(token.size()) - (bits_per_char == 6 ? padding : 0)) * bits_per_char;
}

void check_token_strength(const std::string& token, const std::string& source) {
  constexpr const char* hint = "use 32 hex or 22 base64 characters from a random source, e.g. `openssl rand -hex 16`, "
                               "or leave it empty and let `synclab launch` generate one";
  if (token.size() > kMaxTokenLength)
    throw ConfigError(source, fmt::format("job token of {} characters is longer than {}; {}", token.size(), kMaxTokenLength, hint));
  const double bits = token_entropy_bits(token);
  if (bits < 128)
    throw ConfigError(source, fmt::format("job token too weak: about {:.0f} bits of entropy in {} characters, at least 128 needed; {}", bits,
                                          token.size(), hint));
}

std::string listen_address(const std::string& key, const std::string& host) {
  asio::error_code ec;
  if (const auto literal = asio::ip::make_address(host, ec); !ec) return literal.to_string();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
    throw ConfigError(key, fmt::format("cannot resolve '{}' to listen on: {}", host, ::gai_strerror(rc)));
  std::string loopback, other;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    asio::ip::address addr;
    if (a->ai_family == AF_INET) addr = asio::ip::address_v4(ntohl(reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr.s_addr));
    else if (a->ai_family == AF_INET6) {
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr.s6_addr, b.size());
      addr = asio::ip::address_v6(b);
    } else continue;
    auto& slot = addr.is_loopback() ? loopback : other;
    if (slot.empty()) slot = addr.to_string();
  }
  ::freeaddrinfo(found);
  if (!other.empty()) return other;
  return host == "localhost" ? loopback : std::string();
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

std::string ps_listen_address(const std::string& key, const std::string& host) {
  std::string addr = listen_address(key, host);
  if (addr.empty()) {
    spdlog::warn("{}: '{}' resolves only to loopback addresses here; listening on every interface (0.0.0.0): "
                 "firewall the port or pass --bind with this host's address", key, host);
    addr = "0.0.0.0";
  }
  return addr;
}

ConnectionLimits connection_limits(const RunConfig& config) {
  ConnectionLimits l;
  l.frame_timeout = config.real.frame_timeout;
  l.idle_timeout = config.real.timeout;
  l.heartbeat_interval = std::min(config.real.heartbeat, config.real.timeout / 4);
  return l;
}

}  // namespace synclab::real
