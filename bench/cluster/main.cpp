// bench_cluster: allocation throughput and ADD latency of ipfence-agents sharing one etcd,
// against one agent on the embedded file store, in the same run on the same disk.
//
// Each agent is the real ipfence-agent process (--guard=off: IPAM only) with its own socket
// and node name, as on its own node; each gets the same load, `clients` concurrent callers
// of POST /v1/ipam/allocate (what the CNI plugin sends on ADD; the plugin's exec adds
// ~3 ms, see bench/cni). Rounds:
//   file  x1            one agent on the file store (the single-node baseline), first and last
//   etcd  x1, x2, x4    agents on one etcd, all allocating from ONE pool (contention: every
//                       node's claims land in the same key range; cursors spread by node)
//   etcd  x1, x2, x4    each agent on a pool of its own
// For each: allocations per second (all agents together), p50/p99 latency per request, and
// the ratio to the file store. Every round releases what it allocated (also timed).
// etcd runs on loopback with its data on the same disk as the file store: both fsync.
//
//   bench_cluster [allocations per round] [clients per agent]   (default 1200, 4)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <latch>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ipam/manifest.h"
#include "ipam/objects.h"
#include "ipam/store/store.h"
#include "tests/e2e/support/agent_api.h"
#include "tests/e2e/support/process.h"
#include "tests/unit/store/etcd_process.h"
#include "tests/unit/store/temp_dir.h"

using namespace ipfence;
using Clock = std::chrono::steady_clock;

namespace {

// One ipfence-agent with a directory of its own; stopped (SIGTERM) when destroyed.
class Agent {
 public:
  Agent(const std::string& store_url, const std::string& node) {
    std::filesystem::create_directories(dir_.path() + "/net.d");
    process_ = e2e::ChildProcess({IPFENCE_AGENT_BIN, "--store=" + store_url, "--socket=" + socket(),
                                  "--node-name=" + node, "--cni-conf-dir=" + dir_.path() + "/net.d",
                                  "--metrics-addr=off", "--guard=off", "--log-level=warn"},
                                 dir_.path() + "/agent.log");
    const bool up =
        e2e::wait_until([&] { return e2e::agent_call(socket(), "GET", "/v1/healthz").ok(); },
                        std::chrono::seconds(10));
    if (!up) throw std::runtime_error("ipfence-agent did not start:\n" + process_.log());
  }
  ~Agent() { process_.stop(15); }
  std::string socket() const { return dir_.path() + "/agent.sock"; }

