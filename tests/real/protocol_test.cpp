// Frame codec and message encodings: round trips, chunked feeding, every rejection path.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include <zlib.h>

#include "core/common/rng.hpp"
#include "real/protocol/crc32.hpp"
#include "real/protocol/frame.hpp"
#include "real/protocol/messages.hpp"

namespace synclab::real {
namespace {

constexpr std::size_t kLimit = max_param_payload(1000);

Frame parse_all(FrameParser& p, const std::vector<std::uint8_t>& bytes) {
  std::size_t used = p.feed(bytes);
  EXPECT_TRUE(p.has_frame()) << p.error_text();
  EXPECT_EQ(used, bytes.size());
  return p.take();
}

TEST(Crc32, MatchesZlibInPiecesAndWhole) {
  Rng rng(5);
  std::vector<std::uint8_t> data(100'003);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng.next_u64());
  const auto zlib = static_cast<std::uint32_t>(crc32_z(crc32_z(0, nullptr, 0), data.data(), data.size()));
  EXPECT_EQ(crc32_update(0, data.data(), data.size()), zlib);
  std::uint32_t pieces = 0;
  for (std::size_t at = 0; at < data.size();) {
    const std::size_t n = std::min<std::size_t>(1 + rng.below(5000), data.size() - at);
    pieces = crc32_update(pieces, data.data() + at, n);
    at += n;
  }
  EXPECT_EQ(pieces, zlib);
  EXPECT_EQ(crc32_update(zlib, nullptr, 0), zlib);
}

TEST(Frame, RoundTripWholeBuffer) {
  const std::vector<std::uint8_t> payload = {1, 2, 3, 4, 5};
  const auto bytes = encode_frame(MsgType::Heartbeat, payload, 7);
  ASSERT_EQ(bytes.size(), kHeaderSize + payload.size());
  FrameParser p(kLimit);
  const Frame f = parse_all(p, bytes);
  EXPECT_EQ(f.header.type, MsgType::Heartbeat);
  EXPECT_EQ(f.header.flags, 7);
  EXPECT_EQ(f.payload, payload);
}

TEST(Frame, ByteByByteAndBackToBack) {
  Push push;
  push.worker = 3;
  push.values = {1.f, -2.f, 3.5f};
  auto a = encode(push).flatten();
  const auto b = encode(Heartbeat{42}).flatten();
  a.insert(a.end(), b.begin(), b.end());
  FrameParser p(kLimit);
  std::vector<Frame> frames;
  for (std::uint8_t byte : a) {
    EXPECT_EQ(p.feed(std::span(&byte, 1)), 1u);
    if (p.has_frame()) frames.push_back(p.take());
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[0].split);
  auto d = decode_push(frames[0], 1000);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->worker, 3);
  EXPECT_EQ(d->values, push.values);
  EXPECT_EQ(decode_heartbeat(frames[1].payload)->seq, 42u);
}

TEST(Frame, FeedStopsAtFrameBoundary) {
  auto a = encode(Heartbeat{1}).flatten();
  const auto b = encode(Heartbeat{2}).flatten();
  a.insert(a.end(), b.begin(), b.end());
  FrameParser p(kLimit);
  const std::size_t used = p.feed(a);
  EXPECT_EQ(used, b.size());
  ASSERT_TRUE(p.has_frame());
  EXPECT_EQ(decode_heartbeat(p.take().payload)->seq, 1u);
  EXPECT_EQ(p.feed(std::span(a).subspan(used)), b.size());
  EXPECT_EQ(decode_heartbeat(p.take().payload)->seq, 2u);
}

TEST(Frame, DirectPayloadReads) {
  ParamsReply r;
  r.version = 9;
  r.values.assign(500, 0.25f);
  const auto bytes = encode(r).flatten();
  FrameParser p(kLimit);
  EXPECT_EQ(p.feed(std::span(bytes).first(kHeaderSize)), kHeaderSize);
  // Metadata first, then the float array, each received straight into place.
  std::size_t at = kHeaderSize;
  while (!p.has_frame() && !p.failed()) {
    auto space = p.payload_space();
    ASSERT_FALSE(space.empty());
    std::memcpy(space.data(), bytes.data() + at, space.size());
    at += space.size();
    p.commit(space.size());
  }
  EXPECT_EQ(at, bytes.size());
  ASSERT_TRUE(p.has_frame());
  Frame f = p.take();
  auto d = decode_params(f, 1000);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->version, 9u);
  EXPECT_EQ(d->values, r.values);
}

TEST(Frame, KnownCrcParamsEqualPlainEncoding) {
  ParamsReply r;
  r.version = 4;
  r.tau_hint = 3;
  r.values.assign(300, 0.125f);
  r.values[7] = -9.f;
  const auto plain = encode(r).flatten();
  const auto cached = encode_params(ParamsReply{4, 3, {}}, r.values, floats_crc(r.values)).flatten();
  EXPECT_EQ(plain, cached);
}

TEST(Frame, RejectsBadMagicAfterFourBytes) {
  const std::uint8_t http[] = {'G', 'E', 'T', ' ', '/', ' '};
  FrameParser p(kLimit);
  EXPECT_EQ(p.feed(http), 4u);
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.error(), FrameError::BadMagic);
}

