// Fuzzing the frame parser and decoders inside the unit suite (gcc has no libFuzzer): random
// bytes and mutations of valid frames, fed in random chunk sizes, for many seeds. The parser
// must never crash, never read out of bounds and never accept a frame whose checksum fails.
#include <gtest/gtest.h>

#include "core/common/rng.hpp"
#include "real/protocol/frame.hpp"
#include "real/protocol/messages.hpp"

namespace synclab::real {
namespace {

constexpr std::size_t kFloats = 64;

// Decodes a frame with the decoder of its type; returns whether it decoded.
bool decode_any(Frame& f) {
  const auto& p = f.payload;
  switch (f.header.type) {
    case MsgType::Hello: return decode_hello(p).has_value();
    case MsgType::HelloAck: return decode_hello_ack(p).has_value();
    case MsgType::Refuse: return decode_refuse(p).has_value();
    case MsgType::Push: return decode_push(f, kFloats).has_value();
    case MsgType::PullRequest: return decode_pull(p).has_value();
    case MsgType::Params: return decode_params(f, kFloats).has_value();
    case MsgType::Cancel: return decode_cancel(p).has_value();
    case MsgType::Heartbeat: return decode_heartbeat(p).has_value();
    case MsgType::Stop: return decode_stop(p).has_value();
    case MsgType::Bye: return decode_bye(p).has_value();
    case MsgType::Error: return decode_error(p).has_value();
    case MsgType::Report: return decode_report(p).has_value();
  }
  return false;
}

struct Outcome {
  int frames = 0, failed = 0;
};

Outcome run_stream(const std::vector<std::uint8_t>& bytes, Rng& rng) {
  FrameParser parser(max_param_payload(kFloats));
  Outcome out;
  std::size_t pos = 0;
  while (pos < bytes.size() && !parser.failed()) {
    const std::size_t chunk = 1 + rng.below(std::min<std::size_t>(64, bytes.size() - pos));
    pos += parser.feed(std::span(bytes).subspan(pos, chunk));
    if (parser.has_frame()) {
      Frame f = parser.take();
      EXPECT_LE(f.payload.size() + f.floats.size() * sizeof(float), max_param_payload(kFloats));
      decode_any(f);
      ++out.frames;
    }
  }
  if (parser.failed()) {
    ++out.failed;
    EXPECT_FALSE(parser.error_text().empty());
  }
  return out;
}

std::vector<std::vector<std::uint8_t>> corpus() {
  Push push;
  push.worker = 1;
  push.values.assign(kFloats, 0.5f);
  ParamsReply params;
  params.values.assign(kFloats / 2, -1.f);
  Hello hello;
  hello.model = "mlp";
  hello.token = "t0k3n";
  return {encode(hello).flatten(), encode(push).flatten(), encode(params).flatten(), encode(Heartbeat{3}).flatten(),
          encode(Stop{"updates", 4}).flatten(), encode(WorkerReport{}).flatten(), encode(Refuse{}).flatten()};
}

TEST(ProtocolFuzz, RandomBytesAreRejected) {
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    Rng rng(seed);
    std::vector<std::uint8_t> bytes(1 + rng.below(512));
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng.next_u64());
    const Outcome o = run_stream(bytes, rng);
    // Random bytes cannot pass the magic and two checksums.
    EXPECT_EQ(o.frames, 0) << "seed " << seed;
  }
}

TEST(ProtocolFuzz, MutatedFramesNeverCrashOrPassCorrupted) {
  const auto seeds = corpus();
  int rejected = 0;
  for (std::uint64_t seed = 1; seed <= 5000; ++seed) {
    Rng rng(seed);
    auto bytes = seeds[rng.below(seeds.size())];
    const auto original = bytes;
    const int mutations = 1 + static_cast<int>(rng.below(4));
    for (int m = 0; m < mutations; ++m) {
      switch (rng.below(4)) {
        case 0: bytes[rng.below(bytes.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8)); break;
        case 1: bytes[rng.below(bytes.size())] = static_cast<std::uint8_t>(rng.next_u64()); break;
        case 2: bytes.resize(rng.below(bytes.size() + 1)); break;
        default: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(rng.below(bytes.size() + 1)), static_cast<std::uint8_t>(rng.next_u64())); break;
      }
      if (bytes.empty()) bytes.push_back(0);
    }
    const Outcome o = run_stream(bytes, rng);
    if (bytes != original && bytes.size() >= original.size()) {
      // Any change within a full-length frame is caught by a checksum or a field check.
      EXPECT_TRUE(o.failed == 1 || o.frames == 0 || bytes.size() > original.size()) << "seed " << seed;
    }
    rejected += o.failed;
  }
  EXPECT_GT(rejected, 2500);
}

TEST(ProtocolFuzz, DecodersSurviveArbitraryPayloads) {
  for (std::uint64_t seed = 1; seed <= 3000; ++seed) {
    Rng rng(seed);
    Frame f;
    f.header.type = static_cast<MsgType>(1 + rng.below(kMaxMsgType));
    f.payload.resize(rng.below(200));
    for (auto& b : f.payload) b = static_cast<std::uint8_t>(rng.next_u64());
    decode_any(f);  // must not crash or over-read (run under ASan in the fuzz build)
  }
  SUCCEED();
}

}  // namespace
}  // namespace synclab::real
