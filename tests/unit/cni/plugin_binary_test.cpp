// The real `ipfence` binary against a fake agent: what a runtime sees on stdout and in the
// exit code, and what the agent receives.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fake_agent.h"

namespace ipfence::cni {
namespace {

using nlohmann::json;
using testing::FakeAgent;
using testing::FakeRequest;
using testing::FakeResponse;
using testing::PluginRun;
using testing::run_plugin;

using Env = std::map<std::string, std::string>;

const char* const kAllocateReply = R"({
  "ips": [{"address": "10.6.168.133/16", "gateway": "10.6.0.1", "pool": "test-ippool", "version": 4}],
  "routes": [{"dst": "0.0.0.0/0", "gw": "10.6.0.1"}],
  "existing": false})";

const char* const kExhausted = R"js({"error": {"code": "exhausted", "cniCode": 103,
  "message": "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)"}})js";

// Answers each path with a canned reply; anything else is a 404 not_found.
FakeAgent::Handler routes(std::map<std::string, FakeResponse> table) {
  return [table = std::move(table)](const FakeRequest& request) {
    auto it = table.find(request.method + " " + request.path);
    if (it != table.end()) return it->second;
    return FakeResponse{
        404, R"({"error": {"code": "not_found", "cniCode": 102, "message": "no route"}})"};
  };
}

Env env_for(const std::string& verb, const testing::TempDir& dir) {
  return {{"CNI_COMMAND", verb},
          {"CNI_CONTAINERID", "c1"},
          // A netns that does not exist: the plugin must go on without a MAC.
          {"CNI_NETNS", dir.path() + "/netns-pod1"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/opt/cni/bin"},
          {"CNI_ARGS",
           "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=test-app-1;"
           "K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=7f0c"}};
}

json netconf(const std::string& socket, const std::string& version = "1.0.0") {
  return {{"cniVersion", version},
          {"name", "macvlan-ens192"},
          {"type", "macvlan"},
          {"master", "ens192"},
          {"mode", "bridge"},
          {"ipam",
           {{"type", "ipfence"}, {"socket", socket}, {"default_ipv4_ippool", {"test-ippool"}}}}};
}

class PluginBinary : public ::testing::Test {
 protected:
  PluginRun run(const std::string& verb, const json& conf) {
    return run_plugin(env_for(verb, dir_), conf.dump());
  }
  PluginRun run(const Env& env, const std::string& input) { return run_plugin(env, input); }
  testing::TempDir dir_;
};

TEST_F(PluginBinary, Version) {
  PluginRun r = run_plugin({{"CNI_COMMAND", "VERSION"}}, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(
      r.out,
      R"({"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})"
      "\n");
}

class AddInEachVersion : public PluginBinary, public ::testing::WithParamInterface<std::string> {};

TEST_P(AddInEachVersion, PrintsTheResultInTheRequestedVersion) {
  const std::string version = GetParam();
  FakeAgent agent(routes({{"POST /v1/ipam/allocate", {200, kAllocateReply}}}));
  json conf = netconf(agent.socket_path(), version);
  conf["runtimeConfig"] = {{"ips", {"10.6.168.133/16"}}};
  PluginRun r = run("ADD", conf);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string ip_version = version.rfind("0.", 0) == 0 ? R"("version":"4",)" : "";
  EXPECT_EQ(r.out, R"({"cniVersion":")" + version + R"(","ips":[{)" + ip_version +
                       R"("address":"10.6.168.133/16","gateway":"10.6.0.1"}],)"
                       R"("routes":[{"dst":"0.0.0.0/0","gw":"10.6.0.1"}],"dns":{}})"
                       "\n");
  ASSERT_EQ(agent.calls(), std::vector<std::string>{"POST /v1/ipam/allocate"});
  EXPECT_EQ(agent.requests()[0].body,
            (json{{"containerID", "c1"},
                  {"ifname", "eth0"},
                  {"netns", dir_.path() + "/netns-pod1"},
                  {"network", "macvlan-ens192"},
                  {"pod", {{"namespace", "default"}, {"name", "test-app-1"}, {"uid", "7f0c"}}},
                  {"master", "ens192"},
                  {"ipv4Pools", {"test-ippool"}},
                  {"ipv6Pools", json::array()},
                  {"ips", {"10.6.168.133"}}}));
}

INSTANTIATE_TEST_SUITE_P(Versions, AddInEachVersion,
                         ::testing::Values("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"),
                         [](const auto& info) {
                           std::string name = "v" + info.param;
                           for (auto& c : name)
                             if (c == '.') c = '_';
                           return name;
                         });

