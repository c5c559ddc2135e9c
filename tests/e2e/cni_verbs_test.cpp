// Every CNI verb, every cniVersion and every error code of the ipfence plugin, end to end:
// the real macvlan plugin (Debian's containernetworking-plugins 1.1.1) calls the real ipfence
// plugin, which asks the real agent. What macvlan cannot carry (cniVersion 1.1.0, so GC and
// STATUS; stdin that is not JSON; a wrong ipam.type) runs the ipfence plugin directly with
// the netconf a runtime would hand it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kPool = "test-ippool";
const std::set<std::string> kReserved{"10.6.168.131", "10.6.168.132"};

// A node with the seed's SpiderMultusConfig, a pool of 10 IPs (.131-.140) of which the
// SpiderReservedIP takes two (.131, .132), and the agent's conflist pointed at that pool.
class CniVerbsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<AgentNode>(unique_name("verbs"));
    const std::string master = node_->topology().master();
    node_->apply(seed_multus_config(master));
    node_->apply(reservedip_yaml("test-reservedip", {"10.6.168.131-10.6.168.132"}));
    node_->apply(ippool_yaml(kPool, "10.6.0.0/16", {"10.6.168.131-10.6.168.140"}));
    agent_conflist_.emplace(node_->runtime("macvlan-" + master));
    // STATUS answers from the agent's view, which follows the store every 50 ms.
    ASSERT_TRUE(wait_for_pool(*node_, kPool)) << node_->agent().log();
    runtime_.emplace(with_ipam([](json& ipam) { ipam["default_ipv4_ippool"] = {kPool}; }));
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << "agent log:\n" << node_->agent().log();
  }

  // The agent's conflist with its ipam section (or the whole plugin config) edited.
  CniRuntime with_ipam(const std::function<void(json&)>& edit) const {
    return edited_runtime(*node_, *agent_conflist_,
                          [&](json& list) { edit(list["plugins"][0]["ipam"]); });
  }
  CniRuntime with_plugin(const std::function<void(json&)>& edit) const {
    return edited_runtime(*node_, *runtime_, [&](json& list) { edit(list["plugins"][0]); });
  }

  // The netconf the ipfence plugin gets from macvlan, for running it directly.
  json netconf(const std::string& cni_version = "1.0.0") const {
    return direct_netconf(*runtime_, cni_version);
  }
  CniOutcome ipfence(const std::string& command, const json& config, const CniCall& call) const {
    return runtime_->exec("ipfence", command, config, call);
  }

  // An attachment without a macvlan link, for allocating through the plugin directly.
  CniCall bare_call(const std::string& container) {
    if (!filler_) filler_ = &node_->topology().add_pod("filler");
    return pod_attachment(*filler_, container, "pod-" + container);
  }
  // Takes the `count` free IPs of the pool through the plugin directly.
  void fill_pool(int count) {
    for (int i = 1; i <= count; ++i) {
      CniOutcome added = ipfence("ADD", netconf(), bare_call("fill-" + std::to_string(i)));
      ASSERT_TRUE(added.ok()) << added.output.dump();
    }
  }

  std::string socket() const { return node_->socket(); }
  // The plugin's message when nothing listens on the socket (the agent removed it on SIGTERM).
  std::string unreachable_message() const {
    return "ipfence-agent is not reachable at " + socket() +
           ": Couldn't connect to server (No such file or directory); is the agent running on "
           "this node?";
  }

  std::unique_ptr<AgentNode> node_;
  std::optional<CniRuntime> agent_conflist_;  // as the agent wrote it
  std::optional<CniRuntime> runtime_;         // with default_ipv4_ippool: [test-ippool]
  const Netns* filler_ = nullptr;
};

TEST_F(CniVerbsTest, AgentConflistIsMacvlanWithIpfenceIpam) {
  const json& list = agent_conflist_->conflist();
  EXPECT_EQ(list.at("cniVersion"), "1.0.0");
  ASSERT_EQ(list.at("plugins").size(), 1u);
  EXPECT_EQ(list["plugins"][0].at("type"), "macvlan");
  EXPECT_EQ(list["plugins"][0].at("master"), node_->topology().master());
  EXPECT_EQ(list["plugins"][0].at("ipam").at("type"), "ipfence");
  EXPECT_EQ(list["plugins"][0]["ipam"].at("socket"), socket());
}

