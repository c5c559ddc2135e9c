// Cluster-wide IPAM on a real etcd (Debian's etcd-server): agents as separate processes on
// simulated nodes (each its own namespace, master veth, socket and node name), wired to an
// etcd cluster in a namespace of its own (etcd_cluster.h).
//
// - 4 agents, 250 concurrent allocations each, from one pool of exactly 1,000 IPs, partly
//   through the real CNI plugin and macvlan, while one of 3 etcd members is SIGKILLed: every
//   IP is handed out exactly once, the 1,001st request is refused as exhausted, and after
//   the releases no key is left in etcd and every agent counts 0 allocated.
// - A SpiderReservedIP applied with `ipfencectl --store etcd://...` on one node is refused
//   by all 4 agents (and in their guards' reserved prefixes) within 1 s.
// - etcd unreachable: ADD and DEL fail with CNI code 11 naming the endpoints within the
//   timeout, /v1/status and ipfence_store_up say so, and the agent recovers by itself.
// - An ADD whose answer from etcd is lost: code 11, and the retried ADD gets the IP that was
//   applied, once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "ipam/ip_address.h"
#include "tests/e2e/support/agent_api.h"
#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/etcd_cluster.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kPrefix = "/ipfence-e2e/";
constexpr const char* kPool = "cluster-pool";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// N simulated nodes with an agent each, on one etcd cluster. The cluster is declared first
// so that it outlives the agents.
class Cluster {
 public:
  struct Options {
    int etcd_members = 1;
    int nodes = 1;
    std::string store_timeout = "2s";
    bool guard = false;
  };

  Cluster(const std::string& tag, Options options)
      : etcd_(unique_name(tag + "-e"), options.etcd_members) {
    for (int i = 0; i < options.nodes; ++i) {
      AgentNodeOptions node_options;
      node_options.node_name = "node" + std::to_string(i + 1);
      node_options.start_agent = false;
      node_options.ctl_in_node_netns = true;
      if (options.guard) {
        bpffs_.push_back(std::make_unique<BpffsMount>());
        node_options.extra_agent_args = {bpffs_.back()->agent_flag()};
      }
      nodes_.push_back(std::make_unique<AgentNode>(unique_name(tag + std::to_string(i)),
                                                   std::move(node_options)));
      AgentNode& node = *nodes_.back();
      node.set_store_url(etcd_.attach(node.topology().node(),
                                      "?timeout=" + options.store_timeout + "&prefix=" + kPrefix));
    }
    // In parallel: each agent waits for its first list and watch.
    std::vector<std::thread> starts;
    std::mutex mu;
    std::string failures;
    for (auto& node : nodes_)
      starts.emplace_back([&, n = node.get()] {
        try {
          n->start_agent();
        } catch (const std::exception& e) {
          std::lock_guard lock(mu);
          failures += e.what();
        }
      });
    for (auto& t : starts) t.join();
    if (!failures.empty()) throw std::runtime_error(failures);
  }

  EtcdCluster& etcd() { return etcd_; }
  AgentNode& node(int i) { return *nodes_.at(i); }
  int size() const { return static_cast<int>(nodes_.size()); }

  // The seed's SpiderMultusConfig (master ens192 on every node) and one pool, applied on
  // node1 with ipfencectl; returns once every agent has the pool and its conflist.
  void apply_pool(const std::string& first, const std::string& last) {
    node(0).apply(seed_multus_config("ens192"));
    node(0).apply(ippool_yaml(kPool, "10.40.0.0/16", {first + "-" + last}));
    for (auto& node : nodes_) {
      if (!wait_for_pool(*node, kPool)) throw std::runtime_error("agent never saw the pool");
      runtimes_.push_back(edited_runtime(*node, node->runtime("macvlan-ens192"), [](json& list) {
        list["plugins"][0]["ipam"]["default_ipv4_ippool"] = {kPool};
      }));
    }
  }
  const CniRuntime& runtime(int i) const { return runtimes_.at(i); }

