// Fuzz targets of the wire protocol: the frame parser fed in arbitrary chunks under either
// admission, and each of the 12 message decoders with a round-trip property (whatever
// decodes re-encodes to the very same bytes: no field is dropped or normalised).
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "real/protocol/frame.hpp"
#include "real/protocol/messages.hpp"
#include "tests/fuzz/fuzz_targets.hpp"

namespace synclab::fuzz {
namespace {

using namespace synclab::real;

constexpr std::size_t kMaxFloats = 256;

// decode(payload) succeeded => encode(result) is header + exactly that payload.
template <class Msg>
void expect_round_trip(const char* target, const std::optional<Msg>& m, std::span<const std::uint8_t> payload) {
  if (!m) return;
  const auto again = encode(*m).flatten();
  if (again.size() != kHeaderSize + payload.size() || (!payload.empty() && std::memcmp(again.data() + kHeaderSize, payload.data(), payload.size()) != 0))
    violated(target, "decoded message does not re-encode to the same payload");
}

template <class Msg, std::optional<Msg> (*Decode)(std::span<const std::uint8_t>)>
int round_trip(const char* target, const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> p(data, size);
  expect_round_trip(target, Decode(p), p);
  return 0;
}

// Push / params also go through the parser, whose split frames (metadata apart from the
// floats) must decode to the same message as the flat payload.
template <class Msg, std::optional<Msg> (*Flat)(std::span<const std::uint8_t>, std::size_t), std::optional<Msg> (*Split)(Frame&, std::size_t)>
int round_trip_floats(const char* target, MsgType type, const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> p(data, size);
  const auto flat = Flat(p, kMaxFloats);
  expect_round_trip(target, flat, p);
  FrameParser parser(max_param_payload(kMaxFloats));
  const auto bytes = encode_frame(type, p);
  parser.feed(bytes);
  if (!parser.has_frame()) {
    if (p.size() <= max_param_payload(kMaxFloats)) violated(target, "parser refused a frame within its limit");
    return 0;
  }
  Frame f = parser.take();
  const auto split = Split(f, kMaxFloats);
  if (flat.has_value() != split.has_value()) violated(target, "split and flat decoding disagree");
  if (split && encode(*split).flatten() != encode(*flat).flatten()) violated(target, "split and flat decoding differ");
  return 0;
}

void decode_any(Frame& f) {
  switch (f.header.type) {
    case MsgType::Hello: (void)decode_hello(f.payload); break;
    case MsgType::HelloAck: (void)decode_hello_ack(f.payload); break;
    case MsgType::Refuse: (void)decode_refuse(f.payload); break;
    case MsgType::Push: (void)decode_push(f, kMaxFloats); break;
    case MsgType::PullRequest: (void)decode_pull(f.payload); break;
    case MsgType::Params: (void)decode_params(f, kMaxFloats); break;
    case MsgType::Cancel: (void)decode_cancel(f.payload); break;
    case MsgType::Heartbeat: (void)decode_heartbeat(f.payload); break;
    case MsgType::Stop: (void)decode_stop(f.payload); break;
    case MsgType::Bye: (void)decode_bye(f.payload); break;
    case MsgType::Error: (void)decode_error(f.payload); break;
    case MsgType::Report: (void)decode_report(f.payload); break;
  }
}

}  // namespace

// The first byte picks the chunk size, the admission (a stranger's or a worker's) and
// whether a small receive budget applies; the rest is the stream.
int fuzz_frame(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + (data[0] & 31);
  const bool stranger = data[0] & 32, budgeted = data[0] & 64;
  auto budget = budgeted ? std::make_shared<ReceiveBudget>(2 * max_param_payload(kMaxFloats)) : nullptr;
  {
    FrameParser parser(stranger ? FrameAdmission::hello_only() : FrameAdmission::any(max_param_payload(kMaxFloats)), budget);
    std::span<const std::uint8_t> rest(data + 1, size - 1);
    while (!rest.empty() && !parser.failed()) {
      const std::size_t used = parser.feed(rest.first(std::min(chunk, rest.size())));
      rest = rest.subspan(used);
      if (parser.mid_frame() && parser.payload_space().size() > max_param_payload(kMaxFloats)) violated("frame", "payload space beyond the limit");
      if (!parser.has_frame()) continue;
      Frame f = parser.take();
      const std::size_t got = f.payload.size() + f.floats.size() * sizeof(float);
      if (got != f.header.payload_len) violated("frame", "frame size differs from its header");
      if (stranger && f.header.type != MsgType::Hello && f.header.type != MsgType::Heartbeat) violated("frame", "stranger got a non-hello frame through");
      decode_any(f);
      if (data[0] & 128) {
        parser.recycle(std::move(f.payload));
        parser.recycle(std::move(f.floats));
      }
      if (budget && budget->in_use() != parser.held_bytes()) violated("frame", "budget out of step with the parser");
    }
  }
  if (budget && budget->in_use() != 0) violated("frame", "budget not released when the parser went away");
  return 0;
}

int fuzz_hello(const std::uint8_t* d, std::size_t n) { return round_trip<Hello, decode_hello>("hello", d, n); }
int fuzz_hello_ack(const std::uint8_t* d, std::size_t n) { return round_trip<HelloAck, decode_hello_ack>("hello_ack", d, n); }
int fuzz_refuse(const std::uint8_t* d, std::size_t n) { return round_trip<Refuse, decode_refuse>("refuse", d, n); }
int fuzz_push(const std::uint8_t* d, std::size_t n) { return round_trip_floats<Push, decode_push, decode_push>("push", MsgType::Push, d, n); }
int fuzz_pull(const std::uint8_t* d, std::size_t n) { return round_trip<PullRequest, decode_pull>("pull", d, n); }
int fuzz_params(const std::uint8_t* d, std::size_t n) {
  return round_trip_floats<ParamsReply, decode_params, decode_params>("params", MsgType::Params, d, n);
}
int fuzz_cancel(const std::uint8_t* d, std::size_t n) { return round_trip<Cancel, decode_cancel>("cancel", d, n); }
int fuzz_heartbeat(const std::uint8_t* d, std::size_t n) { return round_trip<Heartbeat, decode_heartbeat>("heartbeat", d, n); }
int fuzz_stop(const std::uint8_t* d, std::size_t n) { return round_trip<Stop, decode_stop>("stop", d, n); }
int fuzz_bye(const std::uint8_t* d, std::size_t n) { return round_trip<Bye, decode_bye>("bye", d, n); }
int fuzz_error(const std::uint8_t* d, std::size_t n) { return round_trip<ErrorMsg, decode_error>("error", d, n); }
int fuzz_report(const std::uint8_t* d, std::size_t n) { return round_trip<WorkerReport, decode_report>("report", d, n); }

}  // namespace synclab::fuzz