TEST_F(CniVerbsTest, AddCheckDelDelThroughMacvlan) {
  const Netns& pod = node_->topology().add_pod("p1");
  const CniCall call = pod_attachment(pod, "c1", "app-1");

  CniOutcome added = runtime_->add(call);
  ASSERT_TRUE(added.ok()) << added.output.dump() << added.stderr_text;
  // The lowest free IP: .131 and .132 are reserved.
  EXPECT_EQ(result_address(added), "10.6.168.133/16");
  EXPECT_EQ(added.output.at("cniVersion"), "1.0.0");
  ASSERT_EQ(added.output.at("interfaces").size(), 1u);
  EXPECT_EQ(added.output["interfaces"][0].at("name"), "eth0");
  EXPECT_EQ(added.output["interfaces"][0].at("sandbox"), pod.path());
  EXPECT_EQ(added.output["ips"][0].at("interface"), 0);
  EXPECT_THAT(pod.sh("ip -4 addr show eth0"), HasSubstr("inet 10.6.168.133/16"));
  // The macvlan link carries the MAC the agent recorded for the allocation.
  const std::string mac = added.output["interfaces"][0].at("mac");
  json stored = stored_allocations(*node_);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].at("ip"), "10.6.168.133");
  EXPECT_EQ(stored[0].at("containerID"), "c1");
  EXPECT_EQ(stored[0].at("network"), "macvlan-" + node_->topology().master());
  EXPECT_EQ(stored[0].at("podName"), "app-1");
  EXPECT_EQ(stored[0].value("mac", ""), mac);
  // The pod reaches the outside host over the master from its address.
  EXPECT_NO_THROW(pod.sh("ping -c1 -W2 10.6.0.1 >/dev/null"));

  CniOutcome checked = runtime_->check(call);
  EXPECT_TRUE(checked.ok()) << checked.output.dump() << checked.stderr_text;
  EXPECT_TRUE(checked.output.is_null()) << checked.output.dump();

  // Release the allocation behind the runtime's back: CHECK must notice.
  auto [status, body] =
      node_->agent_request("POST", "/v1/ipam/release", {{"containerID", "c1"}, {"ifname", "eth0"}});
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, json({{"released", {"10.6.168.133"}}}));
  CniOutcome missing = runtime_->check(call);
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), 102) << missing.output.dump();
  EXPECT_EQ(missing.msg(), "no IP is allocated to container c1 interface eth0");

  CniOutcome deleted = runtime_->del(call);
  EXPECT_TRUE(deleted.ok()) << deleted.output.dump() << deleted.stderr_text;
  EXPECT_TRUE(link_gone(pod));
  CniOutcome again = runtime_->del(call);
  EXPECT_TRUE(again.ok()) << again.output.dump() << again.stderr_text;
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, CheckOfOtherAddressesFailsWithMismatch) {
  const Netns& pod = node_->topology().add_pod("p1");
  const CniCall call = pod_attachment(pod, "c1", "app-1");
  CniOutcome added = runtime_->add(call);
  ASSERT_TRUE(added.ok()) << added.output.dump();
  const std::string held = without_prefix(result_address(added));

  json config = netconf();
  config["prevResult"] = {{"cniVersion", "1.0.0"}, {"ips", {{{"address", "10.6.168.140/16"}}}}};
  CniOutcome mismatch = ipfence("CHECK", config, call);
  EXPECT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.code(), 105) << mismatch.output.dump();
  EXPECT_EQ(mismatch.msg(), "container c1 interface eth0 holds " + held + ", not 10.6.168.140");
  EXPECT_EQ(mismatch.output.value("details", "?"), "");  // docs/cni.md: the code names the kind

  EXPECT_TRUE(runtime_->del(call).ok());
}

