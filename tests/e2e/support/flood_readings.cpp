#include "tests/e2e/support/flood_readings.h"

#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace ipfence::e2e {

double metric_sum(const std::string& text, const std::string& name,
                  const std::map<std::string, std::string>& labels) {
  double sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
    const std::size_t after = name.size();
    if (after < line.size() && line[after] != '{' && line[after] != ' ') continue;
    bool all = true;
    for (const auto& [key, value] : labels)
      all = all && line.find(key + "=\"" + value + "\"") != std::string::npos;
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

WatchTotals watch_totals(const std::string& text) {
  return {.events = metric_sum(text, "ipfence_watch_events_total"),
          .suppressed = metric_sum(text, "ipfence_watch_events_suppressed_total"),
          .lost = metric_sum(text, "ipfence_watch_events_lost_total"),
          .conflicts = metric_sum(text, "ipfence_conflicts_total"),
          .quarantine_skipped = metric_sum(text, "ipfence_quarantine_skipped_total")};
}

WatchTotals operator-(const WatchTotals& a, const WatchTotals& b) {
  return {.events = a.events - b.events,
          .suppressed = a.suppressed - b.suppressed,
          .lost = a.lost - b.lost,
          .conflicts = a.conflicts - b.conflicts,
          .quarantine_skipped = a.quarantine_skipped - b.quarantine_skipped};
}

LinkRx link_rx(const Netns& ns, const std::string& ifname) {
  const nlohmann::json links = nlohmann::json::parse(ns.sh("ip -j -s link show " + ifname));
  const nlohmann::json& rx = links.at(0).at("stats64").at("rx");
  return {.packets = rx.at("packets").get<std::uint64_t>(),
          .dropped = rx.at("dropped").get<std::uint64_t>()};
}

std::size_t conflict_record_count(const AgentNode& node) {
  ProcessResult listed = node.ctl({"get", "conflicts", "-o", "json"});
  if (listed.exit_code != 0)
    throw std::runtime_error("ipfencectl get conflicts: " + listed.err + listed.out);
  return nlohmann::json::parse(listed.out).at("items").size();
}

}  // namespace ipfence::e2e