  // The pool's line of each agent's /v1/status.
  json pool_status(int i) {
    auto [code, body] = node(i).agent_request("GET", "/v1/status");
    if (code != 200) return nullptr;
    for (const auto& pool : body["pools"])
      if (pool.value("name", "") == kPool) return pool;
    return nullptr;
  }

  void dump_logs_on_failure() {
    if (!::testing::Test::HasFailure()) return;
    for (auto& node : nodes_) {
      const std::string log = node->agent().log();
      std::cerr << "---- agent " << node->dir() << " (last 3000 bytes):\n"
                << (log.size() > 3000 ? log.substr(log.size() - 3000) : log) << "\n";
    }
  }

 private:
  EtcdCluster etcd_;
  std::vector<std::unique_ptr<BpffsMount>> bpffs_;  // outlive the agents that pin on them
  std::vector<std::unique_ptr<AgentNode>> nodes_;
  std::vector<CniRuntime> runtimes_;
};

// Every address of 10.40.0.1-10.40.3.232 as text.
std::set<std::string> pool_addresses(const std::string& first, int count) {
  std::set<std::string> out;
  const auto start = *ipam::IpAddress::parse(first);
  for (int i = 0; i < count; ++i)
    out.insert(ipam::IpAddress(ipam::IpFamily::v4, start.value() + i).to_string());
  return out;
}

// Runs body(i) for i in [0, n) on n threads released together.
template <typename Body>
void run_together(int n, Body body) {
  std::latch start(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      body(i);
    });
  for (auto& thread : threads) thread.join();
}