TEST_F(CniVerbsTest, AddTwiceReturnsTheSameResult) {
  const Netns& pod = node_->topology().add_pod("p1");
  const CniCall call = pod_attachment(pod, "c1", "app-1");
  CniOutcome added = runtime_->add(call);
  ASSERT_TRUE(added.ok()) << added.output.dump();

  // The runtime repeats the IPAM ADD (macvlan itself cannot create eth0 twice): the plugin
  // answers with the same addresses, and the repeat is stable.
  CniOutcome first = ipfence("ADD", netconf(), call);
  CniOutcome second = ipfence("ADD", netconf(), call);
  ASSERT_TRUE(first.ok()) << first.output.dump();
  ASSERT_TRUE(second.ok()) << second.output.dump();
  EXPECT_EQ(first.output, second.output);
  json macvlan_ips = added.output.at("ips");
  for (auto& ip : macvlan_ips) ip.erase("interface");  // macvlan's addition
  EXPECT_EQ(first.output.at("ips"), macvlan_ips);
  EXPECT_EQ(first.output, json::parse(R"({"cniVersion":"1.0.0","ips":[{"address":")" +
                                      result_address(added) + R"("}],"dns":{}})"));
  EXPECT_EQ(stored_allocations(*node_).size(), 1u);

  EXPECT_TRUE(runtime_->del(call).ok());
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, DelTwiceSucceedsAlsoWithoutCachedResult) {
  const Netns& pod = node_->topology().add_pod("p1");
  const CniCall call = pod_attachment(pod, "c1", "app-1");
  ASSERT_TRUE(runtime_->add(call).ok());
  CniOutcome first = runtime_->del(call);
  CniOutcome second = runtime_->del(call);
  EXPECT_TRUE(first.ok()) << first.output.dump() << first.stderr_text;
  EXPECT_TRUE(second.ok()) << second.output.dump() << second.stderr_text;
  EXPECT_TRUE(link_gone(pod));
  // A DEL for an attachment that never existed (runtime restarted, no cache) succeeds too.
  CniOutcome unknown = runtime_->del(pod_attachment(pod, "never-added", "ghost"));
  EXPECT_TRUE(unknown.ok()) << unknown.output.dump() << unknown.stderr_text;
  CniOutcome direct = ipfence("DEL", netconf(), pod_attachment(pod, "never-added", "ghost"));
  EXPECT_TRUE(direct.ok()) << direct.output.dump();
  EXPECT_TRUE(direct.output.is_null());
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, VersionListsEverySupportedVersion) {
  CniOutcome version = ipfence("VERSION", json::object(), CniCall{});
  ASSERT_TRUE(version.ok()) << version.stderr_text;
  EXPECT_EQ(version.output, json::parse(R"({"cniVersion":"1.1.0",
                            "supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})"));
  // VERSION needs no stdin at all.
  CniOutcome bare = exec_ipfence_raw(*node_, "VERSION", "", CniCall{});
  EXPECT_TRUE(bare.ok());
  EXPECT_EQ(bare.output, version.output);
}

