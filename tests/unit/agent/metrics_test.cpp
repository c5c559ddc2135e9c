#include "agent/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_test_support.h"
#include "ipam/store/memory_store.h"

namespace ipfence::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, AllocationsByPoolAndResult) {
  Metrics metrics;
  metrics.observe_allocation("test-ippool", "ok", std::chrono::microseconds(80));
  metrics.observe_allocation("test-ippool", "exhausted", std::chrono::microseconds(40));
  metrics.observe_allocation("", "invalid_argument", std::chrono::microseconds(1));
  const std::string text = metrics.render();
  EXPECT_THAT(text,
              HasSubstr("ipfence_ipam_allocations_total{pool=\"test-ippool\",result=\"ok\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("ipfence_ipam_allocations_total{pool=\"test-ippool\",result=\"exhausted\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("ipfence_ipam_allocations_total{pool=\"\",result=\"invalid_argument\"} 1\n"));
  // Sub-millisecond buckets: 40 us and 1 us fall in the first, 80 us in the second.
  EXPECT_THAT(text, HasSubstr("ipfence_ipam_allocation_duration_seconds_bucket{le=\"5e-05\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("ipfence_ipam_allocation_duration_seconds_bucket{le=\"0.0001\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_ipam_allocation_duration_seconds_bucket{le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_ipam_allocation_duration_seconds_count 3\n"));
}

TEST(MetricsTest, ReleasesBuildInfoAndConflistErrors) {
  Metrics metrics;
  metrics.count_release("test-ippool");
  metrics.count_release("test-ippool");
  metrics.count_conflist_error();
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("ipfence_ipam_releases_total{pool=\"test-ippool\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_cni_conflist_errors_total 1\n"));
  EXPECT_THAT(text, HasSubstr(std::string("ipfence_build_info{git=\"") + IPFENCE_GIT +
                              "\",version=\"" + IPFENCE_VERSION + "\"} 1\n"));
}

TEST(MetricsTest, PoolGaugesFollowTheViewAndDeletedPoolsDisappear) {
  store::MemoryStore store;
  testing::apply_yaml(store, testing::kSeedReserved);
  testing::apply_yaml(store, testing::kSeedPool);
  ipam::ObjectService objects(store);
  auto state = objects.load_state();
  ASSERT_TRUE(state.ok()) << state.error().message;

  Metrics metrics;
  metrics.refresh_pools(*state);
  std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("ipfence_pool_ips{pool=\"test-ippool\",state=\"total\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_pool_ips{pool=\"test-ippool\",state=\"allocated\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_pool_ips{pool=\"test-ippool\",state=\"reserved\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_pool_ips{pool=\"test-ippool\",state=\"available\"} 1\n"));

  auto removed = objects.remove(ipam::Kind::ippool, "", "test-ippool");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  auto after = objects.load_state();
  ASSERT_TRUE(after.ok());
  metrics.refresh_pools(*after);
  EXPECT_THAT(metrics.render(), Not(HasSubstr("pool=\"test-ippool\",state=")));
}

TEST(MetricsTest, ServesOverHttpOnAFreePort) {
  Metrics metrics;
  metrics.count_release("p");
  auto server = MetricsServer::start("127.0.0.1:0", metrics.shared_registry());
  ASSERT_TRUE(server.ok()) << server.error().message;
  const std::string address = (*server)->address();
  EXPECT_THAT(address, ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(address, "127.0.0.1:0");
  testing::Reply reply = testing::http("", "GET", "/metrics", "", "http://" + address);
  EXPECT_EQ(reply.status, 200);
  EXPECT_THAT(reply.body, HasSubstr("ipfence_ipam_releases_total{pool=\"p\"} 1"));
}

TEST(MetricsTest, OnlyGetMetricsIsServed) {
  Metrics metrics;
  auto server = MetricsServer::start("127.0.0.1:0", metrics.shared_registry());
  ASSERT_TRUE(server.ok()) << server.error().message;
  const std::string base = "http://" + (*server)->address();
  EXPECT_EQ(testing::http("", "GET", "/", "", base).status, 404);
  EXPECT_EQ(testing::http("", "POST", "/metrics", "{}", base).status, 405);
}

TEST(MetricsTest, HostsMustBeNumericAddresses) {
  Metrics metrics;
  auto server = MetricsServer::start("localhost:0", metrics.shared_registry());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, ErrorCode::io);
  EXPECT_THAT(server.error().message,
              ::testing::StartsWith("metrics-addr localhost:0: cannot listen (\"localhost\" is not "
                                    "a numeric IPv4 or IPv6 address"));
}

TEST(MetricsTest, APortInUseIsAnError) {
  Metrics metrics;
  auto first = MetricsServer::start("127.0.0.1:0", metrics.shared_registry());
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::start((*first)->address(), metrics.shared_registry());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.error().message, HasSubstr("metrics-addr " + (*first)->address()));
}

}  // namespace
}  // namespace ipfence::agent
