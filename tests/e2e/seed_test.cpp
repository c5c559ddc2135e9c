// The seed walk-through (shared/seed/reserved-ip.md) end to end: ipfencectl applies the
// seed's manifests, the agent writes the macvlan conflist, and pods (network namespaces) get
// their addresses through the real macvlan plugin calling the ipfence IPAM plugin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "tests/e2e/support/agent_node.h"

namespace ipfence::e2e {
namespace {

using ::testing::HasSubstr;

CniCall pod_call(const Netns& pod, const std::string& container, const std::string& name) {
  CniCall call;
  call.container_id = container;
  call.netns = pod.path();
  call.ifname = "eth0";
  call.args = {{"K8S_POD_NAMESPACE", "default"},
               {"K8S_POD_NAME", name},
               {"K8S_POD_UID", "uid-" + name},
               {"K8S_POD_INFRA_CONTAINER_ID", container}};
  call.cni_args = {{"ipam.spidernet.io/ippool", "{\n  \"ipv4\": [\"test-ippool\"]\n}"}};
  return call;
}

std::string first_ip(const CniOutcome& outcome) {
  return outcome.output.at("ips").at(0).at("address").get<std::string>();
}

TEST(SeedTest, ReservedIpWalkThroughWithRealMacvlan) {
  AgentNode node(unique_name("seed"));
  const std::string master = node.topology().master();

  // kubectl apply of the three seed objects.
  EXPECT_EQ(node.apply(seed_multus_config(master)),
            "spidermultusconfig.spiderpool.spidernet.io/macvlan-" + master + " created\n");
  EXPECT_EQ(node.apply(kSeedReservedYaml),
            "spiderreservedip.spiderpool.spidernet.io/test-reservedip created\n");
  EXPECT_EQ(node.apply(kSeedPoolYaml),
            "spiderippool.spiderpool.spidernet.io/test-ippool created\n");

  // The Deployment's annotation ipam.spidernet.io/ippool: {"ipv4": ["test-ippool"]}, handed
  // over in args.cni as a runtime without the Kubernetes API does.
  CniRuntime runtime = node.runtime("macvlan-" + master);

  const Netns& pod1 = node.topology().add_pod("dv8xz");
  const Netns& pod2 = node.topology().add_pod("lpjgs");
  CniOutcome first = runtime.add(pod_call(pod1, "dv8xz", "test-app-67dd9f645-dv8xz"));
  ASSERT_TRUE(first.ok()) << first.output.dump() << first.stderr_text;
  EXPECT_EQ(first_ip(first), "10.6.168.133/16");
  EXPECT_THAT(pod1.sh("ip -4 addr show eth0"), HasSubstr("10.6.168.133/16"));
  // The pod reaches the outside host over the macvlan master from its own address.
  EXPECT_NO_THROW(pod1.sh("ping -c1 -W2 10.6.0.1 >/dev/null"));

  CniOutcome second = runtime.add(pod_call(pod2, "lpjgs", "test-app-67dd9f645-lpjgs"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), 103);
  EXPECT_EQ(second.msg(),
            "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)");
  // The runtime tears down after the failed ADD: nothing half-made is left in the pod.
  EXPECT_NE(pod2.sh("ip link show eth0 2>&1 || true").find("does not exist"), std::string::npos);

  // kubectl patch: reserve .133 too while the pod holds it. It keeps running.
  ProcessResult patched =
      node.ctl({"patch", "spiderreservedip", "test-reservedip", "--type", "merge", "-p",
                R"({"spec":{"ips":["10.6.168.131-10.6.168.133"]}})"});
  ASSERT_EQ(patched.exit_code, 0) << patched.err;
  EXPECT_EQ(patched.out, "spiderreservedip.spiderpool.spidernet.io/test-reservedip patched\n");
  EXPECT_THAT(patched.err,
              HasSubstr("10.6.168.133 is allocated to pod default/test-app-67dd9f645-dv8xz"));
  EXPECT_TRUE(runtime.check(pod_call(pod1, "dv8xz", "test-app-67dd9f645-dv8xz")).ok());

  // kubectl delete po: the replacement cannot start.
  ASSERT_TRUE(runtime.del(pod_call(pod1, "dv8xz", "test-app-67dd9f645-dv8xz")).ok());
  const Netns& pod3 = node.topology().add_pod("fvx4m");
  CniOutcome replaced = runtime.add(pod_call(pod3, "fvx4m", "test-app-67dd9f645-fvx4m"));
  ASSERT_FALSE(replaced.ok());
  EXPECT_EQ(replaced.code(), 103);
  EXPECT_EQ(replaced.msg(), "IPPool test-ippool: all IPs have been exhausted (3 IPs: 3 reserved)");

  // kubectl delete sr: both pods start.
  ProcessResult deleted = node.ctl({"delete", "sr", "test-reservedip"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, "spiderreservedip.spiderpool.spidernet.io \"test-reservedip\" deleted\n");
  CniOutcome a = runtime.add(pod_call(pod3, "fvx4m", "test-app-67dd9f645-fvx4m"));
  CniOutcome b = runtime.add(pod_call(pod2, "lpjgs", "test-app-67dd9f645-lpjgs"));
  ASSERT_TRUE(a.ok()) << a.output.dump();
  ASSERT_TRUE(b.ok()) << b.output.dump();
  std::set<std::string> ips{first_ip(a), first_ip(b)};
  EXPECT_EQ(ips.size(), 2u);
  for (const auto& ip : ips) EXPECT_THAT(ip, ::testing::MatchesRegex("10\\.6\\.168\\.13[1-3]/16"));

  // Clean up through the runtime: nothing leaks.
  EXPECT_TRUE(runtime.del(pod_call(pod3, "fvx4m", "")).ok());
  EXPECT_TRUE(runtime.del(pod_call(pod2, "lpjgs", "")).ok());
  ProcessResult allocations = node.ctl({"get", "allocations"});
  EXPECT_EQ(allocations.exit_code, 0);
  EXPECT_EQ(allocations.out, "");
}

}  // namespace
}  // namespace ipfence::e2e