TEST_F(CniVerbsTest, EveryCniVersionThroughMacvlan) {
  for (const std::string version : {"0.3.1", "0.4.0", "1.0.0"}) {
    SCOPED_TRACE("cniVersion " + version);
    CniRuntime runtime =
        edited_runtime(*node_, *runtime_, [&](json& list) { list["cniVersion"] = version; });
    std::string tag = version;
    std::replace(tag.begin(), tag.end(), '.', '-');
    const Netns& pod = node_->topology().add_pod("v" + tag);
    const CniCall call = pod_attachment(pod, "c-" + tag, "app-" + tag);

    CniOutcome added = runtime.add(call);
    ASSERT_TRUE(added.ok()) << added.output.dump() << added.stderr_text;
    EXPECT_EQ(added.output.at("cniVersion"), version);
    const json& ip = added.output.at("ips").at(0);
    const std::string address = ip.at("address");
    EXPECT_EQ(ip.contains("version"), version != "1.0.0") << added.output.dump();
    if (ip.contains("version")) {
      EXPECT_EQ(ip["version"], "4");
    }
    EXPECT_EQ(kReserved.count(without_prefix(address)), 0u) << address;
    EXPECT_THAT(pod.sh("ip -4 addr show eth0"), HasSubstr("inet " + address));

    // The plugin's own result in that version (same attachment: the same address).
    CniOutcome direct = ipfence("ADD", netconf(version), call);
    ASSERT_TRUE(direct.ok()) << direct.output.dump();
    json expected_ip = {{"address", address}};
    if (version != "1.0.0") expected_ip["version"] = "4";
    EXPECT_EQ(direct.output,
              json({{"cniVersion", version}, {"ips", {expected_ip}}, {"dns", json::object()}}));

    if (version == "0.3.1") {
      // CHECK came with 0.4.0.
      CniOutcome check = ipfence("CHECK", netconf(version), call);
      EXPECT_EQ(check.code(), 1) << check.output.dump();
      EXPECT_EQ(check.msg(),
                "CHECK needs cniVersion 0.4.0 or later; the network config says 0.3.1");
    } else {
      CniOutcome check = runtime.check(call);
      EXPECT_TRUE(check.ok()) << check.output.dump() << check.stderr_text;
    }
    CniOutcome deleted = runtime.del(call);
    EXPECT_TRUE(deleted.ok()) << deleted.output.dump() << deleted.stderr_text;
    EXPECT_TRUE(link_gone(pod));
  }
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, CniVersion110And030ThroughThePluginDirectly) {
  // Debian's macvlan stops at 1.0.0: run the ipfence plugin as macvlan would.
  for (const std::string version : {"1.1.0", "0.3.0"}) {
    SCOPED_TRACE("cniVersion " + version);
    const CniCall call = bare_call("direct-" + version);
    CniOutcome added = ipfence("ADD", netconf(version), call);
    ASSERT_TRUE(added.ok()) << added.output.dump() << added.stderr_text;
    const std::string address = result_address(added);
    json expected_ip = {{"address", address}};
    if (version == "0.3.0") expected_ip["version"] = "4";
    EXPECT_EQ(added.output,
              json({{"cniVersion", version}, {"ips", {expected_ip}}, {"dns", json::object()}}));
    EXPECT_EQ(kReserved.count(without_prefix(address)), 0u) << address;
    if (version == "1.1.0") {
      json config = netconf(version);
      config["prevResult"] = added.output;
      CniOutcome check = ipfence("CHECK", config, call);
      EXPECT_TRUE(check.ok()) << check.output.dump();
    }
    CniOutcome deleted = ipfence("DEL", netconf(version), call);
    EXPECT_TRUE(deleted.ok()) << deleted.output.dump();
  }
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, GcReleasesExactlyTheOtherAttachmentsOfTheNetwork) {
  std::vector<CniCall> calls;
  std::vector<const Netns*> pods;
  std::map<std::string, std::string> ip_of;  // containerID -> IP
  for (const std::string name : {"g1", "g2", "g3"}) {
    const Netns& pod = node_->topology().add_pod(name);
    pods.push_back(&pod);
    calls.push_back(pod_attachment(pod, name, "app-" + name));
    CniOutcome added = runtime_->add(calls.back());
    ASSERT_TRUE(added.ok()) << added.output.dump();
    ip_of[name] = without_prefix(result_address(added));
  }
  // An allocation of another network from the same pool: GC of this network keeps it.
  json other = netconf("1.1.0");
  other["name"] = "other-net";
  CniOutcome foreign = ipfence("ADD", other, bare_call("o1"));
  ASSERT_TRUE(foreign.ok()) << foreign.output.dump();
  ip_of["o1"] = without_prefix(result_address(foreign));

  json gc = netconf("1.1.0");
  gc["cni.dev/valid-attachments"] = {{{"containerID", "g1"}, {"ifname", "eth0"}}};
  CniOutcome collected = ipfence("GC", gc, CniCall{});
  ASSERT_TRUE(collected.ok()) << collected.output.dump() << collected.stderr_text;
  EXPECT_TRUE(collected.output.is_null()) << collected.output.dump();

  std::map<std::string, std::string> left;
  for (const auto& item : stored_allocations(*node_)) left[item.at("containerID")] = item.at("ip");
  EXPECT_EQ(left, (std::map<std::string, std::string>{{"g1", ip_of["g1"]}, {"o1", ip_of["o1"]}}));

  // Again: nothing more to release. An empty list (libcni's null) releases the rest.
  ASSERT_TRUE(ipfence("GC", gc, CniCall{}).ok());
  EXPECT_EQ(stored_allocations(*node_).size(), 2u);
  gc["cni.dev/valid-attachments"] = nullptr;
  ASSERT_TRUE(ipfence("GC", gc, CniCall{}).ok());
  json remaining = stored_allocations(*node_);
  ASSERT_EQ(remaining.size(), 1u);
  EXPECT_EQ(remaining[0].at("containerID"), "o1");

  for (const auto& call : calls) EXPECT_TRUE(runtime_->del(call).ok());
  for (const Netns* pod : pods) EXPECT_TRUE(link_gone(*pod));
  EXPECT_TRUE(ipfence("DEL", other, bare_call("o1")).ok());
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, GcWithoutValidAttachmentsIsRefused) {
  CniOutcome added = ipfence("ADD", netconf(), bare_call("c1"));
  ASSERT_TRUE(added.ok());
  CniOutcome refused = ipfence("GC", netconf("1.1.0"), CniCall{});
  EXPECT_EQ(refused.code(), 7) << refused.output.dump();
  EXPECT_EQ(refused.msg(),
            "GC needs cni.dev/valid-attachments in the network config (runtimes speaking CNI "
            "1.1.0 send it); refusing to release every allocation");
  EXPECT_EQ(stored_allocations(*node_).size(), 1u);
  EXPECT_TRUE(ipfence("DEL", netconf(), bare_call("c1")).ok());
}