 private:
  store::testing::TempDir dir_;
  e2e::ChildProcess process_;
};

void apply_yaml(const std::string& store_url, const std::string& yaml) {
  auto store = store::open_store(store_url);
  if (!store) throw std::runtime_error(store_url + ": " + store.error().message);
  auto parsed = ipam::parse_manifests(yaml);
  if (!parsed) throw std::runtime_error(parsed.error().message);
  ipam::ObjectService objects(**store);
  auto applied = objects.apply(*parsed);
  if (!applied) throw std::runtime_error(applied.error().message);
}

// A pool of 4,096 IPs (10.<second>.0.0/20), far more than one round allocates.
std::string pool_yaml(const std::string& name, int second) {
  const std::string net = "10." + std::to_string(second) + ".";
  return "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\nmetadata:\n  name: " +
         name + "\nspec:\n  subnet: " + net + "0.0/16\n  ips:\n  - " + net + "0.1-" + net +
         "15.255\n";
}

struct Round {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
  double release_per_second = 0;
};

// `total` allocations spread evenly over the agents, `clients` callers per agent; agent i
// allocates from pools[i % pools.size()]. Then releases them all.
Round run_round(const std::vector<std::unique_ptr<Agent>>& agents,
                const std::vector<std::string>& pools, int total, int clients,
                const std::string& tag) {
  const int callers = static_cast<int>(agents.size()) * clients;
  std::vector<std::vector<double>> latencies(callers);
  std::vector<std::vector<std::string>> made(callers);
  auto run = [&](auto&& body) {
    std::latch start(callers);
    std::vector<std::thread> threads;
    for (int c = 0; c < callers; ++c)
      threads.emplace_back([&, c] {
        start.arrive_and_wait();
        body(c);
      });
    for (auto& t : threads) t.join();
  };
  const auto begin = Clock::now();
  run([&](int c) {
    const std::size_t agent = static_cast<std::size_t>(c / clients);
    const std::string& pool = pools[agent % pools.size()];
    for (int i = c; i < total; i += callers) {
      const std::string container = tag + "-" + std::to_string(i);
      const auto sent = Clock::now();
      e2e::ApiAnswer answer =
          e2e::agent_call_retrying(agents[agent]->socket(), "POST", "/v1/ipam/allocate",
                                   e2e::allocate_body(container, pool));
      latencies[c].push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
      if (!answer.ok()) throw std::runtime_error(container + ": " + answer.body.dump());
      made[c].push_back(container);
    }
  });
  Round round;
  round.per_second = total / std::chrono::duration<double>(Clock::now() - begin).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  round.p50_ms = all[all.size() / 2];
  round.p99_ms = all[all.size() * 99 / 100];

  const auto release_begin = Clock::now();
  run([&](int c) {
    const std::size_t agent = static_cast<std::size_t>(c / clients);
    for (const auto& container : made[c]) {
      e2e::ApiAnswer answer = e2e::agent_call_retrying(
          agents[agent]->socket(), "POST", "/v1/ipam/release", e2e::release_body(container));
      if (!answer.ok()) throw std::runtime_error(container + ": " + answer.body.dump());
    }
  });
  round.release_per_second =
      total / std::chrono::duration<double>(Clock::now() - release_begin).count();
  return round;
}

void print(const char* store, int agents, const char* pools, const Round& r, double baseline) {
  std::printf(
      "%-5s x%d  %-9s %8.0f alloc/s  %5.2fx file   p50 %6.2f ms  p99 %6.2f ms  release %6.0f/s\n",
      store, agents, pools, r.per_second, baseline > 0 ? r.per_second / baseline : 1.0, r.p50_ms,
      r.p99_ms, r.release_per_second);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int total = argc > 1 ? std::atoi(argv[1]) : 1200;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 4;
  if (!store::testing::EtcdProcess::binary()) {
    std::fprintf(stderr, "bench_cluster: no etcd (install etcd-server or set IPFENCE_ETCD)\n");
    return 1;
  }
  try {
    std::printf("%d allocations per round, %d concurrent callers per agent, %u CPUs\n", total,
                clients, std::thread::hardware_concurrency());
    int round_no = 0;
    auto file_round = [&] {
      store::testing::TempDir dir;
      const std::string url = "file://" + dir.path() + "/store";
      apply_yaml(url, pool_yaml("file-pool", 200));
      std::vector<std::unique_ptr<Agent>> agents;
      agents.push_back(std::make_unique<Agent>(url, "file-node"));
      return run_round(agents, {"file-pool"}, total, clients, "f" + std::to_string(++round_no));
    };
    const Round file_first = file_round();
    print("file", 1, "one pool", file_first, 0);

    store::testing::EtcdProcess etcd;
    etcd.start();
    const std::string url = etcd.url("?prefix=/bench/");
    int second = 0;
    for (const bool shared : {true, false}) {
      for (int n : {1, 2, 4}) {
        std::vector<std::string> pools;
        for (int p = 0; p < (shared ? 1 : n); ++p) {
          pools.push_back("pool-" + std::to_string(++second));
          apply_yaml(url, pool_yaml(pools.back(), second));
        }
        std::vector<std::unique_ptr<Agent>> agents;
        for (int i = 0; i < n; ++i)
          agents.push_back(std::make_unique<Agent>(url, "node" + std::to_string(i + 1)));
        const Round r = run_round(agents, pools, total, clients, "e" + std::to_string(++round_no));
        print("etcd", n, shared ? "one pool" : "own pools", r, file_first.per_second);
      }
    }
    const Round file_last = file_round();
    print("file", 1, "one pool", file_last, file_first.per_second);
    std::printf("file store baseline drift over the run: %.0f -> %.0f alloc/s\n",
                file_first.per_second, file_last.per_second);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cluster: %s\n", e.what());
    return 1;
  }
  return 0;
}
