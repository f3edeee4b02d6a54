// FNV-1a against the published test vectors, and the length prefix of Fnv1a::str.
#include <cstdint>

#include <gtest/gtest.h>

#include "core/common/fnv1a.hpp"

namespace synclab {
namespace {

TEST(Fnv1a, PublishedVectors) {
  // The 64-bit FNV-1a values of the reference implementation's test suite.
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a("foobar"), 0x85944171f73967e8ULL);
}

TEST(Fnv1a, IncrementalEqualsWhole) {
  Fnv1a f;
  f.bytes("foo", 3);
  f.bytes("bar", 3);
  EXPECT_EQ(f.value(), fnv1a("foobar"));
}

TEST(Fnv1a, StringsAreLengthPrefixed) {
  Fnv1a a, b;
  a.str("ab");
  a.str("c");
  b.str("a");
  b.str("bc");
  EXPECT_NE(a.value(), b.value());
}

}  // namespace
}  // namespace synclab