TEST_F(PluginBinary, AddPassesAgentErrorsThrough) {
  FakeAgent agent(routes({{"POST /v1/ipam/allocate", {422, kExhausted}}}));
  PluginRun r = run("ADD", netconf(agent.socket_path(), "0.4.0"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json(), json::parse(R"js({"cniVersion": "0.4.0", "code": 103,
      "msg": "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)",
      "details": ""})js"));
  // Nothing was allocated, so nothing is released.
  EXPECT_EQ(agent.calls(), std::vector<std::string>{"POST /v1/ipam/allocate"});
}

TEST_F(PluginBinary, AddRollsBackAResultItCannotRender) {
  FakeAgent agent(routes({{"POST /v1/ipam/allocate", {200, R"({"routes": [], "existing": false})"}},
                          {"POST /v1/ipam/release", {200, R"({"released": ["10.6.168.133"]})"}}}));
  PluginRun r = run("ADD", netconf(agent.socket_path()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json(), json::parse(R"({"cniVersion": "1.0.0", "code": 100,
      "msg": "ipfence-agent sent an allocation the plugin cannot use: it has no ips; the allocation was released",
      "details": ""})"));
  ASSERT_EQ(agent.calls(),
            (std::vector<std::string>{"POST /v1/ipam/allocate", "POST /v1/ipam/release"}));
  EXPECT_EQ(agent.requests()[1].body, (json{{"containerID", "c1"}, {"ifname", "eth0"}}));
}

TEST_F(PluginBinary, AddRollbackThatFailsSaysSo) {
  FakeAgent agent(routes(
      {{"POST /v1/ipam/allocate", {200, R"({"ips": [{"address": "x"}]})"}},
       {"POST /v1/ipam/release",
        {500, R"({"error": {"code": "corrupt", "cniCode": 107, "message": "store damaged"}})"}}}));
  PluginRun r = run("ADD", netconf(agent.socket_path()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 100);
  EXPECT_EQ(r.json()["msg"],
            "ipfence-agent sent an allocation the plugin cannot use: ips[0].address 'x' is not a "
            "CIDR address; releasing the allocation failed too (store damaged); the runtime's DEL "
            "will retry");
}

TEST_F(PluginBinary, AddRollsBackWhenTheResultCannotBeWritten) {
  FakeAgent agent(routes({{"POST /v1/ipam/allocate", {200, kAllocateReply}},
                          {"POST /v1/ipam/release", {200, R"({"released": ["10.6.168.133"]})"}}}));
  PluginRun r = run_plugin(env_for("ADD", dir_), netconf(agent.socket_path()).dump(),
                           /*close_stdout=*/true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(agent.calls(),
            (std::vector<std::string>{"POST /v1/ipam/allocate", "POST /v1/ipam/release"}));
}

// As root the plugin can enter a netns: our own one, whose Ethernet interface it must read.
TEST_F(PluginBinary, AddSendsTheMacWhenItCanReadIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns needs CAP_SYS_ADMIN";
  std::string ifname, mac;
  for (const auto& dev : std::filesystem::directory_iterator("/sys/class/net")) {
    std::ifstream type(dev.path() / "type"), address(dev.path() / "address");
    int arphrd = 0;
    if (type >> arphrd && arphrd == 1 && address >> mac && mac != "00:00:00:00:00:00") {
      ifname = dev.path().filename();
      break;
    }
  }
  if (ifname.empty()) GTEST_SKIP() << "no Ethernet interface in this netns";
  FakeAgent agent(routes({{"POST /v1/ipam/allocate", {200, kAllocateReply}}}));
  Env env = env_for("ADD", dir_);
  env["CNI_NETNS"] = "/proc/self/ns/net";
  env["CNI_IFNAME"] = ifname;
  PluginRun r = run(env, netconf(agent.socket_path()).dump());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(agent.requests().at(0).body["mac"], mac);
}

TEST_F(PluginBinary, AddWithoutReadableInterfaceSendsNoMac) {
  FakeAgent agent(routes({{"POST /v1/ipam/allocate", {200, kAllocateReply}}}));
  PluginRun r = run("ADD", netconf(agent.socket_path()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(agent.requests().at(0).body.contains("mac"));
  EXPECT_NE(r.err.find("sending no MAC"), std::string::npos) << r.err;  // stderr, never stdout
}

TEST_F(PluginBinary, AddAndDelWithoutAgentAreTryAgainLater) {
  const std::string socket = dir_.path() + "/agent.sock";
  for (const char* verb : {"ADD", "DEL"}) {
    PluginRun r = run(verb, netconf(socket));
    EXPECT_EQ(r.exit_code, 1) << verb;
    EXPECT_EQ(r.json(), (json{{"cniVersion", "1.0.0"},
                              {"code", 11},
                              {"msg", "ipfence-agent is not reachable at " + socket +
                                          ": Couldn't connect to server (No such file or "
                                          "directory); is the agent running on this node?"},
                              {"details", ""}}))
        << verb;
  }
}

TEST_F(PluginBinary, AddTimesOut) {
  FakeAgent agent([](const auto&) { return FakeResponse{.hang = true}; });
  json conf = netconf(agent.socket_path());
  conf["ipam"]["timeout"] = "300ms";
  PluginRun r = run("ADD", conf);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 11);
  EXPECT_NE(r.json()["msg"].get<std::string>().find("did not answer POST /v1/ipam/allocate within "
                                                    "ipam.timeout (0.3s)"),
            std::string::npos)
      << r.out;
}

TEST_F(PluginBinary, DelIsIdempotent) {
  FakeAgent agent(routes({{"POST /v1/ipam/release", {200, R"({"released": []})"}}}));
  for (int i = 0; i < 2; ++i) {
    PluginRun r = run("DEL", netconf(agent.socket_path()));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(agent.requests().at(0).body, (json{{"containerID", "c1"}, {"ifname", "eth0"}}));
}

TEST_F(PluginBinary, DelTreatsNotFoundAsDone) {
  FakeAgent agent(routes({}));  // every path answers 404 not_found
  PluginRun r = run("DEL", netconf(agent.socket_path()));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST_F(PluginBinary, DelReportsOtherAgentErrors) {
  FakeAgent agent(routes(
      {{"POST /v1/ipam/release",
        {500, R"({"error": {"code": "corrupt", "cniCode": 107, "message": "store damaged"}})"}}}));
  PluginRun r = run("DEL", netconf(agent.socket_path()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 107);
  EXPECT_EQ(r.json()["msg"], "store damaged");
}

TEST_F(PluginBinary, CheckSendsPrevResultIps) {
  FakeAgent agent(routes({{"POST /v1/ipam/check", {200, kAllocateReply}}}));
  json conf = netconf(agent.socket_path());
  conf["prevResult"] = {{"cniVersion", "1.0.0"},
                        {"ips", {{{"address", "10.6.168.133/16"}, {"gateway", "10.6.0.1"}}}}};
  PluginRun r = run("CHECK", conf);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(agent.requests().at(0).body,
            (json{{"containerID", "c1"}, {"ifname", "eth0"}, {"ips", {"10.6.168.133/16"}}}));
}

TEST_F(PluginBinary, CheckFailsWhenTheAllocationIsGone) {
  FakeAgent agent(
      routes({{"POST /v1/ipam/check", {404, R"({"error": {"code": "not_found", "cniCode": 102,
                                     "message": "no allocation for c1/eth0"}})"}}}));
  PluginRun r = run("CHECK", netconf(agent.socket_path()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 102);
  EXPECT_EQ(r.json()["msg"], "no allocation for c1/eth0");
}

TEST_F(PluginBinary, GcSendsValidAttachments) {
  FakeAgent agent(routes({{"POST /v1/ipam/gc", {200, R"({"released": []})"}}}));
  json conf = netconf(agent.socket_path(), "1.1.0");
  conf["cni.dev/valid-attachments"] = {{{"containerID", "c1"}, {"ifname", "eth0"}},
                                       {{"containerID", "c2"}, {"ifname", "net1"}}};
  PluginRun r = run_plugin({{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/opt/cni/bin"}}, conf.dump());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(agent.calls(), std::vector<std::string>{"POST /v1/ipam/gc"});
  EXPECT_EQ(agent.requests()[0].body, (json{{"network", "macvlan-ens192"},
                                            {"validAttachments",
                                             {{{"containerID", "c1"}, {"ifname", "eth0"}},
                                              {{"containerID", "c2"}, {"ifname", "net1"}}}}}));
}

TEST_F(PluginBinary, GcReportsWhatItCouldNotRelease) {
  FakeAgent agent(routes(
      {{"POST /v1/ipam/gc", {200, R"({"released": [], "errors": ["c3/eth0: store damaged"]})"}}}));
  json conf = netconf(agent.socket_path(), "1.1.0");
  conf["cni.dev/valid-attachments"] = nullptr;
  PluginRun r = run_plugin({{"CNI_COMMAND", "GC"}}, conf.dump());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 11);
  EXPECT_EQ(
      r.json()["msg"],
      "GC could not release 1 allocation(s) of network macvlan-ens192: c3/eth0: store damaged");
}

TEST_F(PluginBinary, GcAndStatusNeed110) {
  for (const char* verb : {"GC", "STATUS"}) {
    PluginRun r = run_plugin({{"CNI_COMMAND", verb}}, netconf("/nonexistent").dump());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.json(), (json{{"cniVersion", "1.0.0"},
                              {"code", 1},
                              {"msg", std::string(verb) + " needs cniVersion 1.1.0; the network "
                                                          "config says 1.0.0"},
                              {"details", ""}}));
  }
}

json status_body(long long available) {
  return {{"node", "node1"},
          {"version", "0.1.0 (abc123)"},
          {"store", {{"url", "file:///var/lib/ipfence"}, {"healthy", true}}},
          {"pools",
           {{{"name", "test-ippool"},
             {"ipVersion", 4},
             {"subnet", "10.6.0.0/16"},
             {"default", false},
             {"disable", false},
             {"total", 3},
             {"allocated", 3 - available},
             {"reserved", 2},
             {"available", available}}}}};
}

TEST_F(PluginBinary, StatusAvailable) {
  FakeAgent agent(routes({{"GET /v1/status", {200, status_body(1).dump()}}}));
  PluginRun r =
      run_plugin({{"CNI_COMMAND", "STATUS"}}, netconf(agent.socket_path(), "1.1.0").dump());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST_F(PluginBinary, StatusPoolsExhausted) {
  FakeAgent agent(routes({{"GET /v1/status", {200, status_body(0).dump()}}}));
  PluginRun r =
      run_plugin({{"CNI_COMMAND", "STATUS"}}, netconf(agent.socket_path(), "1.1.0").dump());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json(), (json{{"cniVersion", "1.1.0"},
                            {"code", 50},
                            {"msg",
                             "no IPv4 address is available in ipam.default_ipv4_ippool: "
                             "test-ippool (0 of 3 available)"},
                            {"details", ""}}));
}

TEST_F(PluginBinary, StatusAgentUnreachable) {
  const std::string socket = dir_.path() + "/agent.sock";
  PluginRun r = run_plugin({{"CNI_COMMAND", "STATUS"}}, netconf(socket, "1.1.0").dump());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 50);
  EXPECT_EQ(r.json()["msg"], "ipfence-agent is not reachable at " + socket +
                                 ": Couldn't connect to server (No such file or directory); is "
                                 "the agent running on this node?");
}

TEST_F(PluginBinary, StatusAgentError) {
  FakeAgent agent(routes({}));
  PluginRun r =
      run_plugin({{"CNI_COMMAND", "STATUS"}}, netconf(agent.socket_path(), "1.1.0").dump());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 50);
  EXPECT_EQ(r.json()["msg"], "ipfence-agent reports an error: no route");
}

TEST_F(PluginBinary, EnvErrorsSpeakTheRequestedVersion) {
  Env env = env_for("ADD", dir_);
  env.erase("CNI_IFNAME");
  PluginRun r = run(env, netconf("/nonexistent", "0.3.1").dump());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json(), (json{{"cniVersion", "0.3.1"},
                            {"code", 4},
                            {"msg",
                             "CNI_IFNAME is not set; ADD needs it: the interface name in "
                             "the container"},
                            {"details", ""}}));
}

TEST_F(PluginBinary, NoCommand) {
  PluginRun r = run_plugin({}, "");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 4);
  EXPECT_EQ(r.json()["cniVersion"], "1.1.0");
}

TEST_F(PluginBinary, UndecodableStdin) {
  PluginRun r = run(env_for("ADD", dir_), "{not json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 6);
  EXPECT_EQ(r.json()["cniVersion"], "1.1.0");
}

TEST_F(PluginBinary, UnsupportedVersionIsError1) {
  PluginRun r = run("ADD", netconf("/nonexistent", "0.2.0"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 1);
  EXPECT_EQ(r.json()["cniVersion"], "1.1.0");
}

TEST_F(PluginBinary, WrongIpamTypeIsError7) {
  json conf = netconf("/nonexistent");
  conf["ipam"]["type"] = "host-local";
  PluginRun r = run("ADD", conf);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.json()["code"], 7);
  EXPECT_EQ(r.json()["msg"], "ipam.type is \"host-local\"; this plugin is \"ipfence\"");
}

}  // namespace
}  // namespace ipfence::cni
