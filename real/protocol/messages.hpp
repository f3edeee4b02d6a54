#pragma once
// Typed messages of the wire protocol and their payload encodings. Encoding splits a
// message into a small metadata part and an optional float array, so large parameter
// buffers go to the socket without being copied into a frame buffer first.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "policies/events.hpp"
#include "real/protocol/frame.hpp"

namespace synclab::real {

/// Longest job token a hello may carry.
inline constexpr std::size_t kMaxTokenLength = 512;

/// Who is connecting.
enum class PeerRole : std::uint8_t { Worker = 1, Observer = 2 };

/// Why a hello was refused; numbers are part of the wire format.
enum class RefuseReason : std::uint8_t { BadToken = 1, BadVersion = 2, BadModel = 3, BadShard = 4, BadWorker = 5 };
std::string refuse_reason_name(RefuseReason r);

struct Hello {
  std::uint16_t protocol = kProtocolVersion;
  std::uint64_t model_fingerprint = 0;  ///< hash of model name + param layout
  std::string model;                    ///< model name, for the log line on mismatch
  std::string token;                    ///< shared job token
  PeerRole role = PeerRole::Worker;
  std::int32_t worker = -1;             ///< worker id in [0, W)
  std::uint32_t shard = 0;              ///< shard index the peer believes it talks to
  std::uint64_t range_begin = 0, range_end = 0;  ///< the flat-buffer range it expects that shard to own
  std::uint32_t incarnation = 0;        ///< 0 on first connect, +1 on every reconnect
};

struct HelloAck {
  std::uint32_t shard = 0;
  std::uint32_t shards = 1;
  std::uint64_t version = 0;   ///< current model version of the shard
  std::int32_t workers = 0;    ///< W of the job
  std::string policy;          ///< policy name, for logs
  double run_time = 0;         ///< seconds since the run started (from the server's clock)
};

struct Refuse {
  RefuseReason reason = RefuseReason::BadToken;
  std::string message;
};

struct Push {
  std::int32_t worker = -1;
  std::uint64_t base_version = 0;  ///< server version the values were computed from
  std::uint64_t clock = 0;         ///< worker's push counter
  float loss = 0;                  ///< mean training loss of the steps behind this push
  PayloadKind kind = PayloadKind::Gradient;  ///< the policies' kind; on the wire 0 = gradient, 1 = model delta
  std::uint32_t steps = 1;         ///< local steps behind this push (x data.batch = its samples)
  std::vector<float> values;       ///< the shard's range
};

struct PullRequest {
  std::int32_t worker = -1;
  std::uint64_t clock = 0;         ///< worker's push counter (for ssp-like holds)
};

struct ParamsReply {
  std::uint64_t version = 0;
  std::int32_t tau_hint = -1;      ///< local steps before the next push (-1: no change)
  std::vector<float> values;       ///< the shard's range
};

struct Cancel {
  std::uint64_t clock = 0;         ///< the worker push counter being abandoned
};

struct Heartbeat {
  std::uint64_t seq = 0;
};

struct Stop {
  std::string reason;              ///< "updates", "time", "accuracy", "error: ..."
  std::uint64_t version = 0;
};

struct Bye {
  std::int32_t worker = -1;
};

struct ErrorMsg {
  std::string message;
};

struct WorkerReport {
  std::int32_t worker = -1;
  double compute_s = 0, wait_s = 0, communicate_s = 0;
  std::uint64_t steps = 0, pushes = 0, samples = 0, bytes_sent = 0, bytes_received = 0;
  std::string device;
  std::uint64_t cancelled = 0;  ///< steps the server cancelled (their samples are in `samples`, never in the run's)
};

/// A message ready for the socket: header, metadata bytes, then floats (may be empty).
/// The float span borrows from the message, which must outlive the send.
struct Encoded {
  std::array<std::uint8_t, kHeaderSize> header{};
  std::vector<std::uint8_t> meta;
  std::span<const float> floats;
  std::size_t size() const { return kHeaderSize + meta.size() + floats.size_bytes(); }
  /// All parts in one contiguous buffer (tests, small messages).
  std::vector<std::uint8_t> flatten() const;
};

Encoded encode(const Hello& m);
Encoded encode(const HelloAck& m);
Encoded encode(const Refuse& m);
Encoded encode(const Push& m);
Encoded encode(const PullRequest& m);
Encoded encode(const ParamsReply& m);
Encoded encode(const Cancel& m);
Encoded encode(const Heartbeat& m);
Encoded encode(const Stop& m);
Encoded encode(const Bye& m);
Encoded encode(const ErrorMsg& m);
Encoded encode(const WorkerReport& m);
/// A push / params reply whose floats live elsewhere (no copy into the message).
Encoded encode_push(const Push& meta_only, std::span<const float> values);
Encoded encode_params(const ParamsReply& meta_only, std::span<const float> values);
/// Params reply whose values' crc32 (of their raw bytes) was computed once for many replies.
Encoded encode_params(const ParamsReply& meta_only, std::span<const float> values, std::uint32_t values_crc);
/// crc32 of a float array's raw bytes, for encode_params above.
std::uint32_t floats_crc(std::span<const float> values);

/// Decoders: nullopt when the payload is truncated, has trailing bytes, or violates a bound
/// (strings over 4 KiB; in a hello, a model name over 256 bytes or a token over
/// kMaxTokenLength; float arrays over max_floats; unknown enum values).
std::optional<Hello> decode_hello(std::span<const std::uint8_t> p);
std::optional<HelloAck> decode_hello_ack(std::span<const std::uint8_t> p);
std::optional<Refuse> decode_refuse(std::span<const std::uint8_t> p);
std::optional<Push> decode_push(std::span<const std::uint8_t> p, std::size_t max_floats);
std::optional<PullRequest> decode_pull(std::span<const std::uint8_t> p);
std::optional<ParamsReply> decode_params(std::span<const std::uint8_t> p, std::size_t max_floats);
std::optional<Cancel> decode_cancel(std::span<const std::uint8_t> p);
std::optional<Heartbeat> decode_heartbeat(std::span<const std::uint8_t> p);
std::optional<Stop> decode_stop(std::span<const std::uint8_t> p);
std::optional<Bye> decode_bye(std::span<const std::uint8_t> p);
std::optional<ErrorMsg> decode_error(std::span<const std::uint8_t> p);
std::optional<WorkerReport> decode_report(std::span<const std::uint8_t> p);

/// Push / params from a parsed frame: a split frame's float array is moved, not copied
/// (the frame's floats are left empty); an unsplit one is decoded from its payload.
std::optional<Push> decode_push(Frame& frame, std::size_t max_floats);
std::optional<ParamsReply> decode_params(Frame& frame, std::size_t max_floats);

/// Bytes of payload a frame needs for n floats of parameter data (the parser's limit).
constexpr std::size_t max_param_payload(std::size_t floats) { return floats * sizeof(float) + 256; }

}  // namespace synclab::real