TEST(Frame, RejectsCorruptHeader) {
  auto bytes = encode(Heartbeat{1}).flatten();
  bytes[7] ^= 0x10;  // flags, covered by the header checksum
  FrameParser p(kLimit);
  p.feed(bytes);
  EXPECT_EQ(p.error(), FrameError::BadHeaderCrc);
}

TEST(Frame, RejectsCorruptPayload) {
  auto bytes = encode(Heartbeat{1}).flatten();
  bytes.back() ^= 1;
  FrameParser p(kLimit);
  p.feed(bytes);
  EXPECT_EQ(p.error(), FrameError::BadPayloadCrc);
}

// Rewrites header fields and re-seals the header checksum, as a hostile peer would.
std::vector<std::uint8_t> forge(MsgType type, std::uint16_t version, std::uint32_t len, std::uint8_t raw_type = 0) {
  auto h = encode_header(type, 0, {});
  std::memcpy(h.data() + 4, &version, 2);
  if (raw_type) h[6] = raw_type;
  std::memcpy(h.data() + 8, &len, 4);
  const auto crc = crc32_of({std::span<const std::uint8_t>(h.data(), 16)});
  std::memcpy(h.data() + 16, &crc, 4);
  return {h.begin(), h.end()};
}

TEST(Frame, RejectsFourGigabyteClaimWithoutAllocating) {
  FrameParser p(kLimit);
  p.feed(forge(MsgType::Push, kProtocolVersion, std::numeric_limits<std::uint32_t>::max()));
  EXPECT_EQ(p.error(), FrameError::TooLarge);
  EXPECT_NE(p.error_text().find("4294967295"), std::string::npos);
  EXPECT_TRUE(p.payload_space().empty());
}

TEST(Frame, ControlMessagesHaveASmallCap) {
  FrameParser p(max_param_payload(10'000'000));
  p.feed(forge(MsgType::Hello, kProtocolVersion, kMaxControlPayload + 1));
  EXPECT_EQ(p.error(), FrameError::TooLarge);
}

TEST(Frame, RejectsOtherVersionAndReportsIt) {
  FrameParser p(kLimit);
  p.feed(forge(MsgType::Hello, 77, 0));
  EXPECT_EQ(p.error(), FrameError::BadVersion);
  EXPECT_EQ(p.peer_version(), 77);
}

TEST(Frame, RejectsUnknownType) {
  FrameParser p(kLimit);
  p.feed(forge(MsgType::Hello, kProtocolVersion, 0, 200));
  EXPECT_EQ(p.error(), FrameError::UnknownType);
}

TEST(Frame, RecycledBufferIsReused) {
  ParamsReply r;
  r.values.assign(1000, 1.f);
  const auto bytes = encode(r).flatten();
  FrameParser p(kLimit);
  p.feed(bytes);
  Frame f = p.take();
  auto d = decode_params(f, 1000);
  ASSERT_TRUE(d);
  const auto* data = d->values.data();
  p.recycle(std::move(d->values));
  p.feed(bytes);
  ASSERT_TRUE(p.has_frame());
  EXPECT_EQ(p.take().floats.data(), data);
}

TEST(Frame, FixedMetaSizesMatchEncoders) {
  Push push;
  EXPECT_EQ(encode(push).meta.size(), fixed_meta_size(MsgType::Push));
  EXPECT_EQ(encode(ParamsReply{}).meta.size(), fixed_meta_size(MsgType::Params));
}

TEST(Frame, SplitFrameWithWrongCountIsRejected) {
  Push push;
  push.values = {1.f, 2.f};
  auto e = encode(push);
  e.meta[e.meta.size() - 4] = 3;  // count says 3, two floats follow
  e.header = encode_header(MsgType::Push, 0, {e.meta, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(push.values.data()), 8)});
  FrameParser p(kLimit);
  p.feed(e.flatten());
  ASSERT_TRUE(p.has_frame());
  Frame f = p.take();
  EXPECT_FALSE(decode_push(f, 10));
}

