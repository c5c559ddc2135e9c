// The agent's side of the guard (issue 4, agent datapath), with the real agent in a node
// namespace on a bpffs of the test's own: where it attaches (SpiderMultusConfig masters and
// their vlans, --masters, the master a CNI ADD names, pod interfaces) and that it detaches
// masters nothing names any more, that ADD and DEL change the lease map before they return,
// that a restarted agent takes over the filters in place, and what /v1/guards, /v1/status
// and `ipfencectl get guards` show. What the guard
// drops is tests/e2e/enforcement_test.cpp's subject.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string multus_yaml(const std::string& name, const std::string& master, int vlan) {
  return "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderMultusConfig\n"
         "metadata:\n  name: " +
         name + "\n  namespace: kube-system\nspec:\n  cniType: macvlan\n  macvlan:\n" +
         "    master:\n    - " + master + "\n    vlanID: " + std::to_string(vlan) + "\n";
}

json status_guard(const AgentNode& node) {
  auto [code, body] = node.agent_request("GET", "/v1/status");
  if (code != 200) throw std::runtime_error("GET /v1/status: " + std::to_string(code));
  return body.value("guard", json());
}

ProcessResult get_guards_cli(const AgentNode& node, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{IPFENCE_CTL_BIN, "get", "guards", "--agent-socket", node.socket()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_process(argv);
}

// The cells of the table row whose first cell is `first` (none: empty).
std::vector<std::string> table_row(const std::string& table, const std::string& first) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> cells;
    for (std::string word; words >> word;) cells.push_back(word);
    if (!cells.empty() && cells.front() == first) return cells;
  }
  return {};
}

// A CNI call for pod `tag` in `pod` that takes its address from the seed's pool.
CniCall seed_pool_call(const Netns& pod, const std::string& tag) {
  CniCall call = pod_attachment(pod, tag, "test-app-" + tag);
  call.cni_args = {{"ipam.spidernet.io/ippool", R"({"ipv4": ["test-ippool"]})"}};
  return call;
}

// One node with the guard on; the bpffs outlives the node (declared first, destroyed last).
class AgentGuardTest : public ::testing::Test {
 protected:
  void start(const std::string& tag, const std::vector<std::string>& flags = {}) {
    AgentNodeOptions options;
    options.extra_agent_args = {bpffs_.agent_flag()};
    options.extra_agent_args.insert(options.extra_agent_args.end(), flags.begin(), flags.end());
    node_ = std::make_unique<AgentNode>(unique_name(tag), options);
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << "agent log:\n" << node_->agent().log();
  }

  const Netns& node_ns() { return node_->topology().node(); }

  // An interface `name` (with a peer that is only there to make it a veth) in the node.
  void add_link(const std::string& name) {
    const std::string peer = "p" + std::to_string(++links_);
    node_ns().sh("ip link add " + name + " type veth peer name " + peer + " && ip link set " +
                 name + " up && ip link set " + peer + " up");
  }

  std::optional<json> wait_for_guard(const std::string& master, const std::string& netns = "") {
    std::optional<json> entry;
    wait_until(
        [&] {
          entry = guard_entry(get_guards(*node_), master, netns);
          return entry.has_value();
        },
        std::chrono::seconds(5));
    return entry;
  }

  BpffsMount bpffs_;
  std::unique_ptr<AgentNode> node_;
  int links_ = 0;
};

