// bench_conflict: how long from an outside host's ARP frame reaching the master to the agent
// counting the conflict (ipfence_conflicts_total), p50/p99, against the issue's 50 ms target.
//
// One AgentNode (tests/e2e/support) with the guard and the conflict watcher, one pod through
// the real macvlan plugin, and the outside host (the far end of the master's veth) sending
// ARP replies that claim the pod's address from two MACs in turn: each frame is a MAC change,
// so the watcher reports every one (no dedup) and each becomes a `pod` conflict with a store
// record, as a real conflict does. The agent logs each with "detectedInUs": the kernel's
// timestamp of the frame at the master to the counter's increment. Frames go out at
// --rate per second, so the numbers include queueing behind the previous conflicts' store
// writes at that rate.
// Needs root; everything is made inside namespaces and a temp dir and removed on exit.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/pod_network.h"

namespace {

using namespace ipfence::e2e;
using nlohmann::json;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int run(int frames, int rate) {
  BpffsMount bpffs;
  AgentNodeOptions options;
  options.extra_agent_args = {bpffs.agent_flag()};
  AgentNode node(unique_name("bconf"), options);
  const std::string master = node.topology().master();
  node.apply(seed_multus_config(master));
  node.apply(ippool_yaml("bench-pool", "10.6.0.0/16", {"10.6.168.131-10.6.168.140"}));
  CniRuntime runtime = node.runtime("macvlan-" + master);
  const Netns& pod_ns = node.topology().add_pod("a");
  CniCall call = pod_attachment(pod_ns, "a", "bench-a");
  call.cni_args = {{"ipam.spidernet.io/ippool", R"({"ipv4": ["bench-pool"]})"}};
  CniOutcome added = runtime.add(call);
  if (!added.ok()) throw std::runtime_error("ADD: " + added.output.dump());
  const std::string pod_ip = without_prefix(result_address(added));
  if (!wait_until([&] { return get_guards(node).value("poolPrefixes", 0) > 0; },
                  std::chrono::seconds(5)))
    throw std::runtime_error("the guard's pool map stayed empty");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the watcher attaches

  const Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const Mac macs[2] = {{0x02, 0xbe, 0x00, 0x00, 0x00, 0x01}, {0x02, 0xbe, 0x00, 0x00, 0x00, 0x02}};
  const std::string outside = node.topology().outside().name();
  const auto gap = std::chrono::microseconds(1'000'000 / rate);
  auto next = std::chrono::steady_clock::now();
  for (int i = 0; i < frames; ++i) {
    send_frame(outside, "wire0", arp_frame(2, macs[i % 2], kBroadcast, pod_ip, "10.6.0.2"));
    next += gap;
    std::this_thread::sleep_until(next);
  }
  std::vector<double> ms;
  wait_until(
      [&] {
        ms.clear();
        std::istringstream lines(node.agent().log());
        for (std::string line; std::getline(lines, line);) {
          auto at = line.find("\"event\":\"conflict\"");
          if (at == std::string::npos) continue;
          json j = json::parse(line.substr(line.rfind('{', at)), nullptr, false);
          if (!j.is_discarded() && j.contains("detectedInUs"))
            ms.push_back(j["detectedInUs"].get<double>() / 1000.0);
        }
        return static_cast<int>(ms.size()) >= frames;
      },
      std::chrono::seconds(20));
  const double p50 = percentile(ms, 0.50), p99 = percentile(ms, 0.99);
  std::printf(
      "bench_conflict: %d ARP claims of a pod's IP at %d/s from the outside host, %zu "
      "conflicts counted\n",
      frames, rate, ms.size());
  std::printf(
      "| detection latency (frame at master -> counted) | p50 | p99 | max | p99 / 50 ms target "
      "|\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  std::printf("| ms | %.3f | %.3f | %.3f | %.3f |\n", p50, p99, percentile(ms, 1.0), p99 / 50.0);
  return static_cast<int>(ms.size()) >= frames ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int frames = 1000, rate = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--frames") == 0) frames = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rate") == 0) rate = std::atoi(argv[i + 1]);
  }
  if (frames <= 0 || rate <= 0) {
    std::fprintf(stderr, "usage: bench_conflict [--frames N] [--rate PER_SECOND]\n");
    return 2;
  }
  try {
    return run(frames, rate);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_conflict: %s\n", e.what());
    return 1;
  }
}
