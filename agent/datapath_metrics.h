// The guard's Prometheus series, on the agent's shared registry:
//   ipfence_egress_dropped_packets_total{master,reason}     on the masters
//   ipfence_egress_monitored_packets_total{master,reason}
//   ipfence_pod_egress_dropped_packets_total{reason}        on pod interfaces, all pods of the
//   ipfence_pod_egress_monitored_packets_total{reason}      node together (a series per pod
//                                                           would grow without bound)
//   ipfence_guard_leases
//   ipfence_pod_sockopt_refused_total{option}     setsockopt calls the pod socket-option
//   ipfence_pod_sockopt_monitored_total{option}   guard refused (or, in monitor mode, let
//                                                 through), all pods together
// The guard's counters live in a pinned per-CPU map and only grow; Prometheus counters can
// only be incremented, so each refresh adds the growth of each guard counter since the last
// one. A counter that went down (its map was re-created) counts from zero again; one that
// went away (its pod guard was detached) is forgotten.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "agent/datapath_service.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace ipfence::agent {

class DatapathMetrics {
 public:
  explicit DatapathMetrics(prometheus::Registry& registry);

  // Thread-safe; called about once a second.
  void update(const std::vector<GuardCounter>& counters, std::size_t leases);
  void update_sockopt(const std::vector<datapath::SockoptCounter>& counters);

 private:
  // One guard counter, as last seen.
  using Source = std::tuple<datapath::IfaceKey, std::string, datapath::Reason, datapath::Verdict>;
  // One Prometheus series: (pod, master, reason, verdict).
  using SeriesKey = std::tuple<bool, std::string, datapath::Reason, datapath::Verdict>;

  prometheus::Counter* series(const GuardCounter& c);

  std::mutex mu_;
  prometheus::Family<prometheus::Counter>* dropped_;
  prometheus::Family<prometheus::Counter>* monitored_;
  prometheus::Family<prometheus::Counter>* pod_dropped_;
  prometheus::Family<prometheus::Counter>* pod_monitored_;
  prometheus::Gauge* leases_;
  std::map<Source, std::uint64_t> last_;
  std::map<SeriesKey, prometheus::Counter*> series_;
  prometheus::Family<prometheus::Counter>* sockopt_refused_;
  prometheus::Family<prometheus::Counter>* sockopt_monitored_;
  // (option, verdict) -> the series and the guard counter as last seen.
  std::map<std::pair<datapath::SockoptOption, datapath::Verdict>,
           std::pair<prometheus::Counter*, std::uint64_t>>
      sockopt_;
};

}  // namespace ipfence::agent