std::vector<std::uint8_t> payload_of(const Encoded& e) {
  auto all = e.flatten();
  return {all.begin() + kHeaderSize, all.end()};
}

TEST(Messages, HelloRoundTrip) {
  Hello h;
  h.model_fingerprint = 0x1234567890abcdefULL;
  h.model = "cnn";
  h.token = "secret";
  h.worker = 5;
  h.shard = 1;
  h.range_begin = 10;
  h.range_end = 20;
  h.incarnation = 2;
  FrameParser p(kLimit);
  auto f = parse_all(p, encode(h).flatten());
  auto d = decode_hello(f.payload);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->model_fingerprint, h.model_fingerprint);
  EXPECT_EQ(d->model, "cnn");
  EXPECT_EQ(d->token, "secret");
  EXPECT_EQ(d->worker, 5);
  EXPECT_EQ(d->range_end, 20u);
  EXPECT_EQ(d->incarnation, 2u);
}

TEST(Messages, OtherRoundTrips) {
  HelloAck a{2, 3, 77, 8, "ssp", 1.5};
  auto da = decode_hello_ack(payload_of(encode(a)));
  ASSERT_TRUE(da);
  EXPECT_EQ(da->policy, "ssp");
  EXPECT_EQ(da->shards, 3u);
  EXPECT_EQ(da->version, 77u);
  EXPECT_EQ(da->run_time, 1.5);
  auto dr = decode_refuse(payload_of(encode(Refuse{RefuseReason::BadModel, "mlp vs cnn"})));
  ASSERT_TRUE(dr);
  EXPECT_EQ(dr->reason, RefuseReason::BadModel);
  auto ds = decode_stop(payload_of(encode(Stop{"updates", 100})));
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->version, 100u);
  WorkerReport rep;
  rep.worker = 1;
  rep.compute_s = 2.5;
  rep.device = "cpu";
  auto dp = decode_report(payload_of(encode(rep)));
  ASSERT_TRUE(dp);
  EXPECT_EQ(dp->compute_s, 2.5);
  EXPECT_EQ(dp->device, "cpu");
  auto dl = decode_pull(payload_of(encode(PullRequest{1, 2})));
  ASSERT_TRUE(dl);
  EXPECT_EQ(dl->worker, 1);
  EXPECT_EQ(dl->clock, 2u);
}

TEST(Messages, PushCarriesThePoliciesPayloadKind) {
  Push delta;
  delta.kind = PayloadKind::ModelDelta;
  delta.values = {1.f};
  auto payload = payload_of(encode(delta));
  auto d = decode_push(payload, 1);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, PayloadKind::ModelDelta);
  // The kind byte follows worker (4), base version (8), clock (8) and loss (4): 0 is a
  // gradient, 1 a model delta, anything else is no push.
  constexpr std::size_t kKindAt = 24;
  ASSERT_EQ(payload[kKindAt], 1);
  payload[kKindAt] = 0;
  ASSERT_TRUE(decode_push(payload, 1));
  EXPECT_EQ(decode_push(payload, 1)->kind, PayloadKind::Gradient);
  payload[kKindAt] = 2;
  EXPECT_FALSE(decode_push(payload, 1));
}

TEST(Messages, RefuseReasonsOutsideTheProtocolAreRejected) {
  auto payload = payload_of(encode(Refuse{RefuseReason::BadWorker, "x"}));
  EXPECT_TRUE(decode_refuse(payload));
  payload[0] = 6;
  EXPECT_FALSE(decode_refuse(payload));
  payload[0] = 0;
  EXPECT_FALSE(decode_refuse(payload));
}

TEST(Messages, RejectTruncatedTrailingAndOversized) {
  Push push;
  push.values = {1.f, 2.f};
  auto payload = encode(push).flatten();
  payload.erase(payload.begin(), payload.begin() + kHeaderSize);
  EXPECT_TRUE(decode_push(payload, 2));
  EXPECT_FALSE(decode_push(payload, 1));  // more floats than the shard holds
  auto longer = payload;
  longer.push_back(0);
  EXPECT_FALSE(decode_push(longer, 2));
  payload.pop_back();
  EXPECT_FALSE(decode_push(payload, 2));
  // A count field claiming a billion floats in a tiny payload decodes to nothing.
  std::vector<std::uint8_t> lie = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x3f};
  EXPECT_FALSE(decode_params(lie, std::numeric_limits<std::size_t>::max()));
}

}  // namespace
}  // namespace synclab::real
