// The agent dies (SIGKILL: no graceful stop, the socket file stays behind) between a pod's
// ADD and its DEL, and comes back: the store is the truth, so the DEL releases, the next ADD
// gets an address nobody holds, and a DEL the runtime tried while the agent was down fails
// with 11 and succeeds when retried.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <latch>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::set<std::string> kReserved{"10.6.168.131", "10.6.168.132"};

class AgentRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<AgentNode>(unique_name("restart"));
    const std::string master = node_->topology().master();
    node_->apply(seed_multus_config(master));
    node_->apply(reservedip_yaml("test-reservedip", {"10.6.168.131-10.6.168.132"}));
    node_->apply(ippool_yaml("test-ippool", "10.6.0.0/16", {"10.6.168.131-10.6.168.160"}));
    runtime_.emplace(edited_runtime(*node_, node_->runtime("macvlan-" + master), [](json& list) {
      list["plugins"][0]["ipam"]["default_ipv4_ippool"] = {"test-ippool"};
    }));
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << "agent log:\n" << node_->agent().log();
  }

  // ADD through macvlan; returns the pod's IP (without prefix), "" on failure.
  std::string add(const CniCall& call) {
    CniOutcome added = runtime_->add(call);
    EXPECT_TRUE(added.ok()) << call.container_id << ": " << added.output.dump()
                            << added.stderr_text;
    return added.ok() ? without_prefix(result_address(added)) : "";
  }

  void kill_agent() {
    EXPECT_EQ(node_->stop_agent(9), 128 + 9);
    EXPECT_FALSE(node_->agent().running());
  }

  // The plugin's message when the socket file is there but nobody accepts (after SIGKILL).
  std::string refused_message() const {
    return "ipfence-agent is not reachable at " + node_->socket() +
           ": Couldn't connect to server (Connection refused); is the agent running on this "
           "node?";
  }

  std::unique_ptr<AgentNode> node_;
  std::optional<CniRuntime> runtime_;
};

