// bench_flood: what an ARP flood from an outside host costs the node (issue 5: "100,000 ARP
// frames per second for 10 s with random sender IPs from the pool: the agent stays
// responsive (ADD p99 under 10 ms meanwhile), events are deduplicated, ... memory stays
// bounded").
//
// One AgentNode (tests/e2e/support) with the guard, the conflict watcher and quarantine on its
// master, a pool of 1,022 addresses, one pod through the real macvlan plugin. The baseline
// and the flood run in the same process, one after the other, for the same time: ADD then DEL
// through the real ipfence IPAM plugin in a loop (exec'd as the runtime does, ADD timed on its
// own), first with the wire quiet, then while the outside host floods ARP (ArpFlood:
// sendmmsg, paced, random sender addresses of the pool, one fixed MAC unless --random-macs).
// Half-way through the flood the outside host also claims the pod's address from another MAC
// once: a real conflict, which must be detected. Then: frames sent and how many reached the
// master, the watcher's events handled / suppressed / lost, conflict records and quarantined
// addresses, and the agent's VmRSS before and after.
// Needs root; everything is made inside namespaces and a temp dir and removed on exit.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/arp_flood.h"
#include "tests/e2e/support/enforcement.h"
#include "tests/e2e/support/flood_readings.h"
#include "tests/e2e/support/ipam_add_loop.h"
#include "tests/e2e/support/pod_network.h"

namespace {

using namespace ipfence::e2e;
using nlohmann::json;
using std::chrono::milliseconds;

struct Options {
  int seconds = 10;
  double rate = 100'000;
  bool random_macs = false;
};

void print_latency_row(const char* label, const IpamLoopResult& r) {
  std::printf("| %s | %zu | %.2f | %.2f | %.2f | %.2f | %zu |\n", label, r.rounds(),
              percentile(r.add_ms, 0.50), percentile(r.add_ms, 0.99), percentile(r.add_ms, 1.0),
              percentile(r.del_ms, 0.50), r.failures.size());
}

// detectedInUs of the agent's JSON line for a conflict on `ip` from `mac`; -1 when none.
double detected_ms(const std::string& log, const std::string& ip, const std::string& mac) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("\"event\":\"conflict\"");
    if (at == std::string::npos) continue;
    json j = json::parse(line.substr(line.rfind('{', at)), nullptr, false);
    if (j.is_discarded() || j.value("ip", "") != ip || j.value("mac", "") != mac) continue;
    return j.contains("detectedInUs") ? j["detectedInUs"].get<double>() / 1000.0 : 0;
  }
  return -1;
}

