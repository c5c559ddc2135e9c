// The active conflict probe end to end (issue 5): the real agent sends ARP probes / DAD
// solicitations out of its macvlan master before an ADD hands out an address; the outside
// host's own kernel, which has that address configured but never announced it (so the
// passive watch knows nothing), answers; the ADD through the real macvlan plugin still
// succeeds with the next address, and the answered one is quarantined.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <memory>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

class ConflictProbeE2eTest : public ::testing::Test {
 protected:
  void start(const std::string& tag, std::vector<std::string> agent_args) {
    bpffs_ = std::make_unique<BpffsMount>();
    AgentNodeOptions options;
    options.extra_agent_args = {bpffs_->agent_flag()};
    options.extra_agent_args.insert(options.extra_agent_args.end(), agent_args.begin(),
                                    agent_args.end());
    node_ = std::make_unique<AgentNode>(unique_name(tag), options);
    master_ = node_->topology().master();
    node_->apply(seed_multus_config(master_));
    runtime_ = std::make_unique<CniRuntime>(node_->runtime("macvlan-" + master_));
  }

  // The watcher must be on the master, and the pool in its maps, before anything is probed.
  void wait_for_watch() {
    ASSERT_TRUE(wait_until(
        [&] {
          return node_->agent().log().find("conflict watch: watching") != std::string::npos &&
                 get_guards(*node_).value("poolPrefixes", 0) > 0;
        },
        std::chrono::seconds(5)))
        << node_->agent().log();
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << "agent log:\n" << node_->agent().log();
    runtime_.reset();
    node_.reset();
    bpffs_.reset();
  }

  std::string add_pod(const std::string& name, const std::string& pools_annotation) {
    const Netns& ns = node_->topology().add_pod(name);
    CniCall call = pod_attachment(ns, name, "test-app-" + name);
    call.cni_args = {{"ipam.spidernet.io/ippool", pools_annotation}};
    CniOutcome added = runtime_->add(call);
    if (!added.ok()) throw std::runtime_error("ADD " + name + ": " + added.output.dump());
    return without_prefix(result_address(added));
  }

  double probes(const std::string& pool, const std::string& result) {
    return metric_value(agent_metrics(*node_), "ipfence_conflict_probes_total",
                        {{"pool", pool}, {"result", result}})
        .value_or(0);
  }

  std::unique_ptr<BpffsMount> bpffs_;
  std::unique_ptr<AgentNode> node_;
  std::unique_ptr<CniRuntime> runtime_;
  std::string master_;
};

TEST_F(ConflictProbeE2eTest, AnIpv4AddressAnOutsideHostAnswersForIsSkippedAndQuarantined) {
  start("cprobe4",
        {"--conflict-probe", "--conflict-probe-count=2", "--conflict-probe-timeout-ms=200"});
  node_->apply(ippool_yaml("test-ippool", "10.6.0.0/16", {"10.6.168.131-10.6.168.140"}));
  wait_for_watch();
  // The outside host has .131, the first candidate, and has said nothing about it.
  node_->topology().outside().sh("ip addr add 10.6.168.131/16 dev wire0");
  ASSERT_EQ(node_->ctl({"get", "conflicts"}).err, "No conflicts found.\n");

  EXPECT_EQ(add_pod("a", R"({"ipv4": ["test-ippool"]})"), "10.6.168.132");
  EXPECT_EQ(probes("test-ippool", "answered"), 1.0) << agent_metrics(*node_);
  EXPECT_EQ(probes("test-ippool", "clear"), 1.0);
  EXPECT_THAT(node_->agent().log(),
              HasSubstr("conflict probe: 10.6.168.131 (pool test-ippool) is used by a host "
                        "outside the cluster (MAC " +
                        format_mac(link_mac(node_->topology().outside(), "wire0")) +
                        ", answered on " + master_ + ")"));
  // The answer is filed as a squatter and quarantines the address.
  ASSERT_TRUE(wait_until(
      [&] {
        return metric_value(agent_metrics(*node_), "ipfence_pool_ips",
                            {{"pool", "test-ippool"}, {"state", "quarantined"}}) == 1.0;
      },
      milliseconds(3000)))
      << agent_metrics(*node_);
  ProcessResult listed = node_->ctl({"get", "conflicts"});
  EXPECT_THAT(listed.out, HasSubstr("10.6.168.131"));
  EXPECT_THAT(listed.out, HasSubstr("squatter (quarantined)"));

  // The next ADD neither gets nor probes the quarantined address.
  EXPECT_EQ(add_pod("b", R"({"ipv4": ["test-ippool"]})"), "10.6.168.133");
  EXPECT_EQ(probes("test-ippool", "answered"), 1.0);
  EXPECT_EQ(probes("test-ippool", "clear"), 2.0);
}

TEST_F(ConflictProbeE2eTest, AnIpv6AddressIsProbedWithDadWhereThePoolAsksForIt) {
  // The agent-wide probe stays off: the pool's annotation turns it on.
  start("cprobe6", {});
  node_->apply(R"(apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: v6-pool
  annotations:
    ipfence.io/conflict-probe: '{"enabled": true, "count": 2, "timeoutMs": 200}'
spec:
  subnet: fd00:6::/64
  ips:
  - fd00:6::10-fd00:6::1f
)");
  wait_for_watch();
  node_->topology().outside().sh("ip -6 addr add fd00:6::10/64 dev wire0 nodad");

  EXPECT_EQ(add_pod("a", R"({"ipv6": ["v6-pool"]})"), "fd00:6::11");
  EXPECT_EQ(probes("v6-pool", "answered"), 1.0) << agent_metrics(*node_);
  EXPECT_EQ(probes("v6-pool", "clear"), 1.0);
  EXPECT_THAT(node_->agent().log(), HasSubstr("conflict probe: fd00:6::10 (pool v6-pool)"));
}

TEST_F(ConflictProbeE2eTest, WithoutTheProbeNothingIsSentAndTheSilentHostsAddressGoesOut) {
  // The baseline the probe exists for: the passive watch alone cannot know a silent host.
  start("cprobeoff", {});
  node_->apply(ippool_yaml("test-ippool", "10.6.0.0/16", {"10.6.168.131-10.6.168.140"}));
  wait_for_watch();
  node_->topology().outside().sh("ip addr add 10.6.168.131/16 dev wire0");
  EXPECT_EQ(add_pod("a", R"({"ipv4": ["test-ippool"]})"), "10.6.168.131");
  EXPECT_EQ(probes("test-ippool", "clear") + probes("test-ippool", "answered"), 0.0);
}

}  // namespace
}  // namespace ipfence::e2e
