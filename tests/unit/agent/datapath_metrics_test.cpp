// The guard's Prometheus series (agent/datapath_metrics.h): the BPF counters only grow, and
// Prometheus counters can only be incremented, so each refresh adds the growth.
#include "agent/datapath_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace ipfence::agent {
namespace {

using datapath::Reason;
using datapath::Verdict;
using ::testing::HasSubstr;
using ::testing::Not;

std::string render(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(DatapathMetricsTest, CountersGrowByWhatTheGuardCountedSinceTheLastRefresh) {
  prometheus::Registry registry;
  DatapathMetrics metrics(registry);
  metrics.update({{"ens192", Reason::reserved, Verdict::dropped, 10},
                  {"ens192", Reason::spoofed, Verdict::monitored, 2},
                  {"ens192", Reason::reserved_in_use, Verdict::passed, 7}},
                 3);
  std::string text = render(registry);
  EXPECT_THAT(text, HasSubstr("ipfence_egress_dropped_packets_total{master=\"ens192\","
                              "reason=\"reserved\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_egress_monitored_packets_total{master=\"ens192\","
                              "reason=\"spoofed\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("reserved_in_use")));  // passed frames are no egress drops
  EXPECT_THAT(text, HasSubstr("ipfence_guard_leases 3\n"));

  metrics.update({{"ens192", Reason::reserved, Verdict::dropped, 15}}, 2);
  text = render(registry);
  EXPECT_THAT(text, HasSubstr("ipfence_egress_dropped_packets_total{master=\"ens192\","
                              "reason=\"reserved\"} 15\n"));
  EXPECT_THAT(text, HasSubstr("ipfence_guard_leases 2\n"));

  // The pinned map was re-created: its count starts again from zero, ours goes on.
  metrics.update({{"ens192", Reason::reserved, Verdict::dropped, 4}}, 2);
  EXPECT_THAT(render(registry), HasSubstr("ipfence_egress_dropped_packets_total{master=\"ens192\","
                                          "reason=\"reserved\"} 19\n"));
}

}  // namespace
}  // namespace ipfence::agent
