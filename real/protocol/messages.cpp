#include "real/protocol/messages.hpp"

#include "real/protocol/wire.hpp"

namespace synclab::real {
namespace {

std::span<const std::uint8_t> bytes_of(std::span<const float> f) {
  return {reinterpret_cast<const std::uint8_t*>(f.data()), f.size_bytes()};
}

// Metadata is written by fill(w); the float array (if any) follows it, prefixed by its u32
// count written as the last metadata field so the layout is "meta | count | floats".
template <class Fill>
Encoded make(MsgType type, Fill fill, std::span<const float> floats = {}, bool has_floats = false) {
  Encoded e;
  WireWriter w(e.meta);
  fill(w);
  if (has_floats) w.u32(static_cast<std::uint32_t>(floats.size()));
  e.floats = floats;
  e.header = encode_header(type, 0, {e.meta, bytes_of(floats)});
  return e;
}

std::vector<float> read_floats(WireReader& r, std::size_t max_floats) { return r.floats(max_floats); }

template <class T>
std::optional<T> finish(WireReader& r, T&& value) {
  if (!r.done()) return std::nullopt;
  return std::move(value);
}

// The push's payload kind on the wire: numbers fixed here, whatever the enum's order.
std::uint8_t payload_kind_byte(PayloadKind k) { return k == PayloadKind::Gradient ? 0 : 1; }
std::optional<PayloadKind> payload_kind_of(std::uint8_t b) {
  if (b == 0) return PayloadKind::Gradient;
  if (b == 1) return PayloadKind::ModelDelta;
  return std::nullopt;
}

constexpr std::size_t kMaxString = 4096;
// A hello is read before its sender is authenticated, so its strings are kept small enough
// that the whole payload fits the pre-authentication frame cap.
constexpr std::size_t kMaxHelloModel = 256;
static_assert(2 + 8 + 2 + kMaxHelloModel + 2 + kMaxTokenLength + 1 + 4 + 4 + 8 + 8 + 4 <= kMaxHelloPayload);

}  // namespace

std::string refuse_reason_name(RefuseReason r) {
  switch (r) {
    case RefuseReason::BadToken: return "wrong job token";
    case RefuseReason::BadVersion: return "protocol version mismatch";
    case RefuseReason::BadModel: return "model mismatch";
    case RefuseReason::BadShard: return "shard mismatch";
    case RefuseReason::BadWorker: return "bad worker id";
  }
  return "unknown reason";
}

std::vector<std::uint8_t> Encoded::flatten() const {
  std::vector<std::uint8_t> out(header.begin(), header.end());
  out.insert(out.end(), meta.begin(), meta.end());
  auto fb = bytes_of(floats);
  out.insert(out.end(), fb.begin(), fb.end());
  return out;
}

Encoded encode(const Hello& m) {
  return make(MsgType::Hello, [&](WireWriter& w) {
    w.u16(m.protocol);
    w.u64(m.model_fingerprint);
    w.str(m.model);
    w.str(m.token);
    w.u8(static_cast<std::uint8_t>(m.role));
    w.i32(m.worker);
    w.u32(m.shard);
    w.u64(m.range_begin);
    w.u64(m.range_end);
    w.u32(m.incarnation);
  });
}

std::optional<Hello> decode_hello(std::span<const std::uint8_t> p) {
  WireReader r(p);
  Hello m;
  m.protocol = r.u16();
  m.model_fingerprint = r.u64();
  m.model = r.str(kMaxHelloModel);
  m.token = r.str(kMaxTokenLength);
  const auto role = r.u8();
  if (role != 1 && role != 2) return std::nullopt;
  m.role = static_cast<PeerRole>(role);
  m.worker = r.i32();
  m.shard = r.u32();
  m.range_begin = r.u64();
  m.range_end = r.u64();
  m.incarnation = r.u32();
  return finish(r, std::move(m));
}

Encoded encode(const HelloAck& m) {
  return make(MsgType::HelloAck, [&](WireWriter& w) {
    w.u32(m.shard);
    w.u32(m.shards);
    w.u64(m.version);
    w.i32(m.workers);
    w.str(m.policy);
    w.f64(m.run_time);
  });
}

std::optional<HelloAck> decode_hello_ack(std::span<const std::uint8_t> p) {
  WireReader r(p);
  HelloAck m;
  m.shard = r.u32();
  m.shards = r.u32();
  m.version = r.u64();
  m.workers = r.i32();
  m.policy = r.str(kMaxString);
  m.run_time = r.f64();
  return finish(r, std::move(m));
}

Encoded encode(const Refuse& m) {
  return make(MsgType::Refuse, [&](WireWriter& w) {
    w.u8(static_cast<std::uint8_t>(m.reason));
    w.str(m.message);
  });
}

std::optional<Refuse> decode_refuse(std::span<const std::uint8_t> p) {
  WireReader r(p);
  Refuse m;
  const auto reason = r.u8();
  if (reason < 1 || reason > 5) return std::nullopt;
  m.reason = static_cast<RefuseReason>(reason);
  m.message = r.str(kMaxString);
  return finish(r, std::move(m));
}

Encoded encode_push(const Push& m, std::span<const float> values) {
  return make(
      MsgType::Push,
      [&](WireWriter& w) {
        w.i32(m.worker);
        w.u64(m.base_version);
        w.u64(m.clock);
        w.f32(m.loss);
        w.u8(payload_kind_byte(m.kind));
        w.u32(m.steps);
      },
      values, true);
}
Encoded encode(const Push& m) { return encode_push(m, m.values); }

std::optional<Push> decode_push(std::span<const std::uint8_t> p, std::size_t max_floats) {
  WireReader r(p);
  Push m;
  m.worker = r.i32();
  m.base_version = r.u64();
  m.clock = r.u64();
  m.loss = r.f32();
  const auto kind = payload_kind_of(r.u8());
  if (!kind) return std::nullopt;
  m.kind = *kind;
  m.steps = r.u32();
  m.values = read_floats(r, max_floats);
  return finish(r, std::move(m));
}

std::optional<Push> decode_push(Frame& f, std::size_t max_floats) {
  if (!f.split) return decode_push(f.payload, max_floats);
  WireReader r(f.payload);
  Push m;
  m.worker = r.i32();
  m.base_version = r.u64();
  m.clock = r.u64();
  m.loss = r.f32();
  const auto kind = payload_kind_of(r.u8());
  if (!kind) return std::nullopt;
  m.kind = *kind;
  m.steps = r.u32();
  const std::size_t count = r.u32();
  if (!r.done() || count != f.floats.size() || count > max_floats) return std::nullopt;
  m.values = std::move(f.floats);
  f.floats = {};
  return m;
}

Encoded encode(const PullRequest& m) {
  return make(MsgType::PullRequest, [&](WireWriter& w) {
    w.i32(m.worker);
    w.u64(m.clock);
  });
}

std::optional<PullRequest> decode_pull(std::span<const std::uint8_t> p) {
  WireReader r(p);
  PullRequest m;
  m.worker = r.i32();
  m.clock = r.u64();
  return finish(r, std::move(m));
}

Encoded encode_params(const ParamsReply& m, std::span<const float> values) {
  return make(
      MsgType::Params,
      [&](WireWriter& w) {
        w.u64(m.version);
        w.i32(m.tau_hint);
      },
      values, true);
}
Encoded encode(const ParamsReply& m) { return encode_params(m, m.values); }

std::uint32_t floats_crc(std::span<const float> values) { return crc32_of({bytes_of(values)}); }

Encoded encode_params(const ParamsReply& m, std::span<const float> values, std::uint32_t values_crc) {
  Encoded e;
  WireWriter w(e.meta);
  w.u64(m.version);
  w.i32(m.tau_hint);
  w.u32(static_cast<std::uint32_t>(values.size()));
  e.floats = values;
  e.header = encode_header_known_crc(MsgType::Params, 0, e.meta, values_crc, values.size_bytes());
  return e;
}

std::optional<ParamsReply> decode_params(std::span<const std::uint8_t> p, std::size_t max_floats) {
  WireReader r(p);
  ParamsReply m;
  m.version = r.u64();
  m.tau_hint = r.i32();
  m.values = read_floats(r, max_floats);
  return finish(r, std::move(m));
}

std::optional<ParamsReply> decode_params(Frame& f, std::size_t max_floats) {
  if (!f.split) return decode_params(f.payload, max_floats);
  WireReader r(f.payload);
  ParamsReply m;
  m.version = r.u64();
  m.tau_hint = r.i32();
  const std::size_t count = r.u32();
  if (!r.done() || count != f.floats.size() || count > max_floats) return std::nullopt;
  m.values = std::move(f.floats);
  f.floats = {};
  return m;
}

Encoded encode(const Cancel& m) {
  return make(MsgType::Cancel, [&](WireWriter& w) { w.u64(m.clock); });
}
std::optional<Cancel> decode_cancel(std::span<const std::uint8_t> p) {
  WireReader r(p);
  Cancel m;
  m.clock = r.u64();
  return finish(r, std::move(m));
}

Encoded encode(const Heartbeat& m) {
  return make(MsgType::Heartbeat, [&](WireWriter& w) { w.u64(m.seq); });
}
std::optional<Heartbeat> decode_heartbeat(std::span<const std::uint8_t> p) {
  WireReader r(p);
  Heartbeat m;
  m.seq = r.u64();
  return finish(r, std::move(m));
}

Encoded encode(const Stop& m) {
  return make(MsgType::Stop, [&](WireWriter& w) {
    w.str(m.reason);
    w.u64(m.version);
  });
}
std::optional<Stop> decode_stop(std::span<const std::uint8_t> p) {
  WireReader r(p);
  Stop m;
  m.reason = r.str(kMaxString);
  m.version = r.u64();
  return finish(r, std::move(m));
}

Encoded encode(const Bye& m) {
  return make(MsgType::Bye, [&](WireWriter& w) { w.i32(m.worker); });
}
std::optional<Bye> decode_bye(std::span<const std::uint8_t> p) {
  WireReader r(p);
  Bye m;
  m.worker = r.i32();
  return finish(r, std::move(m));
}

Encoded encode(const ErrorMsg& m) {
  return make(MsgType::Error, [&](WireWriter& w) { w.str(m.message); });
}
std::optional<ErrorMsg> decode_error(std::span<const std::uint8_t> p) {
  WireReader r(p);
  ErrorMsg m;
  m.message = r.str(kMaxString);
  return finish(r, std::move(m));
}

Encoded encode(const WorkerReport& m) {
  return make(MsgType::Report, [&](WireWriter& w) {
    w.i32(m.worker);
    w.f64(m.compute_s);
    w.f64(m.wait_s);
    w.f64(m.communicate_s);
    w.u64(m.steps);
    w.u64(m.pushes);
    w.u64(m.samples);
    w.u64(m.bytes_sent);
    w.u64(m.bytes_received);
    w.str(m.device);
    w.u64(m.cancelled);
  });
}
std::optional<WorkerReport> decode_report(std::span<const std::uint8_t> p) {
  WireReader r(p);
  WorkerReport m;
  m.worker = r.i32();
  m.compute_s = r.f64();
  m.wait_s = r.f64();
  m.communicate_s = r.f64();
  m.steps = r.u64();
  m.pushes = r.u64();
  m.samples = r.u64();
  m.bytes_sent = r.u64();
  m.bytes_received = r.u64();
  m.device = r.str(kMaxString);
  m.cancelled = r.u64();
  return finish(r, std::move(m));
}

}  // namespace synclab::real