TEST_F(AgentGuardTest, LeasesFollowAddAndDelAndARestartTakesOverInPlace) {
  start("dpguard");
  const std::string master = node_->topology().master();
  node_->apply(seed_multus_config(master));
  node_->apply(kSeedReservedYaml);
  node_->apply(kSeedPoolYaml);

  auto entry = wait_for_guard(master);
  ASSERT_TRUE(entry) << get_guards(*node_).dump(2);
  const std::uint32_t first_prog = entry->value("progId", 0u);
  EXPECT_NE(first_prog, 0u);
  EXPECT_EQ(entry->value("mode", ""), "enforce");
  EXPECT_EQ(entry->value("policy", ""), "grandfather");
  EXPECT_THAT(egress_bpf_filters(node_ns(), master), ElementsAre(first_prog));
  const json guard = status_guard(*node_);
  EXPECT_EQ(guard.value("enabled", false), true);
  EXPECT_EQ(guard.value("pinDir", ""), bpffs_.dir());
  EXPECT_EQ(guard["masters"], json({master}));
  // The seed's reserved range .131-.132 (two prefixes) and the pool's usable .131-.133 (two),
  // once the watcher has seen them (the master came with the config, applied first).
  json guards;
  wait_until(
      [&] {
        guards = get_guards(*node_);
        return guards.value("poolPrefixes", 0) == 2;
      },
      std::chrono::seconds(2));
  EXPECT_EQ(guards.value("reservedPrefixes", 0), 2) << guards.dump(2);
  EXPECT_EQ(guards.value("poolPrefixes", 0), 2) << guards.dump(2);
  EXPECT_EQ(guards.value("leases", -1), 0);

  // ADD: the lease and the pod's own guard are in place when the plugin returns.
  CniRuntime runtime = node_->runtime("macvlan-" + master);
  const Netns& pod = node_->topology().add_pod("dpg1");
  CniCall call = seed_pool_call(pod, "dpg1");
  CniOutcome added = runtime.add(call);
  ASSERT_TRUE(added.ok()) << added.output.dump() << added.stderr_text;
  guards = get_guards(*node_);
  EXPECT_EQ(guards.value("leases", -1), 1) << guards.dump(2);
  EXPECT_TRUE(guard_entry(guards, "eth0", pod.path())) << guards.dump(2);
  EXPECT_EQ(egress_bpf_filters(pod, "eth0").size(), 1u);

  ProcessResult table = get_guards_cli(*node_);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("MASTER   NETNS"));
  EXPECT_THAT(table_row(table.out, master),
              ElementsAre(master, "-", "enforce", "grandfather", std::to_string(first_prog), "0",
                          "0", "0", "0", "0"))
      << table.out;
  EXPECT_THAT(table_row(table.out, "eth0"),
              ElementsAre("eth0", pod.path(), "enforce", "grandfather", std::to_string(first_prog),
                          "0", "0", "0", "0", "0"))
      << table.out;
  EXPECT_THAT(table.out, HasSubstr("leases: 1, reserved prefixes: 2, pool prefixes: 2"));
  ProcessResult as_json = get_guards_cli(*node_, {"-o", "json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  EXPECT_EQ(json::parse(as_json.out).value("leases", -1), 1);

  // A stopped agent leaves the filter (and so enforcement) in place.
  ASSERT_EQ(node_->stop_agent(SIGTERM), 0);
  EXPECT_THAT(egress_bpf_filters(node_ns(), master), ElementsAre(first_prog));

  // A restarted agent replaces it in place: one filter, the new program, the same leases.
  node_->start_agent();
  entry = wait_for_guard(master);
  ASSERT_TRUE(entry);
  const std::uint32_t second_prog = entry->value("progId", 0u);
  EXPECT_NE(second_prog, 0u);
  EXPECT_THAT(egress_bpf_filters(node_ns(), master), ElementsAre(second_prog));
  EXPECT_THAT(node_->agent().log(), HasSubstr("replacing program " + std::to_string(first_prog)));
  guards = get_guards(*node_);
  EXPECT_EQ(guards.value("leases", -1), 1) << guards.dump(2);
  EXPECT_TRUE(guard_entry(guards, "eth0", pod.path())) << guards.dump(2);  // taken over too
  EXPECT_EQ(egress_bpf_filters(pod, "eth0").size(), 1u);

  // DEL: the lease is gone when the plugin returns.
  ASSERT_TRUE(runtime.del(call).ok());
  EXPECT_EQ(get_guards(*node_).value("leases", -1), 0);
}

TEST_F(AgentGuardTest, MastersFromVlansFlagsAndAddsEachWithItsMode) {
  // ens192.100 exists, ens225.200 does not; ens224 and ens226 are further masters.
  // ens192's mode applies to its vlan interface ens192.100 as well.
  start("dpmasters", {"--masters=ens224,ens999", "--master-mode=ens224=monitor",
                      "--master-mode=ens192=monitor"});
  // The agent goes by the name "<master>.<vlanID>": a veth stands in for the vlan interface,
  // and for the other masters (the kernel's 8021q and dummy modules may be missing here).
  for (const char* name : {"ens192.100", "ens224", "ens225", "ens226"}) add_link(name);
  node_->apply(multus_yaml("macvlan-vlan100", "ens192", 100));
  node_->apply(multus_yaml("macvlan-vlan200", "ens225", 200));
  node_->apply(kSeedPoolYaml);

  auto vlan = wait_for_guard("ens192.100");
  ASSERT_TRUE(vlan) << get_guards(*node_).dump(2);
  auto fallback = wait_for_guard("ens225");
  ASSERT_TRUE(fallback) << get_guards(*node_).dump(2);
  auto flagged = wait_for_guard("ens224");
  ASSERT_TRUE(flagged) << get_guards(*node_).dump(2);
  EXPECT_EQ(vlan->value("mode", ""), "monitor");      // its parent's --master-mode
  EXPECT_EQ(fallback->value("mode", ""), "enforce");  // --guard-mode
  EXPECT_EQ(flagged->value("mode", ""), "monitor");
  EXPECT_FALSE(guard_entry(get_guards(*node_), "ens192"));  // the vlan is guarded, not its parent
  EXPECT_THAT(node_->agent().log(), HasSubstr("vlan 100: guarding ens192.100"));
  EXPECT_THAT(node_->agent().log(),
              HasSubstr("vlan 200: ens225.200 does not exist, guarding ens225"));

  // A --masters entry that does not exist yet waits, and is guarded once it appears.
  EXPECT_EQ(status_guard(*node_)["waiting"], json({"ens999"}));
  add_link("ens999");
  EXPECT_TRUE(wait_for_guard("ens999")) << get_guards(*node_).dump(2);
  EXPECT_EQ(status_guard(*node_)["waiting"], json::array());

  // The master an allocation names is guarded before the allocation is answered.
  auto [code, body] = node_->agent_request("POST", "/v1/ipam/allocate",
                                           {{"containerID", "c1"},
                                            {"ifname", "eth0"},
                                            {"mac", "aa:bb:cc:00:00:01"},
                                            {"master", "ens226"},
                                            {"ipv4Pools", {"test-ippool"}}});
  ASSERT_EQ(code, 200) << body.dump();
  json guards = get_guards(*node_);
  EXPECT_TRUE(guard_entry(guards, "ens226")) << guards.dump(2);
  EXPECT_EQ(guards.value("leases", -1), 1);
  // A master that does not exist: the allocation is rolled back, not handed out unguarded.
  auto [failed, error] = node_->agent_request("POST", "/v1/ipam/allocate",
                                              {{"containerID", "c2"},
                                               {"ifname", "eth0"},
                                               {"mac", "aa:bb:cc:00:00:02"},
                                               {"master", "ens404"},
                                               {"ipv4Pools", {"test-ippool"}}});
  EXPECT_EQ(failed, 500) << error.dump();
  EXPECT_THAT(error.dump(), HasSubstr("so the allocation was rolled back"));
  EXPECT_EQ(get_guards(*node_).value("leases", -1), 1);
  auto [listed, allocations] = node_->agent_request("GET", "/v1/status");
  ASSERT_EQ(listed, 200);
  EXPECT_EQ(allocations["pools"][0].value("allocated", -1), 1);
}

// A master whose SpiderMultusConfig is deleted is detached once it has gone unnamed for a few
// seconds, and so is one an earlier run attached whose config was deleted while no agent ran.
// Only the guard's filter goes: another filter on the same hook stays, and the masters still
// named keep their guards.
TEST_F(AgentGuardTest, MastersNoLongerNamedAreDetachedAndOnlyTheGuardFilterGoes) {
  start("dpdetach");
  for (const char* name : {"ens224", "ens225", "ens226"}) {
    add_link(name);
    node_->apply(seed_multus_config(name));
  }
  for (const char* name : {"ens224", "ens225", "ens226"})
    ASSERT_TRUE(wait_for_guard(name)) << name << ": " << get_guards(*node_).dump(2);
  node_ns().sh("tc filter add dev ens225 egress pref 7 u32 match u32 0 0");

  auto deleted = node_->ctl({"-n", "kube-system", "delete", "smc", "macvlan-ens225"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(guard_entry(get_guards(*node_), "ens225")) << "detached without a grace period";
  EXPECT_TRUE(wait_until([&] { return !guard_entry(get_guards(*node_), "ens225"); },
                         std::chrono::seconds(10)))
      << get_guards(*node_).dump(2);
  EXPECT_TRUE(egress_bpf_filters(node_ns(), "ens225").empty());
  EXPECT_THAT(node_ns().sh("tc filter show dev ens225 egress"), HasSubstr(" u32 "));
  EXPECT_THAT(node_->agent().log(), HasSubstr("guard: detached from ens225"));
  EXPECT_EQ(status_guard(*node_)["masters"], json({"ens224", "ens226"}));
  for (const char* name : {"ens224", "ens226"}) {
    EXPECT_TRUE(guard_entry(get_guards(*node_), name)) << name;
    EXPECT_EQ(egress_bpf_filters(node_ns(), name).size(), 1u) << name;
  }

  // Deleted while no agent runs: the next one finds the master in the pinned record.
  ASSERT_EQ(node_->stop_agent(SIGTERM), 0);
  deleted = node_->ctl({"-n", "kube-system", "delete", "smc", "macvlan-ens226"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(egress_bpf_filters(node_ns(), "ens226").size(), 1u);
  node_->start_agent();
  ASSERT_TRUE(wait_for_guard("ens224"));
  EXPECT_TRUE(wait_until([&] { return egress_bpf_filters(node_ns(), "ens226").empty(); },
                         std::chrono::seconds(10)))
      << node_ns().sh("tc filter show dev ens226 egress");
  EXPECT_FALSE(guard_entry(get_guards(*node_), "ens226")) << get_guards(*node_).dump(2);
  EXPECT_EQ(egress_bpf_filters(node_ns(), "ens224").size(), 1u);
  EXPECT_EQ(status_guard(*node_)["masters"], json({"ens224"}));
}

// The lease map as the agent left it, "10.6.168.133" -> "aa:bb:..": bpftool reads the pin.
std::map<std::string, std::string> pinned_leases(const std::string& pin_dir) {
  ProcessResult dumped =
      run_process({"bpftool", "-j", "map", "dump", "pinned", pin_dir + "/ipf_leases"});
  if (dumped.exit_code != 0) throw std::runtime_error("bpftool map dump: " + dumped.err);
  std::map<std::string, std::string> out;
  for (const json& entry : json::parse(dumped.out)) {
    const json& key = entry.at("formatted").at("key");
    const json& value = entry.at("formatted").at("value");
    if (key.at("family").get<int>() != 4) continue;
    std::string ip;
    for (int i = 0; i < 4; ++i)
      ip += (i ? "." : "") + std::to_string(key.at("addr").at(i).get<int>());
    char mac[18];
    const json& m = value.at("mac");
    std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0].get<int>(),
                  m[1].get<int>(), m[2].get<int>(), m[3].get<int>(), m[4].get<int>(),
                  m[5].get<int>());
    out[ip] = mac;
  }
  return out;
}

// An address of the node itself on a master, inside a pool, is leased to the master's MAC
// (or the guard would drop the node's own traffic as unallocated) while no pod holds it; a
// pod given that address takes the lease, and its DEL gives it back to the node.
TEST_F(AgentGuardTest, TheNodesOwnAddressOnAMasterIsLeasedToItWhereNoPodHoldsIt) {
  start("dpown");
  const std::string master = node_->topology().master();
  node_->apply(seed_multus_config(master));
  node_->apply(kSeedReservedYaml);  // .131-.132: the pool's one free address is .133
  node_->apply(kSeedPoolYaml);
  ASSERT_TRUE(wait_for_guard(master)) << get_guards(*node_).dump(2);
  const std::string master_mac = format_mac(link_mac(node_ns(), master));
  using Leases = std::map<std::string, std::string>;
  const auto leases_become = [&](const Leases& want) {
    Leases got;
    const bool reached = wait_until(
        [&] {
          got = pinned_leases(bpffs_.dir());
          return got == want;
        },
        std::chrono::seconds(5));
    if (!reached) ADD_FAILURE() << "lease map stuck at " << json(got).dump();
    return reached;
  };

  node_ns().sh("ip addr add 10.6.168.133/16 dev " + master);
  ASSERT_TRUE(leases_become({{"10.6.168.133", master_mac}}));
  EXPECT_EQ(get_guards(*node_).value("leases", -1), 1);
  EXPECT_THAT(node_->agent().log(), HasSubstr("1 address(es) of the node itself"));

  CniRuntime runtime = node_->runtime("macvlan-" + master);
  const Netns& pod = node_->topology().add_pod("dpown1");
  CniCall call = seed_pool_call(pod, "dpown1");
  CniOutcome added = runtime.add(call);
  ASSERT_TRUE(added.ok()) << added.output.dump() << added.stderr_text;
  const std::string pod_mac = format_mac(link_mac(pod, "eth0"));
  EXPECT_EQ(pinned_leases(bpffs_.dir()), (Leases{{"10.6.168.133", pod_mac}}))
      << "the pod's lease is in place when ADD returns";

  ASSERT_TRUE(runtime.del(call).ok());
  EXPECT_EQ(pinned_leases(bpffs_.dir()), (Leases{{"10.6.168.133", master_mac}}))
      << "DEL gives the address back to the node";

  node_ns().sh("ip addr del 10.6.168.133/16 dev " + master);
  EXPECT_TRUE(leases_become({}));
}

TEST(AgentGuardOffTest, WithoutABpffsTheAgentSaysHowToMountOneOrRunsIpamOnly) {
  // `ip netns exec` hides /sys/fs/bpf: the default pin dir is on sysfs there.
  Netns ns(unique_name("dpnobpf"));
  char dir_template[] = "/tmp/ipfence-e2e-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  std::vector<std::string> argv = ns.exec_prefix();
  for (const std::string& arg :
       {std::string(IPFENCE_AGENT_BIN), "--store=file://" + dir + "/store",
        "--socket=" + dir + "/agent.sock", std::string("--node-name=node1"),
        "--cni-conf-dir=" + dir + "/net.d", std::string("--metrics-addr=off")})
    argv.push_back(arg);
  ProcessResult refused = run_process(argv, {}, "", std::chrono::seconds(20));
  sh_result("rm -rf " + dir);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.out + refused.err,
              HasSubstr("bpf-pin-dir /sys/fs/bpf/ipfence is not on a bpf filesystem"));
  EXPECT_THAT(refused.out + refused.err, HasSubstr("mount -t bpf bpf /sys/fs/bpf"));
  EXPECT_THAT(refused.out + refused.err, HasSubstr("--guard=off"));

  AgentNode node(unique_name("dpoff"));  // no pin dir given: IPAM only
  EXPECT_EQ(status_guard(node).value("enabled", true), false);
  EXPECT_EQ(get_guards(node).value("enabled", true), false);
  ProcessResult cli = get_guards_cli(node);
  EXPECT_EQ(cli.exit_code, 0);
  EXPECT_THAT(cli.err, HasSubstr("The guard is off on this agent (--guard=off)"));
}

}  // namespace
}  // namespace ipfence::e2e
