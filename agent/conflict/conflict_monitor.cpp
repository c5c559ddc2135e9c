#include "agent/conflict/conflict_monitor.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "agent/conflict/classifier.h"
#include "agent/conflict/record_limit.h"

namespace ipfence::agent {
namespace {

using SteadyClock = std::chrono::steady_clock;

}  // namespace

ConflictMonitor::ConflictMonitor(SharedAllocator& allocator, store::Store& store,
                                 ConflictMetrics& metrics, ConflictMonitorOptions options)
    : allocator_(allocator),
      store_(store),
      book_(store),
      metrics_(metrics),
      options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return std::chrono::system_clock::now(); };
}

ConflictMonitor::~ConflictMonitor() {
  stop();
}

void ConflictMonitor::submit(datapath::WatchEvent event) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.queue_limit) {
      metrics_.count_lost(1);
      return;
    }
    queue_.push_back(std::move(event));
  }
  wake_.notify_one();
}

void ConflictMonitor::start() {
  std::lock_guard lock(mu_);
  if (worker_.joinable()) return;
  stop_ = false;
  worker_ = std::thread([this] { run(); });
}

void ConflictMonitor::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void ConflictMonitor::run() {
  auto next_sweep = SteadyClock::now() + options_.sweep_interval;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_until(lock, next_sweep, [this] { return stop_ || !queue_.empty(); });
      if (stop_ && queue_.empty()) return;
    }
    drain();
    if (SteadyClock::now() >= next_sweep) {
      sweep();
      next_sweep = SteadyClock::now() + options_.sweep_interval;
    }
  }
}

void ConflictMonitor::drain() {
  for (;;) {
    datapath::WatchEvent event;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) return;
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    handle(event);
  }
}

void ConflictMonitor::handle(const datapath::WatchEvent& event) {
  metrics_.count_event(event.kind);
  Classification c;
  std::size_t quarantined_in_pool = 0;
  std::vector<std::pair<std::string, std::int64_t>> evict;  // record_limit.h
  allocator_.with([&](ipam::Allocator& allocator) {
    // Apply what the store has now (other nodes' allocations, our own quarantine writes)
    // without waiting: the per-pool quarantine limit must hold within a burst too. A store
    // error leaves the last view, which is still the best answer there is.
    (void)allocator.catch_up(std::chrono::milliseconds(0));
    c = classify(allocator.state(), event);
    if (!c.pool.empty()) quarantined_in_pool = allocator.state().quarantined_count(c.pool);
    evict = records_to_evict(allocator.state(), event.ip.to_string(), event.mac.to_string());
  });
  if (options_.probes != nullptr && !c.pool.empty() && c.kind != ipam::ConflictKind::reserved &&
      options_.probes->probed_lately(event.ip)) {
    // An answer to an ADD's probe: the address is claimed for that ADD only while it is
    // probed and is given back now, so whoever answered squats in the pool; no pod was
    // ever handed the address, whatever the view says this instant.
    c.kind = ipam::ConflictKind::squatter;
    c.holder.clear();
    c.holder_mac.clear();
    c.holder_node.clear();
  }
  if (!c.kind) return;
  const ipam::ConflictKind kind = *c.kind;
  if (kind == ipam::ConflictKind::squatter && options_.probes != nullptr)
    options_.probes->note_squatter(event.ip, event.mac);
  const std::string ip = event.ip.to_string();
  const std::string mac = event.mac.to_string();
  metrics_.count_conflict(event.master, c.pool, kind);
  // The kernel stamped the frame with CLOCK_MONOTONIC (bpf_ktime_get_ns), as steady_clock
  // reads it on Linux.
  std::optional<std::chrono::nanoseconds> latency;
  if (event.seen_monotonic.count() > 0) {
    latency = SteadyClock::now().time_since_epoch() - event.seen_monotonic;
    metrics_.observe_detection(*latency);
  }
  if (kind == ipam::ConflictKind::reserved) {
    // The reservation exists for that host: expected. Counted above; nothing to report.
    spdlog::debug("watch: reserved IP {} in use by {} on {}", ip, mac, event.master);
    return;
  }
  metrics_.mark_active(ip, mac, c.pool, kind, SteadyClock::now());

  ipam::Sighting sighting{.ip = ip,
                          .mac = mac,
                          .kind = kind,
                          .pool = c.pool,
                          .holder = c.holder,
                          .holder_mac = c.holder_mac,
                          .node = options_.node,
                          .master = event.master,
                          .when = options_.now()};
  nlohmann::json line = {{"event", "conflict"},
                         {"kind", ipam::conflict_kind_name(kind)},
                         {"ip", ip},
                         {"mac", mac},
                         {"pool", c.pool},
                         {"master", event.master},
                         {"frame", datapath::watch_kind_name(event.kind)},
                         {"node", options_.node}};
  if (event.vlan) line["vlan"] = event.vlan;
  if (latency)
    line["detectedInUs"] = std::chrono::duration_cast<std::chrono::microseconds>(*latency).count();
  if (!c.holder.empty()) {
    line["holder"] = c.holder;
    line["holderMac"] = c.holder_mac;
    line["holderNode"] = c.holder_node;
  }
  if (kind == ipam::ConflictKind::squatter && options_.quarantine) {
    auto outcome =
        book_.quarantine(sighting, quarantined_in_pool, options_.max_quarantined_per_pool);
    if (!outcome) {
      line["quarantine"] = "failed: " + outcome.error().message;
    } else {
      line["quarantine"] = ipam::quarantine_outcome_name(*outcome);
      if (*outcome == ipam::ConflictBook::QuarantineOutcome::limit_reached)
        metrics_.count_quarantine_skipped(c.pool);
    }
  }
  if (auto evicted = evict_records(store_, evict); !evicted)
    line["evictError"] = evicted.error().message;
  auto recorded = book_.record(sighting);
  if (recorded)
    line["count"] = recorded->count;
  else
    line["recordError"] = recorded.error().message;
  // One line per conflict, machine-readable whatever the log format.
  spdlog::warn("{}", line.dump());
}

void ConflictMonitor::sweep() {
  const auto now = SteadyClock::now();
  metrics_.expire(now, options_.active_for);
  if (!options_.quarantine || now - last_quiet_sweep_ < options_.quiet_sweep_interval) return;
  last_quiet_sweep_ = now;
  ipam::ConflictBook::QuarantineMap quarantine;
  allocator_.with([&](ipam::Allocator& allocator) { quarantine = allocator.state().quarantine(); });
  if (quarantine.empty()) return;
  auto released = book_.release_quiet(quarantine, options_.quiet_period, options_.now());
  if (!released) {
    spdlog::warn("quarantine: releasing quiet entries failed: {}", released.error().message);
    return;
  }
  for (const auto& record : *released)
    spdlog::info("quarantine: released {} in pool {} (last seen {} from {})", record.ip,
                 record.pool, record.last_seen, record.mac);
}

}  // namespace ipfence::agent
