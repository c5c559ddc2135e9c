#include "agent/datapath_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace ipfence::agent {

DatapathMetrics::DatapathMetrics(prometheus::Registry& registry) {
  dropped_ = &prometheus::BuildCounter()
                  .Name("ipfence_egress_dropped_packets_total")
                  .Help("Frames the guard dropped on a master's egress, by reason")
                  .Register(registry);
  monitored_ =
      &prometheus::BuildCounter()
           .Name("ipfence_egress_monitored_packets_total")
           .Help("Frames the guard would have dropped but passed (monitor mode), by reason")
           .Register(registry);
  pod_dropped_ = &prometheus::BuildCounter()
                      .Name("ipfence_pod_egress_dropped_packets_total")
                      .Help("Frames the guard dropped on pod interfaces' egress, by reason")
                      .Register(registry);
  pod_monitored_ = &prometheus::BuildCounter()
                        .Name("ipfence_pod_egress_monitored_packets_total")
                        .Help(
                            "Frames the guard would have dropped on pod interfaces but "
                            "passed (monitor mode), by reason")
                        .Register(registry);
  leases_ = &prometheus::BuildGauge()
                 .Name("ipfence_guard_leases")
                 .Help("Leases (IP and MAC of a local pod) in the guard's map")
                 .Register(registry)
                 .Add({});
  sockopt_refused_ =
      &prometheus::BuildCounter()
           .Name("ipfence_pod_sockopt_refused_total")
           .Help(
               "setsockopt calls refused with EPERM in guarded pod namespaces because they would "
               "send past the pod guard (PACKET_QDISC_BYPASS, AF_XDP), by option")
           .Register(registry);
  sockopt_monitored_ =
      &prometheus::BuildCounter()
           .Name("ipfence_pod_sockopt_monitored_total")
           .Help(
               "setsockopt calls the pod socket-option guard would have refused but let through "
               "(monitor mode), by option")
           .Register(registry);
}

// The series `c` adds to, or null for frames that were passed (reserved_in_use: not an
// egress drop).
prometheus::Counter* DatapathMetrics::series(const GuardCounter& c) {
  prometheus::Family<prometheus::Counter>* family = nullptr;
  if (c.verdict == datapath::Verdict::dropped) family = c.pod ? pod_dropped_ : dropped_;
  if (c.verdict == datapath::Verdict::monitored) family = c.pod ? pod_monitored_ : monitored_;
  if (family == nullptr) return nullptr;
  prometheus::Counter*& counter = series_[{c.pod, c.pod ? "" : c.master, c.reason, c.verdict}];
  if (counter == nullptr) {
    std::map<std::string, std::string> labels{
        {"reason", std::string(datapath::reason_name(c.reason))}};
    if (!c.pod) labels["master"] = c.master;
    counter = &family->Add(labels);
  }
  return counter;
}

void DatapathMetrics::update(const std::vector<GuardCounter>& counters, std::size_t leases) {
  std::lock_guard lock(mu_);
  leases_->Set(static_cast<double>(leases));
  std::map<Source, std::uint64_t> seen;
  for (const auto& c : counters) {
    prometheus::Counter* counter = series(c);
    if (counter == nullptr) continue;
    const Source source{c.iface, c.master, c.reason, c.verdict};
    const auto last = last_.find(source);
    const std::uint64_t before = last == last_.end() ? 0 : last->second;
    const std::uint64_t growth = c.packets >= before ? c.packets - before : c.packets;
    if (growth > 0) counter->Increment(static_cast<double>(growth));
    seen[source] = c.packets;
  }
  last_ = std::move(seen);  // guard counters that are gone are forgotten
}

}  // namespace ipfence::agent

namespace ipfence::agent {

// Every option is exported from the first update on, with zeros, so that an alert on the
// series finds it before the first refusal.
void DatapathMetrics::update_sockopt(const std::vector<datapath::SockoptCounter>& counters) {
  std::lock_guard lock(mu_);
  for (const auto& c : counters) {
    auto* family = c.verdict == datapath::Verdict::dropped ? sockopt_refused_ : sockopt_monitored_;
    auto [entry, added] = sockopt_.try_emplace({c.option, c.verdict}, nullptr, 0);
    auto& [counter, last] = entry->second;
    if (added)
      counter = &family->Add({{"option", std::string(datapath::sockopt_option_name(c.option))}});
    const std::uint64_t growth = c.count >= last ? c.count - last : c.count;
    if (growth > 0) counter->Increment(static_cast<double>(growth));
    last = c.count;
  }
}

}  // namespace ipfence::agent
