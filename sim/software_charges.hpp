#pragma once
// The simulated seconds the real executor's own software spends per message and per
// update (cluster.software, measured by `synclab calibrate`; docs/simulator.md, "Software
// costs"). Pure arithmetic over the measured rates: the simulator decides where to wait.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config/run_config.hpp"
#include "policies/server_core.hpp"

namespace synclab::sim {

/// Costs of messages, the same on workers and servers.
class MessageCharges {
 public:
  explicit MessageCharges(const SoftwareCostSpec& spec) : spec_(spec) {}
  bool any() const { return spec_.any(); }
  /// Encoding one message of `bytes` payload bytes (header, checksum).
  double send(std::uint64_t bytes) const { return spec_.send_message + spec_.send_byte * static_cast<double>(bytes); }
  /// Parsing and decoding one message of `bytes` payload bytes (buffer, checksum).
  double receive(std::uint64_t bytes) const {
    return spec_.receive_message + spec_.receive_byte * static_cast<double>(bytes);
  }
  /// A worker encoding its push of `bytes` to one shard and the pull request after it.
  double worker_push(std::uint64_t bytes) const { return send(bytes) + send(0); }

 private:
  SoftwareCostSpec spec_;
};

/// What the decisions of one event cost a shard's thread. Keeps the one piece of state the
/// real server keeps: the checksum of the last snapshot sent, reused by every reply of it.
class ShardCharges {
 public:
  /// apply_per_param: the rate of the run's optimizer (SoftwareCostSpec::apply; sgd's for
  /// model deltas); params / bytes: the shard's range; coordinator: shard 0, which copies
  /// the model for evaluations (the others answer its pull for their range);
  /// eval_every: train.eval_every (0: no evaluation during the run).
  ShardCharges(const SoftwareCostSpec& spec, double apply_per_param, std::size_t params, std::uint64_t bytes,
               bool coordinator, std::uint64_t eval_every);
  /// Seconds for `out`, decided while the shard's version went from `before` to `after`:
  /// each update applied (optimizer over the range, each push folded in), the evaluation
  /// snapshot when an eval_every boundary was crossed, and each reply encoded (the
  /// checksum once per version).
  double outcome(const ServerOutbox& out, Version before, Version after);
  /// Seconds the thread spends in the first write() of one reply, after the decisions: the
  /// real server writes a reply 64 KiB (kSocketWriteChunk) per call and goes on to the next
  /// reply's first chunk before the rest, so a shard's replies leave one first write apart,
  /// in the order decided; the later chunks are written as their sockets drain.
  double write() const { return spec_.write_byte * static_cast<double>(std::min(bytes_, kSocketWriteChunk)); }

 private:
  SoftwareCostSpec spec_;
  MessageCharges messages_;
  double apply_per_param_;
  double params_;
  std::uint64_t bytes_;
  bool coordinator_;
  std::uint64_t eval_every_;
  std::optional<Version> checksummed_;  // version whose snapshot checksum is known
};

/// summary.json's `software_costs`: the rates charged, or "free" when all are zero.
nlohmann::json software_costs_json(const SoftwareCostSpec& spec);

}  // namespace synclab::sim
