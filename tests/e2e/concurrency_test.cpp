// 100 pods at once through the real macvlan plugin and the real agent: every ADD succeeds
// with its own address, no reserved address is handed out, the store agrees with what the
// pods got, and 100 concurrent DELs leave nothing behind (no allocation, no link).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <latch>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr int kPods = 100;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs body(i) for i in [0, n) on n threads released together.
template <typename Body>
void run_together(int n, Body body) {
  std::latch start(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      body(i);
    });
  for (auto& thread : threads) thread.join();
}

// 10.6.168.a -> a, for addresses of 10.6.168.0/24; -1 otherwise.
int last_octet(const std::string& ip) {
  const std::string prefix = "10.6.168.";
  if (ip.rfind(prefix, 0) != 0) return -1;
  return std::stoi(ip.substr(prefix.size()));
}

TEST(ConcurrencyTest, HundredConcurrentAddsGetUniqueUnreservedIpsAndDelsLeaveNothing) {
  AgentNode node(unique_name("conc"));
  const std::string master = node.topology().master();
  node.apply(seed_multus_config(master));
  // 10 reserved IPs in two runs, both inside the part of the pool 100 pods use up.
  const std::vector<std::string> reserved_ranges{"10.6.168.10-10.6.168.14",
                                                 "10.6.168.60-10.6.168.64"};
  std::set<std::string> reserved;
  for (int a : {10, 11, 12, 13, 14, 60, 61, 62, 63, 64})
    reserved.insert("10.6.168." + std::to_string(a));
  node.apply(reservedip_yaml("conc-reservedip", reserved_ranges));
  node.apply(ippool_yaml("conc-ippool", "10.6.0.0/16", {"10.6.168.1-10.6.168.250"}));
  CniRuntime runtime = edited_runtime(node, node.runtime("macvlan-" + master), [](json& list) {
    list["plugins"][0]["ipam"]["default_ipv4_ippool"] = {"conc-ippool"};
  });

  auto started = Clock::now();
  std::vector<const Netns*> pods;
  std::vector<CniCall> calls;
  for (int i = 0; i < kPods; ++i) {
    pods.push_back(&node.topology().add_pod("c" + std::to_string(i)));
    calls.push_back(
        pod_attachment(*pods.back(), "conc-" + std::to_string(i), "app-" + std::to_string(i)));
  }
  const double setup_seconds = seconds_since(started);

  // Each thread is one runtime call path: its own copy of the runtime (the result cache is
  // per copy), its own pod namespace.
  std::vector<CniRuntime> runtimes(kPods, runtime);
  std::vector<CniOutcome> adds(kPods);
  std::vector<std::string> pod_addrs(kPods);
  started = Clock::now();
  run_together(kPods, [&](int i) {
    adds[i] = runtimes[i].add(calls[i]);
    if (adds[i].ok())
      pod_addrs[i] = sh_result("ip netns exec " + pods[i]->name() + " ip -4 -o addr show eth0").out;
  });
  const double add_seconds = seconds_since(started);

  std::set<std::string> ips;
  std::map<std::string, std::string> mac_of;  // containerID -> MAC of the pod's link
  int failed = 0;
  for (int i = 0; i < kPods; ++i) {
    if (!adds[i].ok()) {
      if (++failed <= 5)
        ADD_FAILURE() << "ADD " << calls[i].container_id << ": " << adds[i].output.dump() << " "
                      << adds[i].stderr_text;
      continue;
    }
    const std::string address = result_address(adds[i]);
    const std::string ip = without_prefix(address);
    EXPECT_EQ(address, ip + "/16");
    ips.insert(ip);
    EXPECT_EQ(reserved.count(ip), 0u) << calls[i].container_id << " got reserved " << ip;
    EXPECT_THAT(last_octet(ip), ::testing::AllOf(::testing::Ge(1), ::testing::Le(250))) << ip;
    EXPECT_THAT(pod_addrs[i], HasSubstr("inet " + address)) << calls[i].container_id;
    mac_of[calls[i].container_id] = adds[i].output.at("interfaces").at(0).at("mac");
  }
  ASSERT_EQ(failed, 0) << failed << " of " << kPods << " ADDs failed";
  EXPECT_EQ(ips.size(), static_cast<std::size_t>(kPods)) << "addresses handed out twice";

  // The store holds exactly these 100, each once, each bound to its pod's MAC.
  json stored = stored_allocations(node);
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(kPods));
  std::multiset<std::string> stored_set;
  std::set<std::string> containers;
  for (const auto& item : stored) {
    stored_set.insert(item.at("ip").get<std::string>());
    const std::string container = item.at("containerID");
    containers.insert(container);
    EXPECT_EQ(item.value("mac", ""), mac_of[container]) << container;
  }
  EXPECT_EQ(stored_set, std::multiset<std::string>(ips.begin(), ips.end()));
  EXPECT_EQ(containers.size(), static_cast<std::size_t>(kPods));
  auto [status_code, status] = node.agent_request("GET", "/v1/status");
  ASSERT_EQ(status_code, 200);
  ASSERT_EQ(status.at("pools").size(), 1u);
  EXPECT_EQ(status["pools"][0].at("allocated"), kPods);
  EXPECT_EQ(status["pools"][0].at("available"), 250 - 10 - kPods);

  std::vector<CniOutcome> dels(kPods);
  started = Clock::now();
  run_together(kPods, [&](int i) { dels[i] = runtimes[i].del(calls[i]); });
  const double del_seconds = seconds_since(started);
  failed = 0;
  for (int i = 0; i < kPods; ++i)
    if (!dels[i].ok() && ++failed <= 5)
      ADD_FAILURE() << "DEL " << calls[i].container_id << ": " << dels[i].output.dump() << " "
                    << dels[i].stderr_text;
  EXPECT_EQ(failed, 0);

  // Nothing leaks: no allocation, no pod link, no macvlan left on the node.
  EXPECT_TRUE(stored_allocations(node).empty());
  int links_left = 0;
  for (const Netns* pod : pods) links_left += link_gone(*pod) ? 0 : 1;
  EXPECT_EQ(links_left, 0);
  EXPECT_EQ(node.topology().node().sh("ip -o link show | wc -l"), "2\n")
      << node.topology().node().sh("ip -o link show");
  auto [after_code, after] = node.agent_request("GET", "/v1/status");
  ASSERT_EQ(after_code, 200);
  EXPECT_EQ(after["pools"][0].at("allocated"), 0);
  EXPECT_EQ(after["pools"][0].at("available"), 240);

  std::cout << "[ timing ] " << kPods << " pod namespaces " << setup_seconds << " s, " << kPods
            << " concurrent ADDs " << add_seconds << " s, " << kPods << " concurrent DELs "
            << del_seconds << " s\n";
  ::testing::Test::RecordProperty("add_seconds", std::to_string(add_seconds));
  ::testing::Test::RecordProperty("del_seconds", std::to_string(del_seconds));
  if (HasFailure()) std::cerr << "agent log:\n" << node.agent().log();
}