TEST_F(CniVerbsTest, StatusSucceedsWithFreeIpsAndFailsWhenThePoolIsExhausted) {
  CniOutcome ready = ipfence("STATUS", netconf("1.1.0"), CniCall{});
  EXPECT_TRUE(ready.ok()) << ready.output.dump();
  EXPECT_TRUE(ready.output.is_null()) << ready.output.dump();

  fill_pool(8);  // the 8 IPs that are not reserved
  CniOutcome exhausted = ipfence("STATUS", netconf("1.1.0"), CniCall{});
  EXPECT_FALSE(exhausted.ok());
  EXPECT_EQ(exhausted.code(), 50) << exhausted.output.dump();
  EXPECT_EQ(exhausted.msg(),
            "no IPv4 address is available in ipam.default_ipv4_ippool: test-ippool (0 of 10 "
            "available)");

  // One released: ready again.
  ASSERT_TRUE(ipfence("DEL", netconf(), bare_call("fill-3")).ok());
  EXPECT_TRUE(ipfence("STATUS", netconf("1.1.0"), CniCall{}).ok());

  // Without pools in the netconf, STATUS looks at the default pools: there are none.
  json no_pools = netconf("1.1.0");
  no_pools["ipam"].erase("default_ipv4_ippool");
  CniOutcome none = ipfence("STATUS", no_pools, CniCall{});
  EXPECT_EQ(none.code(), 50) << none.output.dump();
  EXPECT_EQ(none.msg(),
            "the network config names no pool (ipam.default_ipv4_ippool / default_ipv6_ippool) "
            "and the cluster has no default pool (spec.default: true)");

  // STATUS came with 1.1.0.
  CniOutcome old = ipfence("STATUS", netconf("1.0.0"), CniCall{});
  EXPECT_EQ(old.code(), 1) << old.output.dump();
  EXPECT_EQ(old.msg(), "STATUS needs cniVersion 1.1.0; the network config says 1.0.0");
}

TEST_F(CniVerbsTest, StatusFailsWhenTheAgentIsStopped) {
  ASSERT_TRUE(ipfence("STATUS", netconf("1.1.0"), CniCall{}).ok());
  EXPECT_EQ(node_->stop_agent(15), 0);
  CniOutcome down = ipfence("STATUS", netconf("1.1.0"), CniCall{});
  EXPECT_FALSE(down.ok());
  EXPECT_EQ(down.code(), 50) << down.output.dump();
  EXPECT_EQ(down.msg(), unreachable_message());
  node_->start_agent();
  EXPECT_TRUE(ipfence("STATUS", netconf("1.1.0"), CniCall{}).ok());
}

// ---- error codes: code and message, as the runtime sees them ----

