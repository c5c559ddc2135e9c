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
  leases_ = &prometheus::BuildGauge()
                 .Name("ipfence_guard_leases")
                 .Help("Leases (IP and MAC of a local pod) in the guard's map")
                 .Register(registry)
                 .Add({});
}

void DatapathMetrics::update(const std::vector<GuardCounter>& counters, std::size_t leases) {
  std::lock_guard lock(mu_);
  leases_->Set(static_cast<double>(leases));
  for (const auto& c : counters) {
    prometheus::Family<prometheus::Counter>* family = nullptr;
    if (c.verdict == datapath::Verdict::dropped) family = dropped_;
    if (c.verdict == datapath::Verdict::monitored) family = monitored_;
    if (family == nullptr) continue;  // passed (reserved_in_use): not an egress drop
    Series& s = series_[{c.master, c.reason, c.verdict}];
    if (s.counter == nullptr)
      s.counter = &family->Add(
          {{"master", c.master}, {"reason", std::string(datapath::reason_name(c.reason))}});
    const std::uint64_t growth = c.packets >= s.last ? c.packets - s.last : c.packets;
    if (growth > 0) s.counter->Increment(static_cast<double>(growth));
    s.last = c.packets;
  }
}

}  // namespace ipfence::agent
