// What the ARP flood test and benchmark read back from the node while and after flooding:
// the watcher's event counters as the agent exports them, the master's receive counters (how
// many frames reached the wire's node end), and the agent's conflict records.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/netns.h"

namespace ipfence::e2e {

// The sum of every sample of `name` whose labels include `labels` (all samples when empty).
double metric_sum(const std::string& text, const std::string& name,
                  const std::map<std::string, std::string>& labels = {});

// The watcher's counters in the agent's /metrics.
struct WatchTotals {
  double events = 0;      // ipfence_watch_events_total, all types: events the agent handled
  double suppressed = 0;  // ipfence_watch_events_suppressed_total: deduplicated in the kernel
  double lost = 0;        // ipfence_watch_events_lost_total: ring buffer or agent queue full
  double conflicts = 0;   // ipfence_conflicts_total, all kinds
  double quarantine_skipped = 0;  // ipfence_quarantine_skipped_total, all pools
};
WatchTotals watch_totals(const std::string& metrics_text);
WatchTotals operator-(const WatchTotals& after, const WatchTotals& before);

// rx_packets / rx_dropped of `ifname` in `ns` (`ip -j -s link show`).
struct LinkRx {
  std::uint64_t packets = 0;
  std::uint64_t dropped = 0;
};
LinkRx link_rx(const Netns& ns, const std::string& ifname);

// How many conflict records `ipfencectl get conflicts -o json` lists.
std::size_t conflict_record_count(const AgentNode& node);

}  // namespace ipfence::e2e
