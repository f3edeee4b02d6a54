#pragma once
// Admission of a connecting peer, as a pure function: its hello and what this shard is go
// in, "accept" or a refusal reason with its one-line detail come out. No socket, no clock:
// the PS acts on the verdict (refuse, throttle wrong tokens, admit).
#include <cstdint>
#include <optional>
#include <string>

#include "real/protocol/messages.hpp"

namespace synclab::real {

/// What a hello is checked against: this shard and its job.
struct ShardIdentity {
  std::string token;              ///< the job token (compared in constant time)
  std::uint64_t fingerprint = 0;  ///< model_fingerprint of this shard's model
  std::string model;              ///< model name, for the refusal text
  std::uint32_t shard = 0;        ///< this shard's index
  std::uint64_t range_begin = 0, range_end = 0;  ///< the flat-buffer range it owns
  int workers = 0;                ///< W: worker ids are in [0, W)
};

/// Why a hello is refused: the wire reason and its one-line detail.
struct Refusal {
  RefuseReason reason = RefuseReason::BadToken;
  std::string detail;
};

/// The verdict on one hello.
struct HelloVerdict {
  bool token_ok = false;            ///< the token matched (judged whatever else is wrong)
  std::optional<Refusal> refusal;   ///< empty: admit the peer
};

/// Checks, in this order: protocol version, token, model fingerprint, shard and range,
/// worker id (observers carry none). The first failure is the refusal.
HelloVerdict check_hello(const Hello& hello, const ShardIdentity& self);

/// Whether two tokens are equal, in time independent of their bytes and lengths.
bool same_token(const std::string& a, const std::string& b);

}  // namespace synclab::real