TEST_F(CniVerbsTest, Error1IncompatibleVersion) {
  const CniCall call = bare_call("c1");
  CniOutcome old = ipfence("ADD", netconf("0.2.0"), call);
  EXPECT_EQ(old.code(), 1) << old.output.dump();
  EXPECT_EQ(old.msg(),
            "cniVersion 0.2.0 is not supported; ipfence supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, "
            "1.1.0");
  EXPECT_EQ(old.output.at("cniVersion"), "1.1.0");  // not the caller's: it is unsupported
  json unversioned = netconf();
  unversioned.erase("cniVersion");
  CniOutcome none = ipfence("ADD", unversioned, call);
  EXPECT_EQ(none.code(), 1) << none.output.dump();
  EXPECT_EQ(none.msg(),
            "the network config has no cniVersion (CNI reads that as 0.1.0); ipfence supports "
            "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
  CniOutcome gc = ipfence("GC", netconf("1.0.0"), CniCall{});
  EXPECT_EQ(gc.code(), 1) << gc.output.dump();
  EXPECT_EQ(gc.msg(), "GC needs cniVersion 1.1.0; the network config says 1.0.0");
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, Error4InvalidEnvironment) {
  CniCall call = bare_call("c1");
  call.container_id = "";
  CniOutcome missing = ipfence("ADD", netconf(), call);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.code(), 4) << missing.output.dump();
  EXPECT_EQ(missing.msg(), "CNI_CONTAINERID is not set; ADD needs it: the container's ID");
  EXPECT_EQ(missing.output.at("cniVersion"), "1.0.0");  // the caller's version

  call.container_id = "-bad";
  CniOutcome invalid = ipfence("DEL", netconf(), call);
  EXPECT_EQ(invalid.code(), 4) << invalid.output.dump();
  EXPECT_EQ(invalid.msg(),
            "CNI_CONTAINERID '-bad' is invalid; it must start with a letter or digit and contain "
            "only letters, digits, '_', '.' and '-'");

  call = bare_call("c1");
  call.netns = "";
  CniOutcome no_netns = ipfence("ADD", netconf(), call);
  EXPECT_EQ(no_netns.code(), 4) << no_netns.output.dump();
  EXPECT_EQ(no_netns.msg(),
            "CNI_NETNS is not set; ADD needs it: the path of the container's netns");

  call = bare_call("c1");
  call.ifname = "a/b";
  CniOutcome bad_ifname = ipfence("CHECK", netconf(), call);
  EXPECT_EQ(bad_ifname.code(), 4) << bad_ifname.output.dump();
  EXPECT_EQ(bad_ifname.msg(),
            "CNI_IFNAME 'a/b' is not a valid interface name; it must be 1 to 15 characters "
            "without '/', ':' or whitespace, and not '.' or '..'");

  CniOutcome bad_verb = ipfence("REMOVE", netconf(), bare_call("c1"));
  EXPECT_EQ(bad_verb.code(), 4) << bad_verb.output.dump();
  EXPECT_EQ(bad_verb.msg(),
            "CNI_COMMAND 'REMOVE' is not supported; it must be ADD, DEL, CHECK, VERSION, GC or "
            "STATUS");
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, Error6UndecodableStdin) {
  CniOutcome garbage = exec_ipfence_raw(*node_, "ADD", "{\"cniVersion\": ", bare_call("c1"));
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_EQ(garbage.code(), 6) << garbage.output.dump();
  EXPECT_THAT(garbage.msg(),
              StartsWith("failed to decode the network config on stdin as JSON: "
                         "[json.exception.parse_error.101] parse error at line 1, column 16"));
  EXPECT_EQ(garbage.output.at("cniVersion"), "1.1.0");

  CniOutcome list = exec_ipfence_raw(*node_, "ADD", "[1, 2]", bare_call("c1"));
  EXPECT_EQ(list.code(), 6) << list.output.dump();
  EXPECT_EQ(list.msg(), "the network config on stdin must be a JSON object, got a list");
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, Error7InvalidNetworkConfig) {
  json wrong_type = netconf();
  wrong_type["ipam"]["type"] = "host-local";
  CniOutcome wrong = ipfence("ADD", wrong_type, bare_call("c1"));
  EXPECT_EQ(wrong.code(), 7) << wrong.output.dump();
  EXPECT_EQ(wrong.msg(), "ipam.type is \"host-local\"; this plugin is \"ipfence\"");

  json no_ipam = netconf();
  no_ipam.erase("ipam");
  CniOutcome missing = ipfence("ADD", no_ipam, bare_call("c1"));
  EXPECT_EQ(missing.code(), 7) << missing.output.dump();
  EXPECT_EQ(missing.msg(),
            "the network config has no ipam section; use \"ipam\": {\"type\": \"ipfence\"}");

  json bad_pool = netconf();
  bad_pool["ipam"]["default_ipv4_ippool"] = 42;
  CniOutcome pool = ipfence("ADD", bad_pool, bare_call("c1"));
  EXPECT_EQ(pool.code(), 7) << pool.output.dump();
  EXPECT_EQ(pool.msg(), "ipam.default_ipv4_ippool must be a list of pool names, got a number");

  // Through macvlan: a bad args.cni.ips entry reaches the plugin, and its error the runtime.
  const Netns& pod = node_->topology().add_pod("p1");
  CniRuntime bad_ip = with_plugin([](json& plugin) {
    plugin["args"] = {{"cni", {{"ips", {"10.6.168.300"}}}}};
  });
  const CniCall call = pod_attachment(pod, "c2", "app-2");
  CniOutcome via_macvlan = bad_ip.add(call);
  EXPECT_EQ(via_macvlan.code(), 7) << via_macvlan.output.dump();
  EXPECT_EQ(via_macvlan.msg(), "args.cni.ips[0] is '10.6.168.300', which is not an IP address");
  EXPECT_TRUE(stored_allocations(*node_).empty());
  // The runtime's teardown carried the same bad key (see DelSucceedsWhenAddOnlyKeysAreInvalid);
  // a DEL with a good config removes the link macvlan 1.1.1 leaves after an IPAM failure.
  EXPECT_TRUE(runtime_->del(call).ok());
  EXPECT_TRUE(link_gone(pod));
}

