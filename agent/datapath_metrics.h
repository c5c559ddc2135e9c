// The guard's Prometheus series, on the agent's shared registry:
//   ipfence_egress_dropped_packets_total{master,reason}
//   ipfence_egress_monitored_packets_total{master,reason}
//   ipfence_guard_leases
// The guard's counters live in a pinned per-CPU map and only grow; Prometheus counters can
// only be incremented, so each refresh adds the growth since the last one. A counter that
// went down (its map was re-created) counts from zero again.
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

 private:
  using Key = std::tuple<std::string, datapath::Reason, datapath::Verdict>;
  struct Series {
    prometheus::Counter* counter = nullptr;
    std::uint64_t last = 0;
  };

  std::mutex mu_;
  prometheus::Family<prometheus::Counter>* dropped_;
  prometheus::Family<prometheus::Counter>* monitored_;
  prometheus::Gauge* leases_;
  std::map<Key, Series> series_;
};

}  // namespace ipfence::agent
