#include "real/ps/hello_check.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace synclab::real {

bool same_token(const std::string& a, const std::string& b) {
  // Digests compared in constant time: neither the bytes nor the length of the job token
  // can be learned from how long a refusal takes.
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

HelloVerdict check_hello(const Hello& h, const ShardIdentity& self) {
  HelloVerdict v;
  // The token is judged even when something else is wrong first, so the wrong-token
  // throttle sees every guess.
  v.token_ok = same_token(h.token, self.token);
  if (h.protocol != kProtocolVersion)
    v.refusal = Refusal{RefuseReason::BadVersion, fmt::format("peer protocol {}, server protocol {}", h.protocol, kProtocolVersion)};
  else if (!v.token_ok)
    v.refusal = Refusal{RefuseReason::BadToken, "job token does not match"};
  else if (h.model_fingerprint != self.fingerprint)
    v.refusal = Refusal{RefuseReason::BadModel, fmt::format("peer model '{}' (fingerprint {:016x}), server model '{}' ({:016x})", h.model,
                                                            h.model_fingerprint, self.model, self.fingerprint)};
  else if (h.shard != self.shard || h.range_begin != self.range_begin || h.range_end != self.range_end)
    v.refusal = Refusal{RefuseReason::BadShard, fmt::format("peer expects shard {} range [{}, {}), this is shard {} range [{}, {})", h.shard,
                                                            h.range_begin, h.range_end, self.shard, self.range_begin, self.range_end)};
  else if (h.role == PeerRole::Worker && (h.worker < 0 || h.worker >= self.workers))
    v.refusal = Refusal{RefuseReason::BadWorker, fmt::format("worker id {} not in [0, {})", h.worker, self.workers)};
  return v;
}

}  // namespace synclab::real