// A DEL needs only the attachment: keys that only ADD uses (specific IPs, pool lists) must
// not make it fail, or a pod whose ADD failed on such a key can never be torn down (the
// runtime repeats the teardown DEL with the same config forever).
TEST_F(CniVerbsTest, DelSucceedsWhenAddOnlyKeysAreInvalid) {
  const Netns& pod = node_->topology().add_pod("p1");
  const CniCall call = pod_attachment(pod, "c1", "app-1");
  CniRuntime bad_ip = with_plugin([](json& plugin) {
    plugin["args"] = {{"cni", {{"ips", {"10.6.168.300"}}}}};
  });
  CniOutcome add = bad_ip.add(call);
  EXPECT_EQ(add.code(), 7) << add.output.dump();
  CniOutcome del = bad_ip.del(call);
  EXPECT_TRUE(del.ok()) << del.output.dump() << del.stderr_text;
  EXPECT_TRUE(link_gone(pod));

  json bad_pools = netconf();
  bad_pools["ipam"]["default_ipv4_ippool"] = 42;
  CniOutcome direct = ipfence("DEL", bad_pools, call);
  EXPECT_TRUE(direct.ok()) << direct.output.dump();
  // Clean up whatever the assertions above left.
  EXPECT_TRUE(runtime_->del(call).ok());
}

