// What a peer may send in its state, and the shared receive-buffer budget: a stranger's
// size claim is refused from the header alone, with nothing allocated or reserved.
#include <gtest/gtest.h>

#include <cstring>

#include "real/protocol/frame.hpp"
#include "real/protocol/messages.hpp"

namespace synclab::real {
namespace {

constexpr std::size_t kShardFloats = 3'300'000;  // a CNN shard: 13.2 MB per push

// A push header (valid checksums) whose length field claims `len` payload bytes.
std::vector<std::uint8_t> push_header_claiming(std::uint32_t len) {
  auto h = encode_header(MsgType::Push, 0, {});
  std::memcpy(h.data() + 8, &len, 4);
  const auto crc = crc32_of({std::span<const std::uint8_t>(h.data(), 16)});
  std::memcpy(h.data() + 16, &crc, 4);
  return {h.begin(), h.end()};
}

Hello some_hello() {
  Hello h;
  h.model = "cnn";
  h.token = std::string(32, 'a');
  h.worker = 3;
  return h;
}

TEST(FrameAdmission, AStrangersPushClaimIsRefusedFromTheHeaderWithNothingReserved) {
  auto budget = std::make_shared<ReceiveBudget>(std::size_t{1} << 30);
  FrameParser p(FrameAdmission::hello_only(), budget);
  const auto claim = push_header_claiming(static_cast<std::uint32_t>(max_param_payload(kShardFloats)));
  EXPECT_EQ(p.feed(claim), kHeaderSize);
  ASSERT_TRUE(p.failed());
  EXPECT_EQ(p.error(), FrameError::NotAdmitted);
  EXPECT_EQ(p.error_text(), "push frame not accepted before the hello");
  EXPECT_EQ(p.held_bytes(), 0u);
  EXPECT_EQ(budget->in_use(), 0u);
}

TEST(FrameAdmission, AHelloLargerThanAHelloIsRefusedBeforeAllocating) {
  FrameParser p(FrameAdmission::hello_only());
  auto h = encode_header(MsgType::Hello, 0, {});
  const std::uint32_t len = kMaxHelloPayload + 1;
  std::memcpy(h.data() + 8, &len, 4);
  const auto crc = crc32_of({std::span<const std::uint8_t>(h.data(), 16)});
  std::memcpy(h.data() + 16, &crc, 4);
  p.feed(h);
  ASSERT_TRUE(p.failed());
  EXPECT_EQ(p.error(), FrameError::TooLarge);
  EXPECT_NE(p.error_text().find("for hello before the hello, limit 1024"), std::string::npos) << p.error_text();
}

TEST(FrameAdmission, TheLargestHelloFitsAndAdmittingWidensTheLimits) {
  Hello h = some_hello();
  h.model = std::string(256, 'm');
  h.token = std::string(kMaxTokenLength, 't');
  const auto bytes = encode(h).flatten();
  EXPECT_LE(bytes.size(), kHeaderSize + kMaxHelloPayload);
  FrameParser p(FrameAdmission::hello_only());
  EXPECT_EQ(p.feed(bytes), bytes.size());
  ASSERT_TRUE(p.has_frame()) << p.error_text();
  auto f = p.take();
  ASSERT_TRUE(decode_hello(f.payload).has_value());
  // A longer token no longer decodes (it could not have fitted the frame cap anyway).
  h.token.push_back('t');
  const auto longer = encode(h).flatten();
  EXPECT_FALSE(decode_hello(std::span(longer).subspan(kHeaderSize)).has_value());
  p.admit(FrameAdmission::any(max_param_payload(1000)));
  Push push;
  push.worker = 3;
  push.values.assign(1000, 0.5f);
  const auto pb = encode(push).flatten();
  EXPECT_EQ(p.feed(pb), pb.size());
  EXPECT_TRUE(p.has_frame()) << p.error_text();
}

TEST(ReceiveBudget, SharedByParsersReservedBeforeAllocatingReleasedOnClose) {
  const std::size_t frame = max_param_payload(1000);
  auto budget = std::make_shared<ReceiveBudget>(frame + frame / 2);
  Push push;
  push.worker = 1;
  push.values.assign(1000, 1.0f);
  const auto bytes = encode(push).flatten();
  {
    FrameParser a(FrameAdmission::any(frame), budget);
    EXPECT_EQ(a.feed(std::span(bytes).first(kHeaderSize)), kHeaderSize);
    EXPECT_FALSE(a.failed());
    EXPECT_EQ(budget->in_use(), a.held_bytes());
    EXPECT_GE(a.held_bytes(), bytes.size() - kHeaderSize);
    // A second connection's frame does not fit beside the first one: refused, nothing reserved.
    FrameParser b(FrameAdmission::any(frame), budget);
    const auto held = budget->in_use();
    b.feed(std::span(bytes).first(kHeaderSize));
    ASSERT_TRUE(b.failed());
    EXPECT_EQ(b.error(), FrameError::OverBudget);
    EXPECT_NE(b.error_text().find("receive buffers full"), std::string::npos) << b.error_text();
    EXPECT_EQ(budget->in_use(), held);
    // The frame completes; the buffers it took leave the parser and the budget.
    a.feed(std::span(bytes).subspan(kHeaderSize));
    ASSERT_TRUE(a.has_frame()) << a.error_text();
    Frame f = a.take();
    EXPECT_EQ(a.held_bytes(), 0u);
    EXPECT_EQ(budget->in_use(), 0u);
    // Recycling brings them back under the budget.
    a.recycle(std::move(f.floats));
    EXPECT_EQ(budget->in_use(), a.held_bytes());
    EXPECT_GT(a.held_bytes(), 0u);
  }
  EXPECT_EQ(budget->in_use(), 0u);  // closing a connection releases what its parser held
}

TEST(ReceiveBudget, RefusesAReservationPastItsLimit) {
  ReceiveBudget b(100);
  EXPECT_TRUE(b.try_reserve(60));
  EXPECT_FALSE(b.try_reserve(41));
  EXPECT_TRUE(b.try_reserve(40));
  EXPECT_FALSE(b.try_reserve(1));
  b.release(100);
  EXPECT_EQ(b.in_use(), 0u);
  EXPECT_FALSE(b.try_reserve(101));
}

}  // namespace
}  // namespace synclab::real
