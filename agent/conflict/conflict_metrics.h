// The conflict watch's Prometheus series, on the agent's shared registry:
//   ipfence_conflicts_total{master,pool,kind}     sightings by kind (pod, probe, squatter, and
//                                                 reserved: expected use, counted, no alert)
//   ipfence_conflict_active{ip,mac,pool,kind}     1 while a conflict was seen within the
//                                                 active window; the series goes after it
//   ipfence_watch_events_total{type}              ARP/NDP events received, by frame kind
//   ipfence_watch_events_lost_total               lost: ring buffer full in the kernel, or the
//                                                 agent's queue full (squatters only)
//   ipfence_watch_events_suppressed_total         deduplicated in the kernel (same IP and MAC
//                                                 within the interval)
//   ipfence_quarantine_skipped_total{pool}        squatters not quarantined: pool at its limit
//   ipfence_conflict_detection_seconds            from the frame reaching the master (the
//                                                 kernel's timestamp) to the conflict counted
// (ipfence_quarantined_ips{pool} and ipfence_pool_ips{state="quarantined"} come with the
// pool gauges in agent/metrics.cpp.)
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "agent/datapath/watch_event.h"
#include "ipam/conflict_model.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace ipfence::agent {

class ConflictMetrics {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ConflictMetrics(prometheus::Registry& registry);

  void count_event(datapath::WatchKind kind);
  void count_lost(std::uint64_t n);
  // Kernel counters only grow: each call adds the growth since the last one.
  void set_kernel_counters(std::uint64_t suppressed_total, std::uint64_t lost_total);
  void count_conflict(const std::string& master, const std::string& pool, ipam::ConflictKind kind);
  void mark_active(const std::string& ip, const std::string& mac, const std::string& pool,
                   ipam::ConflictKind kind, Clock::time_point now);
  // Removes ipfence_conflict_active series not seen for `active_for`.
  void expire(Clock::time_point now, std::chrono::seconds active_for);
  void count_quarantine_skipped(const std::string& pool);
  void observe_detection(std::chrono::nanoseconds latency);

 private:
  using ActiveKey = std::tuple<std::string, std::string, std::string, std::string>;
  struct Active {
    prometheus::Gauge* gauge = nullptr;
    Clock::time_point last{};
  };

  std::mutex mu_;
  prometheus::Family<prometheus::Counter>* conflicts_;
  prometheus::Family<prometheus::Gauge>* active_;
  prometheus::Family<prometheus::Counter>* events_;
  prometheus::Counter* lost_;
  prometheus::Counter* suppressed_;
  prometheus::Family<prometheus::Counter>* quarantine_skipped_;
  prometheus::Histogram* detection_;
  std::map<ActiveKey, Active> active_series_;
  std::uint64_t kernel_suppressed_ = 0;
  std::uint64_t kernel_lost_ = 0;
};

}  // namespace ipfence::agent
