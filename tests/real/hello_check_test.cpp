// The PS's admission rule as a pure function: one test per refusal, the order in which
// they are judged, and the wrong-token throttle's delays.
#include <gtest/gtest.h>

#include "real/ps/hello_check.hpp"
#include "real/ps/token_throttle.hpp"

namespace synclab::real {
namespace {

ShardIdentity shard1() { return ShardIdentity{"right-token", 0xabcdef, "mlp", 1, 100, 250, 4}; }

Hello good_hello() {
  Hello h;
  h.model_fingerprint = 0xabcdef;
  h.model = "mlp";
  h.token = "right-token";
  h.role = PeerRole::Worker;
  h.worker = 3;
  h.shard = 1;
  h.range_begin = 100;
  h.range_end = 250;
  return h;
}

TEST(HelloCheck, AcceptsAMatchingWorkerAndObserver) {
  const auto v = check_hello(good_hello(), shard1());
  EXPECT_TRUE(v.token_ok);
  EXPECT_FALSE(v.refusal.has_value());
  Hello o = good_hello();
  o.role = PeerRole::Observer;
  o.worker = -1;  // observers carry no worker id
  EXPECT_FALSE(check_hello(o, shard1()).refusal.has_value());
}

TEST(HelloCheck, RefusesAnotherProtocolVersion) {
  Hello h = good_hello();
  h.protocol = kProtocolVersion + 1;
  const auto v = check_hello(h, shard1());
  ASSERT_TRUE(v.refusal);
  EXPECT_EQ(v.refusal->reason, RefuseReason::BadVersion);
  EXPECT_NE(v.refusal->detail.find(std::to_string(kProtocolVersion + 1)), std::string::npos) << v.refusal->detail;
  EXPECT_TRUE(v.token_ok);  // judged all the same
}

TEST(HelloCheck, RefusesAWrongTokenWithoutEchoingIt) {
  for (const char* token : {"wrong-token", "", "right-token-and-more", "right-toke"}) {
    Hello h = good_hello();
    h.token = token;
    const auto v = check_hello(h, shard1());
    EXPECT_FALSE(v.token_ok) << token;
    ASSERT_TRUE(v.refusal) << token;
    EXPECT_EQ(v.refusal->reason, RefuseReason::BadToken);
    EXPECT_EQ(v.refusal->detail.find("right-token"), std::string::npos) << v.refusal->detail;
  }
}

TEST(HelloCheck, RefusesAnotherModelNamingBoth) {
  Hello h = good_hello();
  h.model_fingerprint = 0x1234;
  h.model = "cnn";
  const auto v = check_hello(h, shard1());
  ASSERT_TRUE(v.refusal);
  EXPECT_EQ(v.refusal->reason, RefuseReason::BadModel);
  EXPECT_NE(v.refusal->detail.find("'cnn'"), std::string::npos) << v.refusal->detail;
  EXPECT_NE(v.refusal->detail.find("'mlp'"), std::string::npos) << v.refusal->detail;
}

TEST(HelloCheck, RefusesAnotherShardOrRange) {
  Hello wrong_shard = good_hello();
  wrong_shard.shard = 0;
  Hello wrong_begin = good_hello();
  wrong_begin.range_begin = 99;
  Hello wrong_end = good_hello();
  wrong_end.range_end = 251;
  for (const Hello& h : {wrong_shard, wrong_begin, wrong_end}) {
    const auto v = check_hello(h, shard1());
    ASSERT_TRUE(v.refusal);
    EXPECT_EQ(v.refusal->reason, RefuseReason::BadShard);
    EXPECT_NE(v.refusal->detail.find("this is shard 1 range [100, 250)"), std::string::npos) << v.refusal->detail;
  }
}

TEST(HelloCheck, RefusesAWorkerIdOutOfRange) {
  for (int id : {-1, 4, 1000}) {
    Hello h = good_hello();
    h.worker = id;
    const auto v = check_hello(h, shard1());
    ASSERT_TRUE(v.refusal) << id;
    EXPECT_EQ(v.refusal->reason, RefuseReason::BadWorker);
    EXPECT_NE(v.refusal->detail.find("not in [0, 4)"), std::string::npos) << v.refusal->detail;
  }
}

TEST(HelloCheck, TheFirstFailureInOrderIsTheRefusal) {
  Hello h = good_hello();
  h.worker = 9;
  h.shard = 7;
  h.model_fingerprint = 1;
  h.token = "guess";
  EXPECT_EQ(check_hello(h, shard1()).refusal->reason, RefuseReason::BadToken);
  h.token = "right-token";
  EXPECT_EQ(check_hello(h, shard1()).refusal->reason, RefuseReason::BadModel);
  h.model_fingerprint = 0xabcdef;
  EXPECT_EQ(check_hello(h, shard1()).refusal->reason, RefuseReason::BadShard);
  h.shard = 1;
  EXPECT_EQ(check_hello(h, shard1()).refusal->reason, RefuseReason::BadWorker);
  h.protocol = 0;
  EXPECT_EQ(check_hello(h, shard1()).refusal->reason, RefuseReason::BadVersion);
}

TEST(TokenThrottle, DelayDoublesPerFailureUpToTheCap) {
  EXPECT_EQ(TokenThrottle::delay(0), 0.0);
  EXPECT_EQ(TokenThrottle::delay(1), TokenThrottle::kFirstDelay);
  EXPECT_EQ(TokenThrottle::delay(3), 4 * TokenThrottle::kFirstDelay);
  EXPECT_EQ(TokenThrottle::delay(60), TokenThrottle::kMaxDelay);
}

TEST(TokenThrottle, WaitingHellosAreSpacedAndARightTokenClears) {
  using namespace std::chrono_literals;
  TokenThrottle t;
  const auto t0 = TokenThrottle::Clock::time_point{} + 1h;
  EXPECT_EQ(t.turn("10.0.0.1", t0), t0);  // no failures: judged at once
  t.done_waiting("10.0.0.1");
  t.note("10.0.0.1", false, t0);
  EXPECT_EQ(t.failures("10.0.0.1"), 1);
  // Two hellos arriving together after one failure: the first waits the first delay, the
  // second as if the first had failed too.
  const auto a = t.turn("10.0.0.1", t0);
  const auto b = t.turn("10.0.0.1", t0);
  EXPECT_EQ(a, t0 + 250ms);
  EXPECT_EQ(b, a + 500ms);
  EXPECT_EQ(t.turn("10.0.0.2", t0), t0);  // other addresses are not held up
  t.done_waiting("10.0.0.1");
  t.done_waiting("10.0.0.1");
  t.note("10.0.0.1", true, t0 + 1s);
  EXPECT_EQ(t.failures("10.0.0.1"), 0);
  EXPECT_EQ(t.turn("10.0.0.1", t0 + 1s), t0 + 1s);
}

TEST(TokenThrottle, TheTableStaysBounded) {
  TokenThrottle t;
  const auto t0 = TokenThrottle::Clock::time_point{} + std::chrono::hours(1);
  for (std::size_t i = 0; i <= TokenThrottle::kMaxAddresses + 10; ++i) t.note("a" + std::to_string(i), false, t0);
  EXPECT_LE(t.addresses(), TokenThrottle::kMaxAddresses);
}

}  // namespace
}  // namespace synclab::real