int run(const Options& o) {
  BpffsMount bpffs;
  AgentNodeOptions options;
  options.extra_agent_args = {bpffs.agent_flag()};  // dedup 10 s and quarantine cap 64: defaults
  AgentNode node(unique_name("bflood"), options);
  const std::string master = node.topology().master();
  const std::string pool_range = "10.6.168.1-10.6.171.254";
  node.apply(seed_multus_config(master));
  node.apply(ippool_yaml("flood-pool", "10.6.0.0/16", {pool_range}, /*is_default=*/true));
  CniRuntime runtime = node.runtime("macvlan-" + master);
  const Netns& pod_ns = node.topology().add_pod("victim");
  CniOutcome added = runtime.add(pod_attachment(pod_ns, "victim", "victim"));
  if (!added.ok()) throw std::runtime_error("ADD victim: " + added.output.dump());
  const std::string victim_ip = without_prefix(result_address(added));
  if (!wait_until([&] { return get_guards(node).value("poolPrefixes", 0) > 0; },
                  std::chrono::seconds(5)))
    throw std::runtime_error("the guard's pool map stayed empty");
  if (!wait_until(
          [&] { return node.agent().log().find("conflict watch: watching") != std::string::npos; },
          std::chrono::seconds(5)))
    throw std::runtime_error("the conflict watcher did not attach:\n" + node.agent().log());

  IpamAddLoop loop(direct_netconf(runtime, "1.1.0"), pod_ns.path(), "bench");
  loop.run_rounds(20);  // warm-up: page cache, the agent's first allocations
  loop.clear();
  const auto duration = std::chrono::seconds(o.seconds);

  // Baseline: the same loop for the same time on a quiet wire.
  loop.start();
  std::this_thread::sleep_for(duration);
  loop.stop();
  const IpamLoopResult quiet = loop.result();
  loop.clear();

  const pid_t agent = node.agent().pid();
  const std::uint64_t rss_before = vm_rss_kib(agent);
  const WatchTotals before = watch_totals(agent_metrics(node));
  const LinkRx rx_before = link_rx(node.topology().node(), master);
  const std::string outside = node.topology().outside().name();

  ArpFloodOptions flood_options;
  flood_options.netns = outside;
  flood_options.ifname = "wire0";
  flood_options.ranges = {pool_range};
  flood_options.rate = o.rate;
  flood_options.duration = duration;
  flood_options.random_macs = o.random_macs;
  const Mac claimer{0x02, 0xc0, 0xff, 0xee, 0x00, 0x01};
  loop.start();
  ArpFlood flood(flood_options);
  std::this_thread::sleep_for(duration / 2);
  send_frame(outside, "wire0",
             arp_frame(1, claimer, Mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, victim_ip, victim_ip));
  const ArpFloodReport sent = flood.wait();
  loop.stop();
  const IpamLoopResult flooded = loop.result();
  const std::uint64_t rss_after = vm_rss_kib(agent);
  const LinkRx rx_after = link_rx(node.topology().node(), master);
  // The agent may still be working through its queue: give it until the counters stand still.
  WatchTotals after = watch_totals(agent_metrics(node));
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(milliseconds(200));
    WatchTotals now = watch_totals(agent_metrics(node));
    const bool settled = now.events == after.events && now.suppressed == after.suppressed;
    after = now;
    if (settled) break;
  }
  const WatchTotals delta = after - before;
  const std::string metrics = agent_metrics(node);
  const double quarantined =
      metric_sum(metrics, "ipfence_quarantined_ips", {{"pool", "flood-pool"}});
  const std::size_t records = conflict_record_count(node);
  const std::uint64_t rss_settled = vm_rss_kib(agent);
  const double detected = detected_ms(node.agent().log(), victim_ip, format_mac(claimer));

  std::printf(
      "bench_flood: %d s of ARP at %.0f/s target from the outside host, sender IPs "
      "random in %s (1,022), %s MAC; ADD+DEL through the ipfence plugin in a loop\n",
      o.seconds, o.rate, pool_range.c_str(), o.random_macs ? "a random" : "one fixed");
  std::printf("flood: %s; %llu reached the master (rx dropped %llu)\n", sent.describe().c_str(),
              static_cast<unsigned long long>(rx_after.packets - rx_before.packets),
              static_cast<unsigned long long>(rx_after.dropped - rx_before.dropped));
  std::printf(
      "\n| ADD through the plugin | rounds | ADD p50 ms | ADD p99 ms | ADD max ms | "
      "DEL p50 ms | failures |\n|---|---:|---:|---:|---:|---:|---:|\n");
  print_latency_row("quiet wire", quiet);
  print_latency_row("during the flood", flooded);
  const double p50_ratio = percentile(flooded.add_ms, 0.5) / percentile(quiet.add_ms, 0.5);
  const double p99_ratio = percentile(flooded.add_ms, 0.99) / percentile(quiet.add_ms, 0.99);
  std::printf("| flood / quiet | | %.2fx | %.2fx | | | |\n", p50_ratio, p99_ratio);
  std::printf(
      "\nwatcher: %.0f events handled, %.0f suppressed in the kernel, %.0f lost; "
      "%.0f conflicts counted; %.0f squatters not quarantined (pool at its limit)\n",
      delta.events, delta.suppressed, delta.lost, delta.conflicts, delta.quarantine_skipped);
  std::printf("store: %zu conflict records, %.0f addresses quarantined in flood-pool\n", records,
              quarantined);
  std::printf("real conflict (%s claimed by %s mid-flood): %s\n", victim_ip.c_str(),
              format_mac(claimer).c_str(),
              detected < 0
                  ? "NOT detected"
                  : ("detected, " + std::to_string(detected) + " ms after the frame").c_str());
  std::printf(
      "agent VmRSS: %.1f MiB before the flood, %.1f MiB at its end, %.1f MiB settled "
      "(+%.1f MiB)\n",
      rss_before / 1024.0, rss_after / 1024.0, rss_settled / 1024.0,
      (static_cast<double>(rss_settled) - static_cast<double>(rss_before)) / 1024.0);
  const bool ok = quiet.failures.empty() && flooded.failures.empty() && detected >= 0;
  if (!flooded.failures.empty())
    std::fprintf(stderr, "first failure: %s\n", flooded.failures.front().c_str());
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--seconds") == 0 && has_value)
      o.seconds = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--rate") == 0 && has_value)
      o.rate = std::atof(argv[++i]);
    else if (std::strcmp(argv[i], "--random-macs") == 0)
      o.random_macs = true;
    else
      o.seconds = -1;
  }
  if (o.seconds <= 0 || o.rate <= 0) {
    std::fprintf(stderr,
                 "usage: bench_flood [--seconds N] [--rate FRAMES_PER_SECOND] "
                 "[--random-macs]\n");
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_flood: %s\n", e.what());
    return 1;
  }
}
