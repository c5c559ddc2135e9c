#include "agent/conflict/conflict_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agent/conflict/record_limit.h"

namespace ipfence::agent {

ConflictMetrics::ConflictMetrics(prometheus::Registry& registry) {
  conflicts_ = &prometheus::BuildCounter()
                    .Name("ipfence_conflicts_total")
                    .Help(
                        "ARP/NDP sightings of pool or reserved IPs from the wire, by kind: pod "
                        "(a pod's IP used by another MAC), probe, squatter (quarantined), "
                        "reserved (expected: not a conflict)")
                    .Register(registry);
  active_ = &prometheus::BuildGauge()
                 .Name("ipfence_conflict_active")
                 .Help("1 while a conflict was seen recently (see --conflict-active-for)")
                 .Register(registry);
  events_ = &prometheus::BuildCounter()
                 .Name("ipfence_watch_events_total")
                 .Help("ARP/NDP events from the conflict watcher, by frame type")
                 .Register(registry);
  lost_ = &prometheus::BuildCounter()
               .Name("ipfence_watch_events_lost_total")
               .Help("Watcher events lost: kernel ring buffer full, or the agent's queue full")
               .Register(registry)
               .Add({});
  suppressed_ = &prometheus::BuildCounter()
                     .Name("ipfence_watch_events_suppressed_total")
                     .Help(
                         "Watcher events deduplicated in the kernel (same IP and MAC within "
                         "the interval)")
                     .Register(registry)
                     .Add({});
  quarantine_skipped_ = &prometheus::BuildCounter()
                             .Name("ipfence_quarantine_skipped_total")
                             .Help(
                                 "Squatted IPs not quarantined because the pool has "
                                 "--quarantine-max-per-pool quarantined IPs already")
                             .Register(registry);
  detection_ = &prometheus::BuildHistogram()
                    .Name("ipfence_conflict_detection_seconds")
                    .Help("From an ARP/NDP frame reaching the master to its conflict being counted")
                    .Register(registry)
                    .Add({}, prometheus::Histogram::BucketBoundaries{100e-6, 250e-6, 500e-6, 1e-3,
                                                                     2.5e-3, 5e-3, 10e-3, 25e-3,
                                                                     50e-3, 100e-3, 250e-3, 1.0});
}

void ConflictMetrics::observe_detection(std::chrono::nanoseconds latency) {
  detection_->Observe(std::chrono::duration<double>(latency).count());
}

void ConflictMetrics::count_event(datapath::WatchKind kind) {
  events_->Add({{"type", std::string(datapath::watch_kind_name(kind))}}).Increment();
}

void ConflictMetrics::count_lost(std::uint64_t n) {
  lost_->Increment(static_cast<double>(n));
}

void ConflictMetrics::set_kernel_counters(std::uint64_t suppressed_total,
                                          std::uint64_t lost_total) {
  std::lock_guard lock(mu_);
  // A counter that went down: the maps were re-created; count from zero again.
  if (suppressed_total < kernel_suppressed_) kernel_suppressed_ = 0;
  if (lost_total < kernel_lost_) kernel_lost_ = 0;
  suppressed_->Increment(static_cast<double>(suppressed_total - kernel_suppressed_));
  lost_->Increment(static_cast<double>(lost_total - kernel_lost_));
  kernel_suppressed_ = suppressed_total;
  kernel_lost_ = lost_total;
}

void ConflictMetrics::count_conflict(const std::string& master, const std::string& pool,
                                     ipam::ConflictKind kind) {
  conflicts_
      ->Add({{"master", master},
             {"pool", pool},
             {"kind", std::string(ipam::conflict_kind_name(kind))}})
      .Increment();
}

void ConflictMetrics::mark_active(const std::string& ip, const std::string& mac,
                                  const std::string& pool, ipam::ConflictKind kind,
                                  Clock::time_point now) {
  std::lock_guard lock(mu_);
  const std::string kind_name(ipam::conflict_kind_name(kind));
  const ActiveKey key{ip, mac, pool, kind_name};
  if (!active_series_.count(key)) {
    // At most kMaxMacsPerAddress series per address (record_limit.h): a random-MAC flood
    // would otherwise add one per frame for the whole active window. The oldest goes.
    auto first = active_series_.lower_bound({ip, "", "", ""});
    std::size_t same_ip = 0;
    auto oldest = active_series_.end();
    for (auto it = first; it != active_series_.end() && std::get<0>(it->first) == ip; ++it) {
      ++same_ip;
      if (oldest == active_series_.end() || it->second.last < oldest->second.last) oldest = it;
    }
    if (same_ip >= kMaxMacsPerAddress) {
      active_->Remove(oldest->second.gauge);
      active_series_.erase(oldest);
    }
  }
  Active& a = active_series_[key];
  if (!a.gauge)
    a.gauge = &active_->Add({{"ip", ip}, {"mac", mac}, {"pool", pool}, {"kind", kind_name}});
  a.gauge->Set(1);
  a.last = now;
}

void ConflictMetrics::expire(Clock::time_point now, std::chrono::seconds active_for) {
  std::lock_guard lock(mu_);
  for (auto it = active_series_.begin(); it != active_series_.end();) {
    if (now - it->second.last < active_for) {
      ++it;
      continue;
    }
    active_->Remove(it->second.gauge);
    it = active_series_.erase(it);
  }
}

void ConflictMetrics::count_quarantine_skipped(const std::string& pool) {
  quarantine_skipped_->Add({{"pool", pool}}).Increment();
}

}  // namespace ipfence::agent