// (a) + (b): 4 agents x 250 from one pool of 1,000 while an etcd member dies.
TEST(ClusterTest, FourAgentsShareAThousandIpsExactlyOnceWhileAnEtcdMemberIsKilled) {
  constexpr int kNodes = 4, kEach = 250, kPluginEach = 25, kApiThreads = 4, kPluginThreads = 5;
  const auto setup_started = Clock::now();
  Cluster cluster("cl", {.etcd_members = 3, .nodes = kNodes});
  cluster.apply_pool("10.40.0.1", "10.40.3.232");
  const double cluster_seconds = seconds_since(setup_started);
  const std::set<std::string> pool = pool_addresses("10.40.0.1", 1000);
  ASSERT_EQ(pool.size(), 1000u);

  // Pods for the plugin's share, made before the clock starts.
  struct PluginPod {
    int node;
    CniCall call;
    CniRuntime runtime;
    CniOutcome add;
  };
  std::vector<PluginPod> pods;
  for (int n = 0; n < kNodes; ++n)
    for (int i = 0; i < kPluginEach; ++i) {
      const Netns& ns = cluster.node(n).topology().add_pod("p" + std::to_string(i));
      const std::string id = "n" + std::to_string(n) + "-pod" + std::to_string(i);
      pods.push_back({n, pod_attachment(ns, id, id), cluster.runtime(n), {}});
    }

  // Kill the raft leader once a third of the allocations are done: transactions wait for
  // a new election, and agents whose preferred endpoint it was fail over.
  const int leader = cluster.etcd().leader();
  ASSERT_GE(leader, 0);
  std::atomic<int> done{0};
  std::atomic<int> done_at_kill{-1};
  std::thread killer([&] {
    const auto deadline = Clock::now() + 60s;
    while (done.load() < 330 && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
    cluster.etcd().kill(leader);
    done_at_kill = done.load();
  });

  struct ApiAlloc {
    int node;
    std::string container;
    ApiAnswer answer;
  };
  std::vector<ApiAlloc> api;
  for (int n = 0; n < kNodes; ++n)
    for (int i = 0; i < kEach - kPluginEach; ++i)
      api.push_back({n, "n" + std::to_string(n) + "-api" + std::to_string(i), {}});

  const double setup_seconds = seconds_since(setup_started);
  const auto started = Clock::now();
  const int api_workers = kNodes * kApiThreads, plugin_workers = kNodes * kPluginThreads;
  run_together(api_workers + plugin_workers, [&](int w) {
    if (w < api_workers) {
      const int node = w / kApiThreads, lane = w % kApiThreads;
      for (auto& a : api) {
        if (a.node != node || (&a - api.data()) % kApiThreads != lane) continue;
        a.answer = agent_call_retrying(cluster.node(node).socket(), "POST", "/v1/ipam/allocate",
                                       allocate_body(a.container, kPool));
        ++done;
      }
    } else {
      const int p = w - api_workers, node = p / kPluginThreads, lane = p % kPluginThreads;
      for (std::size_t i = 0; i < pods.size(); ++i) {
        PluginPod& pod = pods[i];
        if (pod.node != node || static_cast<int>(i) % kPluginThreads != lane) continue;
        for (int tries = 0; tries < 20; ++tries) {
          pod.add = pod.runtime.add(pod.call);
          if (pod.add.ok() || pod.add.code() != 11) break;
          std::this_thread::sleep_for(50ms);
        }
        ++done;
      }
    }
  });
  const double allocate_seconds = seconds_since(started);
  killer.join();
  EXPECT_THAT(done_at_kill.load(), ::testing::AllOf(::testing::Ge(330), ::testing::Lt(900)))
      << "the leader was not killed during the run";

  // Every IP of the pool exactly once.
  std::multiset<std::string> got;
  int failed = 0, retried = 0;
  for (const auto& a : api) {
    retried += a.answer.tries > 1;
    if (!a.answer.ok()) {
      if (++failed <= 5) ADD_FAILURE() << a.container << ": " << a.answer.body.dump();
      continue;
    }
    got.insert(allocated_ip(a.answer));
  }
  for (const auto& pod : pods) {
    if (!pod.add.ok()) {
      if (++failed <= 5) ADD_FAILURE() << pod.call.container_id << ": " << pod.add.output.dump();
      continue;
    }
    got.insert(without_prefix(result_address(pod.add)));
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(got.size(), 1000u);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), pool) << "an IP twice, or one missing";
  EXPECT_EQ(cluster.etcd().count_keys(std::string(kPrefix) + "ips/"), 1000);
  EXPECT_EQ(cluster.etcd().count_keys(std::string(kPrefix) + "attachments/"), 1000);

  // The 1,001st request, on every node: through the API, and through the plugin on node1.
  for (int n = 0; n < kNodes; ++n) {
    ApiAnswer more = agent_call_retrying(cluster.node(n).socket(), "POST", "/v1/ipam/allocate",
                                         allocate_body("one-too-many-" + std::to_string(n), kPool));
    EXPECT_FALSE(more.ok());
    EXPECT_EQ(more.cni_code(), 103) << more.body.dump();
    EXPECT_THAT(more.message(), HasSubstr("all IPs have been exhausted"));
  }
  {
    const Netns& ns = cluster.node(0).topology().add_pod("extra");
    CniRuntime runtime = cluster.runtime(0);
    CniOutcome more = runtime.add(pod_attachment(ns, "one-too-many-cni", "extra"));
    EXPECT_FALSE(more.ok());
    EXPECT_EQ(more.code(), 103) << more.output.dump();
    EXPECT_THAT(more.msg(), HasSubstr("all IPs have been exhausted"));
  }

  // Release everything, concurrently, with the member still down.
  const auto release_started = Clock::now();
  run_together(api_workers + plugin_workers, [&](int w) {
    if (w < api_workers) {
      for (std::size_t i = w; i < api.size(); i += api_workers) {
        ApiAnswer released =
            agent_call_retrying(cluster.node(api[i].node).socket(), "POST", "/v1/ipam/release",
                                release_body(api[i].container));
        EXPECT_TRUE(released.ok()) << api[i].container << ": " << released.body.dump();
      }
    } else {
      for (std::size_t i = w - api_workers; i < pods.size(); i += plugin_workers) {
        CniOutcome del;
        for (int tries = 0; tries < 20; ++tries) {
          del = pods[i].runtime.del(pods[i].call);
          if (del.ok() || del.code() != 11) break;
          std::this_thread::sleep_for(50ms);
        }
        EXPECT_TRUE(del.ok()) << pods[i].call.container_id << ": " << del.output.dump();
      }
    }
  });
  const double release_seconds = seconds_since(release_started);

  // Nothing leaks: no key in etcd, and every agent's view counts 0 allocated.
  EXPECT_EQ(cluster.etcd().count_keys(std::string(kPrefix) + "ips/"), 0);
  EXPECT_EQ(cluster.etcd().count_keys(std::string(kPrefix) + "attachments/"), 0);
  for (int n = 0; n < kNodes; ++n) {
    const bool zero = wait_until(
        [&] {
          json pool_line = cluster.pool_status(n);
          return pool_line.is_object() && pool_line.value("allocated", -1) == 0 &&
                 pool_line.value("available", -1) == 1000;
        },
        5s);
    EXPECT_TRUE(zero) << "node" << n + 1 << ": " << cluster.pool_status(n).dump();
  }
  std::cout << "[ timing ] etcd + 4 agents " << cluster_seconds << " s, with pod namespaces "
            << setup_seconds << " s; 1000 allocations (" << kNodes * kPluginEach
            << " through the plugin) " << allocate_seconds << " s (leader m" << leader
            << " killed after " << done_at_kill.load() << ", " << retried
            << " API requests retried), 1000 releases " << release_seconds << " s\n";
  cluster.dump_logs_on_failure();
}

