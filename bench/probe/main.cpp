// bench_probe: what the active conflict probe costs an ADD. One agent (guard and conflict
// watcher on its master), two pools that differ only in the ipfence.io/conflict-probe
// annotation: "plain" (off) and "probed" (on, --count probes over --timeout-ms). ADD+DEL
// pairs through the real ipfence IPAM plugin (tests/e2e/support/ipam_add_loop.h) alternate
// between the two in blocks, so both see the same machine; the figures are ADD p50/p99 per
// pool and their ratio. Nobody answers the probes: this is the price every ADD pays on a
// clean segment (an answered probe ends its wait early and costs one more candidate).
// Needs root; everything is made inside namespaces and a temp dir and removed on exit.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/ipam_add_loop.h"
#include "tests/e2e/support/pod_network.h"

namespace {

using namespace ipfence::e2e;

std::string pool_yaml(const std::string& name, const std::string& range,
                      const std::string& annotation) {
  std::string yaml = "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\n";
  yaml += "metadata:\n  name: " + name + "\n";
  if (!annotation.empty())
    yaml += "  annotations:\n    ipfence.io/conflict-probe: '" + annotation + "'\n";
  yaml += "spec:\n  subnet: 10.6.0.0/16\n  ips:\n  - " + range + "\n";
  return yaml;
}

int run(int rounds, int block, int count, int timeout_ms, int parallel) {
  BpffsMount bpffs;
  AgentNodeOptions options;
  // The pod namespace has no interface (IPAM only, no macvlan): no pod-side guard to attach.
  options.extra_agent_args = {bpffs.agent_flag(), "--pod-guard=false"};
  AgentNode node(unique_name("bprobe"), options);
  const std::string master = node.topology().master();
  node.apply(seed_multus_config(master));
  node.apply(pool_yaml("plain", "10.6.168.1-10.6.168.254", ""));
  node.apply(pool_yaml("probed", "10.6.169.1-10.6.169.254",
                       "{\"enabled\": true, \"count\": " + std::to_string(count) +
                           ", \"timeoutMs\": " + std::to_string(timeout_ms) + "}"));
  CniRuntime runtime = node.runtime("macvlan-" + master);
  if (!wait_until(
          [&] {
            return node.agent().log().find("conflict watch: watching") != std::string::npos &&
                   get_guards(node).value("poolPrefixes", 0) > 0;
          },
          std::chrono::seconds(5)))
    throw std::runtime_error("the conflict watcher did not attach:\n" + node.agent().log());
  const Netns& pod_ns = node.topology().add_pod("p");

  auto netconf_for = [&](const std::string& pool) {
    nlohmann::json netconf = direct_netconf(runtime, "1.1.0");
    netconf["ipam"]["default_ipv4_ippool"] = {pool};
    return netconf;
  };
  IpamAddLoop plain(netconf_for("plain"), pod_ns.path(), "plain");
  IpamAddLoop probed(netconf_for("probed"), pod_ns.path(), "probed");
  plain.run_rounds(10);  // warm-up
  probed.run_rounds(2);
  plain.clear();
  probed.clear();
  auto clear_probes = [&] {
    return metric_value(agent_metrics(node), "ipfence_conflict_probes_total",
                        {{"pool", "probed"}, {"result", "clear"}})
        .value_or(0);
  };
  const double clear_before = clear_probes();
  for (int done = 0; done < rounds; done += block) {
    plain.run_rounds(static_cast<std::size_t>(block));
    probed.run_rounds(static_cast<std::size_t>(block));
  }
  const IpamLoopResult off = plain.result();
  const IpamLoopResult on = probed.result();
  if (!off.failures.empty() || !on.failures.empty()) {
    std::cerr << "failures: " << (off.failures.empty() ? on.failures : off.failures).front()
              << "\n";
    return 1;
  }
  const double clear = clear_probes() - clear_before;
  const double off50 = percentile(off.add_ms, 0.5), off99 = percentile(off.add_ms, 0.99);
  const double on50 = percentile(on.add_ms, 0.5), on99 = percentile(on.add_ms, 0.99);
  std::printf("ADD through the ipfence plugin, %zu per variant, blocks of %d, alternating\n",
              off.rounds(), block);
  std::printf("  probe off:                    p50 %7.2f ms  p99 %7.2f ms\n", off50, off99);
  std::printf("  probe on (%d probes, %4d ms): p50 %7.2f ms  p99 %7.2f ms\n", count, timeout_ms,
              on50, on99);
  std::printf("  on / off: p50 %.1fx (+%.1f ms), p99 %.1fx; the timeout alone is %d ms\n",
              on50 / off50, on50 - off50, on99 / off99, timeout_ms);
  std::printf("  probes answered clear: %.0f of %zu ADDs\n", clear, on.rounds());

  // Concurrent ADDs probe side by side (outside the allocator lock): the wall time of
  // `parallel` callers doing `per_caller` ADD+DEL each, against one caller doing as many.
  std::vector<std::unique_ptr<IpamAddLoop>> loops;
  for (int i = 0; i < parallel; ++i)
    loops.push_back(std::make_unique<IpamAddLoop>(netconf_for("probed"), pod_ns.path(),
                                                  "par" + std::to_string(i)));
  const int per_caller = 3;
  auto started = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> callers;
    for (auto& loop : loops)
      callers.emplace_back([&loop, per_caller] { loop->run_rounds(per_caller); });
    for (auto& t : callers) t.join();
  }
  const double parallel_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  started = std::chrono::steady_clock::now();
  IpamAddLoop serial(netconf_for("probed"), pod_ns.path(), "serial");
  serial.run_rounds(static_cast<std::size_t>(parallel * per_caller));
  const double serial_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  for (auto& loop : loops)
    if (!loop->result().failures.empty()) {
      std::cerr << "failures: " << loop->result().failures.front() << "\n";
      return 1;
    }
  std::printf(
      "  %d callers x %d probed ADD+DEL: %.0f ms wall; one caller, as many: %.0f ms "
      "(%.2fx)\n",
      parallel, per_caller, parallel_ms, serial_ms, parallel_ms / serial_ms);
  return clear >= static_cast<double>(on.rounds()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ADD latency with the active conflict probe on vs off"};
  int rounds = 100, block = 10, count = 2, timeout_ms = 100, parallel = 8;
  app.add_option("--rounds", rounds, "ADD+DEL pairs per variant")->check(CLI::Range(1, 100000));
  app.add_option("--block", block, "pairs per block before switching variant")
      ->check(CLI::Range(1, 1000));
  app.add_option("--count", count, "probes per address")->check(CLI::Range(1, 10));
  app.add_option("--timeout-ms", timeout_ms, "listening time per address")
      ->check(CLI::Range(1, 5000));
  app.add_option("--parallel", parallel, "concurrent callers in the side-by-side round")
      ->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  try {
    return run(rounds, block, count, timeout_ms, parallel);
  } catch (const std::exception& e) {
    std::cerr << "bench_probe: " << e.what() << "\n";
    return 1;
  }
}
