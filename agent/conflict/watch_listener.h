// Keeps the conflict watcher attached to every master: those SpiderMultusConfigs name, the
// --masters flag, and those this node's allocations were made on (a conflist written by
// hand). Unlike the guard it watches the base interface only: frames of every VLAN arrive
// there, tagged, and the watcher reads the tag. An interface that is not there yet is retried
// every round and logged once. Also feeds the watcher's kernel counters to the metrics.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/conflict/conflict_metrics.h"
#include "agent/datapath/watch.h"
#include "agent/store_watcher.h"

namespace ipfence::agent {

class WatchListener final : public StateListener {
 public:
  WatchListener(datapath::Watcher& watcher, ConflictMetrics& metrics, std::string node,
                std::vector<std::string> config_masters);

  void observe(const ipam::ClusterState& state, const ipam::Allocator::CatchUp& change) override;
  void apply() override;

  std::vector<std::string> attached() const;

 private:
  datapath::Watcher& watcher_;
  ConflictMetrics& metrics_;
  std::string node_;
  std::vector<std::string> config_masters_;
  std::set<std::string> wanted_;
  std::set<std::string> allocation_masters_;
  std::chrono::steady_clock::time_point allocations_scanned_{};
  std::set<std::string> attached_;
  std::map<std::string, std::string> failing_;  // master -> last error, logged once
  std::chrono::steady_clock::time_point counters_read_{};
};

}  // namespace ipfence::agent
