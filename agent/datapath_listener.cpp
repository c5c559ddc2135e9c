#include "agent/datapath_listener.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ipfence::agent {
namespace {

constexpr std::chrono::seconds kMetricsRefresh{1};
constexpr std::chrono::seconds kFullPass{10};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

DatapathListener::DatapathListener(DatapathService& service, std::string node,
                                   std::vector<std::string> config_masters,
                                   DatapathMetrics* metrics)
    : service_(service),
      node_(std::move(node)),
      config_masters_(std::move(config_masters)),
      metrics_(metrics) {}

void DatapathListener::observe(const ipam::ClusterState& state,
                               const ipam::Allocator::CatchUp& change) {
  const auto now = std::chrono::steady_clock::now();
  // A pool that comes or goes changes which allocations count (one without its pool is
  // nobody's lease) without an event of theirs.
  const bool pools_changed =
      std::any_of(change.events.begin(), change.events.end(),
                  [](const store::Event& e) { return e.kv.key.starts_with(ipam::keys::kPools); });
  // A change set only follows a snapshot the service has (or will have: one not applied
  // yet is replaced by a full one).
  if (!service_has_snapshot_ || has_pending_ || change.resynced || pools_changed ||
      now >= next_full_) {
    pending_ = desired_from_state(state, node_, config_masters_,
                                  service_has_snapshot_ ? WithPods::no : WithPods::yes,
                                  &allocation_masters_);
    next_full_ = now + kFullPass;
  } else {
    pending_ = desired_changes(state, node_, config_masters_, change.events, allocation_masters_);
  }
  has_pending_ = true;
}

void DatapathListener::apply() {
  // A full snapshot names every unusable MAC (said again when the list changes); a change
  // set only those of the allocations it touched (said each time).
  if (has_pending_ &&
      (pending_.full ? pending_.bad_macs != bad_macs_ : !pending_.bad_macs.empty())) {
    if (!pending_.bad_macs.empty())
      spdlog::warn("guard: allocations with a MAC that does not parse get no lease: {}",
                   join(pending_.bad_macs));
    if (pending_.full) bad_macs_ = pending_.bad_macs;
  }
  service_.sync(has_pending_ ? &pending_ : nullptr);  // takes pending_'s contents
  service_has_snapshot_ = service_has_snapshot_ || has_pending_;
  has_pending_ = false;
  pending_ = GuardInputs{};

  const auto now = std::chrono::steady_clock::now();
  if (metrics_ == nullptr || now < next_metrics_) return;
  next_metrics_ = now + kMetricsRefresh;
  auto counters = service_.counters();
  if (!counters) {
    spdlog::debug("guard: counters: {}", counters.error().message);
    return;
  }
  metrics_->update(*counters, service_.lease_count());
  if (auto sockopt = service_.sockopt_counters(); sockopt) metrics_->update_sockopt(*sockopt);
}

}  // namespace ipfence::agent