json store_status(AgentNode& node) {
  auto [code, body] = node.agent_request("GET", "/v1/status");
  return code == 200 ? body.value("store", json()) : json();
}

// (c): a reservation applied on node1 reaches every agent's allocator and guard in < 1 s.
TEST(ClusterTest, ReservationAppliedWithCtlOnOneNodeIsRefusedByEveryAgentWithinOneSecond) {
  constexpr int kNodes = 4;
  Cluster cluster("rs", {.etcd_members = 1, .nodes = kNodes, .guard = true});
  cluster.apply_pool("10.40.0.1", "10.40.0.100");
  std::vector<long> prefixes_before(kNodes);
  for (int n = 0; n < kNodes; ++n) {
    auto [code, guards] = cluster.node(n).agent_request("GET", "/v1/guards");
    ASSERT_EQ(code, 200) << guards.dump();
    prefixes_before[n] = guards.value("reservedPrefixes", -1L);
  }

  // ipfencectl --store etcd://... inside node1's namespace, as an operator on that node.
  const std::string reserved = reservedip_yaml("cluster-reserved", {"10.40.0.50-10.40.0.59"});
  ProcessResult applied = cluster.node(0).ctl({"apply", "-f", "-"}, reserved);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  const auto committed = Clock::now();

  // Each agent's view (pool counts) and guard (reserved prefixes), polled every 10 ms.
  std::vector<double> view_seconds(kNodes, -1), guard_seconds(kNodes, -1);
  run_together(kNodes, [&](int n) {
    const std::string socket = cluster.node(n).socket();
    while (seconds_since(committed) < 3 && (view_seconds[n] < 0 || guard_seconds[n] < 0)) {
      if (view_seconds[n] < 0) {
        ApiAnswer status = agent_call(socket, "GET", "/v1/status");
        for (const auto& pool : status.body.value("pools", json::array()))
          if (pool.value("name", "") == kPool && pool.value("reserved", 0) == 10)
            view_seconds[n] = seconds_since(committed);
      }
      if (guard_seconds[n] < 0) {
        ApiAnswer guards = agent_call(socket, "GET", "/v1/guards");
        if (guards.body.value("reservedPrefixes", -1L) > prefixes_before[n])
          guard_seconds[n] = seconds_since(committed);
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  for (int n = 0; n < kNodes; ++n) {
    EXPECT_THAT(view_seconds[n], ::testing::AllOf(::testing::Ge(0.0), ::testing::Lt(1.0)))
        << "node" << n + 1 << "'s allocator";
    EXPECT_THAT(guard_seconds[n], ::testing::AllOf(::testing::Ge(0.0), ::testing::Lt(1.0)))
        << "node" << n + 1 << "'s guard";
    // Asked for by name, a reserved IP is refused with the reason, on every node.
    ApiAnswer refused = agent_call(cluster.node(n).socket(), "POST", "/v1/ipam/allocate", [&] {
      json body = allocate_body("want-55-" + std::to_string(n), kPool);
      body["ips"] = {"10.40.0.55"};
      return body;
    }());
    EXPECT_EQ(refused.cni_code(), 104) << refused.body.dump();
    EXPECT_THAT(refused.message(), HasSubstr("reserved by SpiderReservedIP cluster-reserved"));
  }
  // The pool runs out without handing out any of the ten.
  std::set<std::string> got;
  for (int i = 0; i < 90; ++i) {
    ApiAnswer a =
        agent_call_retrying(cluster.node(i % kNodes).socket(), "POST", "/v1/ipam/allocate",
                            allocate_body("r" + std::to_string(i), kPool));
    ASSERT_TRUE(a.ok()) << a.body.dump();
    got.insert(allocated_ip(a));
  }
  EXPECT_EQ(got.size(), 90u);
  for (int last = 50; last <= 59; ++last)
    EXPECT_EQ(got.count("10.40.0." + std::to_string(last)), 0u);
  ApiAnswer none = agent_call(cluster.node(1).socket(), "POST", "/v1/ipam/allocate",
                              allocate_body("r-more", kPool));
  EXPECT_THAT(none.message(),
              HasSubstr("all IPs have been exhausted (100 IPs: 10 reserved, 90 allocated)"));
  std::cout << "[ timing ] reservation seen by the 4 allocators after";
  for (double s : view_seconds) std::cout << " " << s * 1000 << " ms";
  std::cout << "; by the 4 guards after";
  for (double s : guard_seconds) std::cout << " " << s * 1000 << " ms";
  std::cout << "\n";
  cluster.dump_logs_on_failure();
}

// (d): etcd down: ADD and DEL fail with 11 naming the endpoints within the timeout, the
// agent says so in /v1/status and ipfence_store_up, and recovers without a restart.
TEST(ClusterTest, EtcdUnreachableFailsAddAndDelWith11AndTheAgentRecoversByItself) {
  Cluster cluster("un", {.etcd_members = 1, .nodes = 1, .store_timeout = "1s"});
  cluster.apply_pool("10.40.0.1", "10.40.0.20");
  AgentNode& node = cluster.node(0);
  const std::string endpoint = "10.254.1.1:2379";
  CniRuntime runtime = cluster.runtime(0);
  const CniCall a = pod_attachment(node.topology().add_pod("a"), "pod-a", "a");
  const CniCall b = pod_attachment(node.topology().add_pod("b"), "pod-b", "b");
  CniOutcome added = runtime.add(a);
  ASSERT_TRUE(added.ok()) << added.output.dump();
  EXPECT_EQ(store_status(node).value("endpoints", json()), json::array({endpoint}));
  EXPECT_THAT(agent_metrics(node), HasSubstr("ipfence_store_up 1"));
  const pid_t agent_pid = node.agent().pid();

  cluster.etcd().kill(0);
  auto started = Clock::now();
  CniOutcome refused = runtime.add(b);
  const double add_seconds = seconds_since(started);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), 11) << refused.output.dump();
  EXPECT_THAT(refused.msg(), HasSubstr(endpoint));
  EXPECT_LT(add_seconds, 5.0) << "the store timeout is 1 s";
  started = Clock::now();
  CniOutcome del = runtime.del(a);
  EXPECT_EQ(del.code(), 11) << del.output.dump();
  EXPECT_THAT(del.msg(), HasSubstr(endpoint));
  EXPECT_LT(seconds_since(started), 5.0);

  // Health: unhealthy once the watch has had no stream for the timeout (1 s).
  EXPECT_TRUE(wait_until([&] { return store_status(node).value("healthy", true) == false; }, 5s))
      << store_status(node).dump();
  EXPECT_THAT(store_status(node).value("lastError", ""), HasSubstr(endpoint));
  EXPECT_TRUE(wait_until(
      [&] { return agent_metrics(node).find("ipfence_store_up 0") != std::string::npos; }, 3s));

  cluster.etcd().restart(0);
  EXPECT_TRUE(wait_until([&] { return store_status(node).value("healthy", false) == true; }, 10s))
      << store_status(node).dump();
  EXPECT_TRUE(wait_until(
      [&] { return agent_metrics(node).find("ipfence_store_up 1") != std::string::npos; }, 3s));
  CniOutcome del_again = runtime.del(a);
  EXPECT_TRUE(del_again.ok()) << del_again.output.dump();
  // The runtime's teardown of b's failed ADD failed too (macvlan keeps its link when IPAM's
  // DEL fails); it retries that before b's next ADD.
  CniOutcome teardown = runtime.del(b);
  EXPECT_TRUE(teardown.ok()) << teardown.output.dump();
  CniOutcome add_again = runtime.add(b);
  EXPECT_TRUE(add_again.ok()) << add_again.output.dump();
  EXPECT_TRUE(node.agent().running());
  EXPECT_EQ(node.agent().pid(), agent_pid) << "recovered without a restart";
  EXPECT_EQ(cluster.etcd().count_keys(std::string(kPrefix) + "ips/"), 1);
  cluster.dump_logs_on_failure();
}

// (1) through the CNI: etcd applies an ADD's transaction but its answer never arrives (the
// node drops everything from etcd): the ADD fails with 11, and once etcd is reachable again
// the retried ADD returns the IP that was applied, which is held once. The ipfence plugin is
// run directly, as macvlan runs it: a full chain would tear down (DEL) between the two.
TEST(ClusterTest, AddWhoseAnswerIsLostFailsWith11AndTheRetriedAddGetsTheAppliedIp) {
  Cluster cluster("lo", {.etcd_members = 1, .nodes = 1, .store_timeout = "1s"});
  cluster.apply_pool("10.40.0.1", "10.40.0.20");
  AgentNode& node = cluster.node(0);
  CniRuntime runtime = cluster.runtime(0);
  const CniCall a = pod_attachment(node.topology().add_pod("a"), "pod-a", "a");
  const CniCall b = pod_attachment(node.topology().add_pod("b"), "pod-b", "b");
  ASSERT_TRUE(runtime.add(a).ok());  // the agent now holds an open connection to etcd

  // Requests still reach etcd on that connection; nothing comes back.
  const json netconf = direct_netconf(runtime, "1.0.0");
  node.topology().node().sh("iptables -I INPUT -i etcd0 -j DROP");
  CniOutcome lost = runtime.exec("ipfence", "ADD", netconf, b);
  node.topology().node().sh("iptables -D INPUT -i etcd0 -j DROP");
  EXPECT_FALSE(lost.ok());
  EXPECT_EQ(lost.code(), 11) << lost.output.dump();
  EXPECT_THAT(lost.msg(), HasSubstr("outcome is unknown"));

  // etcd holds b's attachment: the transaction was applied.
  const auto attachments = cluster.etcd().read_prefix(std::string(kPrefix) + "attachments/pod-b/");
  ASSERT_EQ(attachments.size(), 1u) << "the transaction did not reach etcd; agent log:\n"
                                    << node.agent().log();
  const std::string applied =
      json::parse(attachments.begin()->second).at("ips").at(0).at("ip").get<std::string>();

  CniOutcome retried;
  for (int tries = 0; tries < 20; ++tries) {
    retried = runtime.exec("ipfence", "ADD", netconf, b);
    if (retried.ok() || retried.code() != 11) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(retried.ok()) << retried.output.dump();
  EXPECT_EQ(without_prefix(result_address(retried)), applied);
  EXPECT_EQ(cluster.etcd().count_keys(std::string(kPrefix) + "ips/"), 2);
  EXPECT_TRUE(runtime.exec("ipfence", "DEL", netconf, b).ok());
  EXPECT_TRUE(runtime.del(a).ok());
  EXPECT_EQ(cluster.etcd().count_keys(std::string(kPrefix) + "ips/"), 0);
  cluster.dump_logs_on_failure();
}

}  // namespace
}  // namespace ipfence::e2e
