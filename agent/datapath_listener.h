// Drives the guard from the store watcher (store_watcher.h): observe() computes the desired
// state under the allocator lock (datapath_state.h), apply() pushes it without the lock
// (datapath_service.h) and refreshes the guard's metrics about once a second. Every round
// calls apply(), so failed writes and masters that did not exist yet are retried.
//
// observe() makes a full snapshot (every lease of the node) at the first round, after the
// view was rebuilt, when a pool changed, and every kFullPass (10 s); in between, a change set of
// the addresses the round's store events touched. The full passes are the safety net for what
// events do not show: the agent's own writes (the view applies them at commit, so the watch's copy
// is no event; the IPAM handlers tell the guard of them, lease_sink.h) and masters that no
// allocation names any more.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "agent/datapath_metrics.h"
#include "agent/datapath_service.h"
#include "agent/datapath_state.h"
#include "agent/store_watcher.h"

namespace ipfence::agent {

class DatapathListener final : public StateListener {
 public:
  DatapathListener(DatapathService& service, std::string node,
                   std::vector<std::string> config_masters, DatapathMetrics* metrics);

  void observe(const ipam::ClusterState& state, const ipam::Allocator::CatchUp& change) override;
  void apply() override;

 private:
  DatapathService& service_;
  std::string node_;
  std::vector<std::string> config_masters_;
  DatapathMetrics* metrics_;  // may be null

  GuardInputs pending_;
  bool has_pending_ = false;
  bool service_has_snapshot_ = false;         // then snapshots leave out the pods (WithPods)
  std::set<std::string> allocation_masters_;  // as of the last full pass, and changes since
  std::chrono::steady_clock::time_point next_full_{};
  std::vector<std::string> bad_macs_;  // last reported
  std::chrono::steady_clock::time_point next_metrics_{};
};

}  // namespace ipfence::agent
