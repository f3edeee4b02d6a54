// Job tokens: what counts as 128 bits, and the one-line refusal with a hint.
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "real/launch/job_options.hpp"

namespace synclab::real {
namespace {

std::string refusal(const std::string& token) {
  try {
    check_token_strength(token, "SYNCLAB_TOKEN");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(JobToken, GeneratedTokensAre128BitsOfHex) {
  const auto a = generate_token(), b = generate_token();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(refusal(a), "");
}

TEST(JobToken, ShortOrPatternedTokensAreRefusedWithAHint) {
  for (const std::string weak : {"x", "ab", "secret", "test-token", "3f9c1e7a5b2d4c6e8a0f1b3d5c7e9a2",  // 31 hex
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababababababababababababab",
                                 "q8Zr2LwX5nT0kV7pY3mB1"}) {                                                  // 21 base64
    const auto why = refusal(weak);
    EXPECT_NE(why.find("SYNCLAB_TOKEN: job token too weak"), std::string::npos) << weak << ": " << why;
    EXPECT_NE(why.find("openssl rand -hex 16"), std::string::npos) << why;
  }
}

TEST(JobToken, ThirtyTwoHexOrTwentyTwoBase64CharactersAreEnough) {
  EXPECT_EQ(refusal("3f9c1e7a5b2d4c6e8a0f1b3d5c7e9a2b"), "");
  EXPECT_EQ(refusal("q8Zr2LwX5nT0kV7pY3mB1c"), "");
  EXPECT_EQ(refusal("q8Zr2LwX5nT0kV7pY3mB1c=="), "");  // padding adds nothing, takes nothing
  EXPECT_DOUBLE_EQ(token_entropy_bits("3f9c1e7a5b2d4c6e8a0f1b3d5c7e9a2b"), 128.0);
  EXPECT_DOUBLE_EQ(token_entropy_bits("q8Zr2LwX5nT0kV7pY3mB1c=="), 132.0);
  EXPECT_GT(token_entropy_bits("q8Zr!LwX5nT0kV7pY3m~"), 128.0);  // 20 printable characters
}

TEST(JobToken, OverlongTokensAreRefused) {
  const auto why = refusal(std::string(600, 'a') + "0123456789");
  EXPECT_NE(why.find("longer than 512"), std::string::npos) << why;
}

}  // namespace
}  // namespace synclab::real
