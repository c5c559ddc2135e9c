// bench_guard_throughput: TCP throughput (iperf3) from a pod to the outside host over the
// macvlan master, with the guard attached (the agent's defaults: on the master and on the
// pod's interface) against --guard=off. Two nodes side by side, identical but for that flag,
// measured alternately in the same run (on/off, then off/on, ...), so that drift of a shared
// machine hits both alike. Target: guarded / unguarded >= 0.95.
// Needs root and iperf3 (scripts/deps.sh); everything is removed again at the end.
//
// Usage: bench_guard_throughput [RUNS [SECONDS]]   (default 3 runs of 5 s each)
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"

using namespace ipfence::e2e;

namespace {

constexpr double kTargetRatio = 0.95;

struct Side {
  std::string label;
  std::unique_ptr<AgentNode> node;
  std::unique_ptr<CniRuntime> runtime;
  const Netns* pod = nullptr;
  CniCall call;
  ChildProcess server;
  std::vector<double> gbits;
};

void setup(Side& side, const std::string& tag, std::vector<std::string> flags) {
  AgentNodeOptions options;
  options.extra_agent_args = std::move(flags);
  side.node = std::make_unique<AgentNode>(unique_name(tag), options);
  AgentNode& node = *side.node;
  node.apply(seed_multus_config("ens192"));
  node.apply(
      "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\n"
      "metadata:\n  name: bench-pool\nspec:\n  subnet: 10.6.0.0/16\n  ips:\n"
      "  - 10.6.168.131-10.6.168.140\n");
  side.runtime = std::make_unique<CniRuntime>(node.runtime("macvlan-ens192"));
  side.pod = &node.topology().add_pod("pod");
  side.call.container_id = tag + "-pod";
  side.call.netns = side.pod->path();
  side.call.args = {{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", "iperf-client"}};
  side.call.cni_args = {{"ipam.spidernet.io/ippool", R"({"ipv4": ["bench-pool"]})"}};
  CniOutcome added = side.runtime->add(side.call);
  if (!added.ok()) throw std::runtime_error("ADD: " + added.output.dump());

  const Netns& outside = node.topology().outside();
  std::vector<std::string> argv = outside.exec_prefix();
  argv.insert(argv.end(), {"iperf3", "-s", "-B", "10.6.0.1"});
  side.server = ChildProcess(argv, node.dir() + "/iperf3-server.log");
  bool listening =
      wait_until([&] { return outside.sh("ss -ltnH").find("10.6.0.1:5201") != std::string::npos; },
                 std::chrono::seconds(5));
  if (!listening) throw std::runtime_error("iperf3 server did not start: " + side.server.log());
}

double iperf(Side& side, int seconds) {
  ProcessResult r = run_process({"ip", "netns", "exec", side.pod->name(), "iperf3", "-c",
                                 "10.6.0.1", "-t", std::to_string(seconds), "-J"},
                                {}, "", std::chrono::seconds(seconds + 30));
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || j.is_discarded() || !j.contains("end"))
    throw std::runtime_error("iperf3 (" + side.label + "): " + r.out.substr(0, 2000) + r.err);
  return j.at("end").at("sum_received").at("bits_per_second").get<double>() / 1e9;
}

double mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

int bench(int runs, int seconds) {
  BpffsMount bpffs;
  Side on, off;
  on.label = "guard on";
  off.label = "guard off";
  setup(on, "tpon", {bpffs.agent_flag()});
  setup(off, "tpoff", {"--guard=off"});

  // The comparison means nothing unless exactly one side is guarded.
  const Netns& on_node = on.node->topology().node();
  const Netns& off_node = off.node->topology().node();
  bool on_ok = wait_until([&] { return egress_bpf_filters(on_node, "ens192").size() == 1; },
                          std::chrono::seconds(5));
  if (!on_ok || egress_bpf_filters(*on.pod, "eth0").size() != 1)
    throw std::runtime_error(
        "guard on: expected one guard filter on ens192 and on the pod's eth0:\n" +
        on_node.sh("tc filter show dev ens192 egress"));
  if (!egress_bpf_filters(off_node, "ens192").empty() ||
      !egress_bpf_filters(*off.pod, "eth0").empty())
    throw std::runtime_error("guard off: a filter is attached");

  std::printf(
      "bench_guard_throughput: iperf3 TCP pod -> outside host over macvlan, %d x %d s "
      "per side, alternating\n",
      runs, seconds);
  iperf(on, 1);  // warm-up, not counted
  iperf(off, 1);
  for (int i = 0; i < runs; ++i) {
    Side* order[2] = {&on, &off};
    if (i % 2 == 1) std::swap(order[0], order[1]);
    for (Side* side : order) {
      double g = iperf(*side, seconds);
      side->gbits.push_back(g);
      std::printf("  run %d  %-9s %7.2f Gbit/s\n", i + 1, side->label.c_str(), g);
      std::fflush(stdout);
    }
  }
  // The guard did see the traffic (it passes leased traffic without counting it, so check
  // that nothing was dropped or monitored instead).
  auto counters = guard_counters(*on.node, "ens192");
  std::uint64_t dropped = 0;
  for (const auto& [reason, n] : counters) dropped += n;

  for (Side* side : {&on, &off}) {
    auto [lo, hi] = std::minmax_element(side->gbits.begin(), side->gbits.end());
    std::printf("%-9s mean %7.2f Gbit/s  (min %.2f, max %.2f)\n", side->label.c_str(),
                mean(side->gbits), *lo, *hi);
  }
  double ratio = mean(on.gbits) / mean(off.gbits);
  std::printf(
      "ratio guard on / off: %.3f (target >= %.2f: %s); guard drops during the runs: %llu\n", ratio,
      kTargetRatio, ratio >= kTargetRatio ? "met" : "MISSED",
      static_cast<unsigned long long>(dropped));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench_guard_throughput: needs root (namespaces, BPF)\n");
    return 1;
  }
  int runs = argc > 1 ? std::stoi(argv[1]) : 3;
  int seconds = argc > 2 ? std::stoi(argv[2]) : 5;
  try {
    return bench(runs, seconds);
  } catch (const std::exception& e) {  // caught, so that every RAII cleanup runs
    std::fprintf(stderr, "bench_guard_throughput: %s\n", e.what());
    return 1;
  }
}