// A node with the seed's SpiderMultusConfig, one pool and its reserved IPs, and `pods` pod
// namespaces, for the smaller concurrency cases.
struct SmallPoolNode {
  SmallPoolNode(const std::string& tag, const std::vector<std::string>& pool_ranges,
                const std::vector<std::string>& reserved_ranges, int pods)
      : node(unique_name(tag)) {
    node.apply(seed_multus_config(node.topology().master()));
    node.apply(reservedip_yaml(tag + "-reservedip", reserved_ranges));
    node.apply(ippool_yaml(tag + "-ippool", "10.6.0.0/16", pool_ranges));
    runtime.emplace(
        edited_runtime(node, node.runtime("macvlan-" + node.topology().master()), [&](json& list) {
          list["plugins"][0]["ipam"]["default_ipv4_ippool"] = {tag + "-ippool"};
        }));
    for (int i = 0; i < pods; ++i) {
      namespaces.push_back(&node.topology().add_pod(tag + std::to_string(i)));
      calls.push_back(pod_attachment(*namespaces.back(), tag + "-" + std::to_string(i),
                                     "app-" + std::to_string(i)));
      runtimes.push_back(*runtime);
    }
  }

  AgentNode node;
  std::optional<CniRuntime> runtime;
  std::vector<const Netns*> namespaces;
  std::vector<CniCall> calls;
  std::vector<CniRuntime> runtimes;  // one per pod: each keeps its pod's cached result
};

