// Endpoint lists.
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "real/launch/cluster_spec.hpp"

namespace synclab::real {
namespace {

TEST(ClusterSpec, ParsesEndpoints) {
  auto e = parse_endpoints("--ps_hosts", "a:1,b.example:2222,[::1]:9");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[1].host, "b.example");
  EXPECT_EQ(e[1].port, 2222);
  EXPECT_EQ(e[2].host, "::1");
  EXPECT_THROW(parse_endpoint("--ps_hosts", "nohost"), ConfigError);
  EXPECT_THROW(parse_endpoint("--ps_hosts", "h:70000"), ConfigError);
}

}  // namespace
}  // namespace synclab::real