TEST_F(CniVerbsTest, Error11WhenTheAgentIsStopped) {
  const Netns& held_pod = node_->topology().add_pod("held");
  const CniCall held = pod_attachment(held_pod, "held", "app-held");
  ASSERT_TRUE(runtime_->add(held).ok());
  EXPECT_EQ(node_->stop_agent(15), 0);

  const Netns& pod = node_->topology().add_pod("p1");
  const CniCall call = pod_attachment(pod, "c1", "app-1");
  CniOutcome add = runtime_->add(call);
  EXPECT_FALSE(add.ok());
  EXPECT_EQ(add.code(), 11) << add.output.dump();
  EXPECT_EQ(add.msg(), unreachable_message());

  CniOutcome del = runtime_->del(held);
  EXPECT_FALSE(del.ok());
  EXPECT_EQ(del.code(), 11) << del.output.dump();
  EXPECT_EQ(del.msg(), unreachable_message());
  // The address is not silently leaked: it stays allocated until a DEL gets through.
  EXPECT_EQ(stored_allocations(*node_).size(), 1u);

  node_->start_agent();
  CniOutcome retried = runtime_->del(held);
  EXPECT_TRUE(retried.ok()) << retried.output.dump() << retried.stderr_text;
  EXPECT_TRUE(link_gone(held_pod));
  // The failed ADD's teardown could not reach the agent either; the runtime retries it too.
  CniOutcome cleanup = runtime_->del(call);
  EXPECT_TRUE(cleanup.ok()) << cleanup.output.dump() << cleanup.stderr_text;
  EXPECT_TRUE(link_gone(pod));
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, Error101NoPool) {
  // The agent's own conflist names no pool, and no pool is a default pool.
  CniRuntime runtime = *agent_conflist_;
  const Netns& pod = node_->topology().add_pod("p1");
  CniOutcome add = runtime.add(pod_attachment(pod, "c1", "app-1"));
  EXPECT_EQ(add.code(), 101) << add.output.dump();
  EXPECT_EQ(add.msg(),
            "no IP pool selected: set default_ipv4_ippool/default_ipv6_ippool in the CNI config, "
            "annotate the pod with ipam.spidernet.io/ippool, or mark a SpiderIPPool with "
            "spec.default: true");
  EXPECT_TRUE(link_gone(pod));
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, Error102UnknownPool) {
  CniRuntime runtime =
      with_ipam([](json& ipam) { ipam["default_ipv4_ippool"] = {"no-such-pool"}; });
  const Netns& pod = node_->topology().add_pod("p1");
  CniOutcome add = runtime.add(pod_attachment(pod, "c1", "app-1"));
  EXPECT_EQ(add.code(), 102) << add.output.dump();
  EXPECT_EQ(add.msg(), "IPPool no-such-pool: not found");
  EXPECT_TRUE(link_gone(pod));
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(CniVerbsTest, Error103Exhausted) {
  fill_pool(8);
  const Netns& pod = node_->topology().add_pod("p1");
  CniOutcome add = runtime_->add(pod_attachment(pod, "c1", "app-1"));
  EXPECT_EQ(add.code(), 103) << add.output.dump();
  EXPECT_EQ(add.msg(),
            "IPPool test-ippool: all IPs have been exhausted (10 IPs: 2 reserved, 8 allocated)");
  EXPECT_TRUE(link_gone(pod));
  // None of the 8 is reserved.
  std::multiset<std::string> ips = stored_ips(*node_);
  EXPECT_EQ(ips.size(), 8u);
  for (const auto& ip : kReserved) EXPECT_EQ(ips.count(ip), 0u) << ip;
}

TEST_F(CniVerbsTest, Error104ReservedIpAskedFor) {
  CniRuntime reserved = with_plugin([](json& plugin) {
    plugin["args"] = {{"cni", {{"ips", {"10.6.168.131"}}}}};
  });
  const Netns& pod = node_->topology().add_pod("p1");
  CniOutcome add = reserved.add(pod_attachment(pod, "c1", "app-1"));
  EXPECT_EQ(add.code(), 104) << add.output.dump();
  EXPECT_EQ(add.msg(),
            "IP 10.6.168.131 is not available in IPPool test-ippool: it is reserved by "
            "SpiderReservedIP test-reservedip");
  EXPECT_TRUE(link_gone(pod));
  EXPECT_TRUE(stored_allocations(*node_).empty());

  // A free address asked for is handed out; asked for again by another pod, it is taken.
  CniRuntime free_ip = with_plugin([](json& plugin) {
    plugin["args"] = {{"cni", {{"ips", {"10.6.168.140"}}}}};
  });
  const CniCall first = pod_attachment(pod, "c2", "app-2");
  CniOutcome got = free_ip.add(first);
  ASSERT_TRUE(got.ok()) << got.output.dump();
  EXPECT_EQ(result_address(got), "10.6.168.140/16");
  const Netns& pod2 = node_->topology().add_pod("p2");
  CniOutcome taken = free_ip.add(pod_attachment(pod2, "c3", "app-3"));
  EXPECT_EQ(taken.code(), 104) << taken.output.dump();
  EXPECT_EQ(taken.msg(),
            "IP 10.6.168.140 is not available in IPPool test-ippool: it is allocated to pod "
            "default/app-2 (container c2, interface eth0)");
  EXPECT_TRUE(link_gone(pod2));
  EXPECT_TRUE(free_ip.del(first).ok());
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

}  // namespace
}  // namespace ipfence::e2e