TEST_F(AgentRestartTest, SigkillBetweenAddAndDelThenDelReleasesAndNextAddIsUnique) {
  const Netns& pod1 = node_->topology().add_pod("p1");
  const Netns& pod2 = node_->topology().add_pod("p2");
  const CniCall call1 = pod_attachment(pod1, "c1", "app-1");
  const CniCall call2 = pod_attachment(pod2, "c2", "app-2");
  const std::string ip1 = add(call1);
  const std::string ip2 = add(call2);
  ASSERT_FALSE(ip1.empty());
  ASSERT_FALSE(ip2.empty());

  kill_agent();
  EXPECT_EQ(stored_ips(*node_), (std::multiset<std::string>{ip1, ip2}));
  node_->start_agent();

  // The restarted agent knows both pods: CHECK passes, a repeated ADD answers the same.
  CniOutcome checked = runtime_->check(call1);
  EXPECT_TRUE(checked.ok()) << checked.output.dump();
  CniOutcome again = runtime_->exec("ipfence", "ADD", direct_netconf(*runtime_, "1.0.0"), call2);
  ASSERT_TRUE(again.ok()) << again.output.dump();
  EXPECT_EQ(without_prefix(result_address(again)), ip2);

  // The next ADD gets an address nobody holds.
  const Netns& pod3 = node_->topology().add_pod("p3");
  const CniCall call3 = pod_attachment(pod3, "c3", "app-3");
  const std::string ip3 = add(call3);
  ASSERT_FALSE(ip3.empty());
  EXPECT_NE(ip3, ip1);
  EXPECT_NE(ip3, ip2);
  EXPECT_EQ(kReserved.count(ip3), 0u) << ip3;

  // DEL of the pod added before the crash releases its address.
  CniOutcome deleted = runtime_->del(call1);
  EXPECT_TRUE(deleted.ok()) << deleted.output.dump() << deleted.stderr_text;
  EXPECT_TRUE(link_gone(pod1));
  EXPECT_EQ(stored_ips(*node_), (std::multiset<std::string>{ip2, ip3}));

  const Netns& pod4 = node_->topology().add_pod("p4");
  const CniCall call4 = pod_attachment(pod4, "c4", "app-4");
  const std::string ip4 = add(call4);
  ASSERT_FALSE(ip4.empty());
  EXPECT_NE(ip4, ip2);
  EXPECT_NE(ip4, ip3);
  EXPECT_EQ(kReserved.count(ip4), 0u) << ip4;
  EXPECT_EQ(stored_ips(*node_), (std::multiset<std::string>{ip2, ip3, ip4}));
  EXPECT_THAT(pod4.sh("ip -4 addr show eth0"), HasSubstr("inet " + ip4 + "/16"));

  for (const CniCall* call : {&call2, &call3, &call4}) {
    CniOutcome del = runtime_->del(*call);
    EXPECT_TRUE(del.ok()) << call->container_id << ": " << del.output.dump();
  }
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

TEST_F(AgentRestartTest, DelWhileTheAgentIsDeadFailsWith11AndTheRetrySucceeds) {
  const Netns& pod1 = node_->topology().add_pod("p1");
  const CniCall call1 = pod_attachment(pod1, "c1", "app-1");
  const std::string ip1 = add(call1);
  ASSERT_FALSE(ip1.empty());

  kill_agent();
  CniOutcome del = runtime_->del(call1);
  EXPECT_FALSE(del.ok());
  EXPECT_EQ(del.code(), 11) << del.output.dump();
  EXPECT_EQ(del.msg(), refused_message());
  // Nothing was released behind the runtime's back, and macvlan kept the link for the retry.
  EXPECT_EQ(stored_ips(*node_), std::multiset<std::string>{ip1});
  EXPECT_FALSE(link_gone(pod1));

  // An ADD while the agent is down fails the same way.
  const Netns& pod2 = node_->topology().add_pod("p2");
  const CniCall call2 = pod_attachment(pod2, "c2", "app-2");
  CniOutcome add_down = runtime_->add(call2);
  EXPECT_EQ(add_down.code(), 11) << add_down.output.dump();
  EXPECT_EQ(add_down.msg(), refused_message());

  node_->start_agent();
  CniOutcome retried = runtime_->del(call1);
  EXPECT_TRUE(retried.ok()) << retried.output.dump() << retried.stderr_text;
  EXPECT_TRUE(link_gone(pod1));
  EXPECT_TRUE(stored_allocations(*node_).empty());

  // The runtime retries the failed ADD's teardown, then the ADD: one address, nobody else's.
  EXPECT_TRUE(runtime_->del(call2).ok());
  EXPECT_TRUE(link_gone(pod2));
  const std::string ip2 = add(call2);
  ASSERT_FALSE(ip2.empty());
  EXPECT_EQ(kReserved.count(ip2), 0u) << ip2;
  EXPECT_EQ(stored_ips(*node_), std::multiset<std::string>{ip2});
  EXPECT_TRUE(runtime_->del(call2).ok());
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

// A hung agent (SIGSTOP) is not a dead one: the socket accepts, nobody answers. The plugin
// gives up after ipam.timeout with 11; when the agent wakes up it may still carry out the
// abandoned ADD, and the runtime's retried DEL releases that.
TEST_F(AgentRestartTest, HungAgentTimesOutWith11AndTheRetriedDelCleansUp) {
  CniRuntime runtime = edited_runtime(
      *node_, *runtime_, [](json& list) { list["plugins"][0]["ipam"]["timeout"] = "500ms"; });
  const Netns& pod = node_->topology().add_pod("p1");
  const CniCall call = pod_attachment(pod, "c1", "app-1");
  const pid_t agent = node_->agent().pid();
  ASSERT_EQ(::kill(agent, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{agent};

  CniOutcome add = runtime.add(call);
  EXPECT_EQ(add.code(), 11) << add.output.dump();
  // curl's own words in the middle carry the milliseconds it really waited.
  EXPECT_THAT(add.msg(), StartsWith("ipfence-agent at " + node_->socket() +
                                    " did not answer POST /v1/ipam/allocate within "
                                    "ipam.timeout (0.5s): Operation timed out after "));
  EXPECT_THAT(add.msg(), EndsWith(" with 0 bytes received; is the agent overloaded or stuck?"));
  ::kill(agent, SIGCONT);
  // Whatever the woken agent did with the abandoned requests, the retried DEL settles it.
  wait_until([&] { return node_->agent_request("GET", "/v1/healthz").first == 200; });
  CniOutcome del = runtime.del(call);
  EXPECT_TRUE(del.ok()) << del.output.dump() << del.stderr_text;
  EXPECT_TRUE(link_gone(pod));
  EXPECT_TRUE(stored_allocations(*node_).empty()) << stored_allocations(*node_).dump();

  // And the pod starts normally on the runtime's next try.
  CniOutcome added = runtime.add(call);
  ASSERT_TRUE(added.ok()) << added.output.dump();
  EXPECT_EQ(stored_ips(*node_), std::multiset<std::string>{without_prefix(result_address(added))});
  EXPECT_TRUE(runtime.del(call).ok());
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

// SIGKILL while ADDs are in flight: whatever each ADD returned, after the restart and the
// runtime's retried DELs for the failed ones, the store holds exactly the pods that got an
// address, each address once.
TEST_F(AgentRestartTest, SigkillDuringConcurrentAddsLeavesAConsistentStore) {
  constexpr int kPods = 16;
  std::vector<const Netns*> pods;
  std::vector<CniCall> calls;
  for (int i = 0; i < kPods; ++i) {
    pods.push_back(&node_->topology().add_pod("k" + std::to_string(i)));
    calls.push_back(
        pod_attachment(*pods.back(), "k" + std::to_string(i), "app-k" + std::to_string(i)));
  }
  std::vector<CniRuntime> runtimes(kPods, *runtime_);
  std::vector<CniOutcome> adds(kPods);
  std::latch start(kPods + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      adds[i] = runtimes[i].add(calls[i]);
    });
  start.arrive_and_wait();
  // Kill once a few allocations are through, so that others are still in flight.
  auto allocated = [&] {
    const std::string log = node_->agent().log();
    int n = 0;
    for (auto at = log.find("allocated containerID="); at != std::string::npos;
         at = log.find("allocated containerID=", at + 1))
      ++n;
    return n;
  };
  wait_until([&] { return allocated() >= 3; }, std::chrono::seconds(10));
  kill_agent();
  for (auto& thread : threads) thread.join();

  // Only "worked" or "try again later": never a corrupt answer.
  int succeeded = 0;
  for (int i = 0; i < kPods; ++i) {
    if (adds[i].ok()) {
      ++succeeded;
    } else {
      EXPECT_EQ(adds[i].code(), 11) << calls[i].container_id << ": " << adds[i].output.dump();
    }
  }
  std::cout << "[ info ] " << succeeded << " of " << kPods << " ADDs finished before SIGKILL\n";

  node_->start_agent();
  // The runtime retries DEL for each failed ADD (its teardown could not reach the agent).
  for (int i = 0; i < kPods; ++i) {
    if (adds[i].ok()) continue;
    CniOutcome del = runtimes[i].del(calls[i]);
    EXPECT_TRUE(del.ok()) << calls[i].container_id << ": " << del.output.dump();
  }
  std::multiset<std::string> expected;
  for (int i = 0; i < kPods; ++i)
    if (adds[i].ok()) expected.insert(without_prefix(result_address(adds[i])));
  EXPECT_EQ(stored_ips(*node_), expected);
  EXPECT_EQ(std::set<std::string>(expected.begin(), expected.end()).size(), expected.size());

  // Retry the failed ADDs: every pod ends up with its own address.
  std::set<std::string> all(expected.begin(), expected.end());
  for (int i = 0; i < kPods; ++i) {
    if (adds[i].ok()) continue;
    CniOutcome added = runtimes[i].add(calls[i]);
    EXPECT_TRUE(added.ok()) << calls[i].container_id << ": " << added.output.dump();
    const std::string ip = without_prefix(result_address(added));
    EXPECT_TRUE(all.insert(ip).second) << ip << " handed out twice";
    EXPECT_EQ(kReserved.count(ip), 0u) << ip;
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kPods));
  EXPECT_EQ(stored_ips(*node_).size(), static_cast<std::size_t>(kPods));

  for (int i = 0; i < kPods; ++i) {
    CniOutcome del = runtimes[i].del(calls[i]);
    EXPECT_TRUE(del.ok()) << calls[i].container_id << ": " << del.output.dump();
    EXPECT_TRUE(link_gone(*pods[i]));
  }
  EXPECT_TRUE(stored_allocations(*node_).empty());
}

}  // namespace
}  // namespace ipfence::e2e
