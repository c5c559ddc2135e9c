#include "agent/conflict/watch_listener.h"

#include <spdlog/spdlog.h>

namespace ipfence::agent {
namespace {

// The masters of this node's allocations only matter for conflists written by hand; a scan
// of every allocation per change would cost more than it finds, so it runs this often.
constexpr std::chrono::seconds kAllocationScanEvery{5};
constexpr std::chrono::seconds kCountersEvery{1};

}  // namespace

WatchListener::WatchListener(datapath::Watcher& watcher, ConflictMetrics& metrics, std::string node,
                             std::vector<std::string> config_masters)
    : watcher_(watcher),
      metrics_(metrics),
      node_(std::move(node)),
      config_masters_(std::move(config_masters)) {}

void WatchListener::observe(const ipam::ClusterState& state,
                            const ipam::Allocator::CatchUp& change) {
  const auto now = std::chrono::steady_clock::now();
  if (change.resynced || now - allocations_scanned_ >= kAllocationScanEvery) {
    allocations_scanned_ = now;
    allocation_masters_.clear();
    for (const auto& [name, pool] : state.pools())
      for (const auto& [value, stored] : pool.allocations)
        if (stored.record.node() == node_ && !stored.record.master().empty())
          allocation_masters_.insert(stored.record.master());
  }
  wanted_ = allocation_masters_;
  wanted_.insert(config_masters_.begin(), config_masters_.end());
  for (const auto& [key, config] : state.multus_configs())
    for (const auto& master : config.spec.macvlan.master) wanted_.insert(master);
}

void WatchListener::apply() {
  for (const std::string& master : wanted_) {
    if (attached_.count(master)) continue;
    auto attached = watcher_.attach(master);
    if (!attached) {
      auto [it, inserted] = failing_.try_emplace(master, attached.error().message);
      if (inserted || it->second != attached.error().message) {
        it->second = attached.error().message;
        spdlog::warn("conflict watch: cannot attach to {} yet (retrying): {}", master,
                     attached.error().message);
      }
      continue;
    }
    failing_.erase(master);
    attached_.insert(master);
    spdlog::info("conflict watch: watching ARP/NDP on {} (program {}{})", master, attached->prog_id,
                 attached->replaced_prog_id
                     ? ", replaced " + std::to_string(attached->replaced_prog_id)
                     : std::string());
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - counters_read_ >= kCountersEvery) {
    counters_read_ = now;
    if (auto counters = watcher_.counters())
      metrics_.set_kernel_counters(counters->suppressed, counters->lost);
  }
}

std::vector<std::string> WatchListener::attached() const {
  return {attached_.begin(), attached_.end()};
}

}  // namespace ipfence::agent