// More pods than free addresses, all at once: exactly as many ADDs succeed as there are free
// addresses, the rest fail with 103, and no address is handed out twice.
TEST(ConcurrencyTest, ConcurrentAddsBeyondThePoolFailWithExhaustedAndNeverShare) {
  constexpr int kPodsHere = 30;
  // 30 IPs, 10 reserved: 20 free.
  SmallPoolNode small("exh", {"10.6.169.1-10.6.169.30"}, {"10.6.169.1-10.6.169.10"}, kPodsHere);
  std::vector<CniOutcome> adds(kPodsHere);
  run_together(kPodsHere, [&](int i) { adds[i] = small.runtimes[i].add(small.calls[i]); });

  std::set<std::string> ips;
  int ok = 0;
  for (int i = 0; i < kPodsHere; ++i) {
    if (adds[i].ok()) {
      ++ok;
      const std::string ip = without_prefix(result_address(adds[i]));
      EXPECT_TRUE(ips.insert(ip).second) << ip << " handed out twice";
      EXPECT_EQ(ip.rfind("10.6.169.", 0), 0u) << ip;
      EXPECT_GT(std::stoi(ip.substr(ip.rfind('.') + 1)), 10) << ip << " is reserved";
    } else {
      EXPECT_EQ(adds[i].code(), 103) << adds[i].output.dump();
      EXPECT_EQ(adds[i].msg(),
                "IPPool exh-ippool: all IPs have been exhausted (30 IPs: 10 reserved, 20 "
                "allocated)");
      EXPECT_TRUE(link_gone(*small.namespaces[i])) << small.calls[i].container_id;
    }
  }
  EXPECT_EQ(ok, 20);
  std::multiset<std::string> stored = stored_ips(small.node);
  EXPECT_EQ(stored, std::multiset<std::string>(ips.begin(), ips.end()));

  std::vector<CniOutcome> dels(kPodsHere);
  run_together(kPodsHere, [&](int i) { dels[i] = small.runtimes[i].del(small.calls[i]); });
  for (int i = 0; i < kPodsHere; ++i)
    EXPECT_TRUE(dels[i].ok()) << small.calls[i].container_id << ": " << dels[i].output.dump();
  EXPECT_TRUE(stored_allocations(small.node).empty());
  if (HasFailure()) std::cerr << "agent log:\n" << small.node.agent().log();
}

// Churn: old pods go while new ones come, all at once, in a pool too small for both. New
// pods that find the pool exhausted retry (as kubelet does) after the old ones are gone;
// in the end every new pod has its own address and the old ones hold nothing.
TEST(ConcurrencyTest, ConcurrentDelsAndAddsReuseAddressesWithoutSharing) {
  constexpr int kOld = 40, kNew = 40;
  // 60 IPs, 10 reserved: 50 free, so the new pods need addresses the old ones release.
  SmallPoolNode churn("churn", {"10.6.170.1-10.6.170.60"}, {"10.6.170.21-10.6.170.30"},
                      kOld + kNew);
  std::vector<CniOutcome> old_adds(kOld);
  run_together(kOld, [&](int i) { old_adds[i] = churn.runtimes[i].add(churn.calls[i]); });
  for (int i = 0; i < kOld; ++i) ASSERT_TRUE(old_adds[i].ok()) << old_adds[i].output.dump();

  std::vector<CniOutcome> results(kOld + kNew);
  run_together(kOld + kNew, [&](int i) {
    results[i] =
        i < kOld ? churn.runtimes[i].del(churn.calls[i]) : churn.runtimes[i].add(churn.calls[i]);
  });
  int retried = 0;
  for (int i = 0; i < kOld; ++i) EXPECT_TRUE(results[i].ok()) << results[i].output.dump();
  for (int i = kOld; i < kOld + kNew; ++i) {
    if (results[i].ok()) continue;
    EXPECT_EQ(results[i].code(), 103) << results[i].output.dump();
    ++retried;
    results[i] = churn.runtimes[i].add(churn.calls[i]);
    EXPECT_TRUE(results[i].ok()) << results[i].output.dump();
  }
  std::cout << "[ info ] " << retried << " of " << kNew << " new pods retried after 103\n";

  const std::set<std::string> reserved_octets{"21", "22", "23", "24", "25",
                                              "26", "27", "28", "29", "30"};
  std::set<std::string> ips;
  for (int i = kOld; i < kOld + kNew; ++i) {
    const std::string address = result_address(results[i]);
    const std::string ip = without_prefix(address);
    EXPECT_TRUE(ips.insert(ip).second) << ip << " handed out twice";
    EXPECT_EQ(reserved_octets.count(ip.substr(ip.rfind('.') + 1)), 0u) << ip << " is reserved";
    EXPECT_THAT(
        sh_result("ip netns exec " + churn.namespaces[i]->name() + " ip -4 -o addr show eth0").out,
        HasSubstr("inet " + address));
  }
  EXPECT_EQ(stored_ips(churn.node), std::multiset<std::string>(ips.begin(), ips.end()));
  for (const auto& item : stored_allocations(churn.node))
    EXPECT_GE(std::stoi(item.at("containerID").get<std::string>().substr(6)), kOld)
        << "an old pod still holds " << item.at("ip");
  for (int i = 0; i < kOld; ++i) EXPECT_TRUE(link_gone(*churn.namespaces[i]));

  std::vector<CniOutcome> dels(kNew);
  run_together(kNew, [&](int i) { dels[i] = churn.runtimes[kOld + i].del(churn.calls[kOld + i]); });
  for (int i = 0; i < kNew; ++i) EXPECT_TRUE(dels[i].ok()) << dels[i].output.dump();
  EXPECT_TRUE(stored_allocations(churn.node).empty());
  if (HasFailure()) std::cerr << "agent log:\n" << churn.node.agent().log();
}

}  // namespace
}  // namespace ipfence::e2e
