#include "agent/store_watcher.h"

#include <spdlog/spdlog.h>

#include "agent/heap_trim.h"

namespace ipfence::agent {

StoreWatcher::StoreWatcher(SharedAllocator& allocator, std::vector<StateListener*> listeners,
                           std::chrono::milliseconds interval)
    : allocator_(allocator), listeners_(std::move(listeners)), interval_(interval) {}

StoreWatcher::~StoreWatcher() {
  stop();
}

void StoreWatcher::poll_once() {
  bool rebuilt = false;
  allocator_.with([&](ipam::Allocator& allocator) {
    auto caught = allocator.catch_up(std::chrono::milliseconds(0));
    allocator_.health().record(caught);
    if (!caught) {
      if (!failing_)
        spdlog::warn("store watch: {} (retrying every {} ms)", caught.error().message,
                     interval_.count());
      failing_ = true;
      return;
    }
    if (failing_) spdlog::info("store watch: the store answers again");
    failing_ = false;
    const ipam::ClusterState& state = allocator.state();
    const bool changed = !notified_once_ || caught->resynced || !caught->events.empty() ||
                         state.revision() != seen_revision_;
    if (!changed) return;
    if (caught->resynced && notified_once_)
      spdlog::info("store watch: view rebuilt from a full list at revision {}", state.revision());
    notified_once_ = true;
    seen_revision_ = state.revision();
    for (StateListener* listener : listeners_) listener->observe(state, *caught);
    rebuilt = caught->resynced;
  });
  for (StateListener* listener : listeners_) listener->apply();
  // A rebuilt view (after a compaction) freed the old one and a full list: tens of MB per
  // 10k pods that glibc would keep mapped. Start-up trims once in main, after the first round.
  if (rebuilt) return_free_heap();
}

void StoreWatcher::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void StoreWatcher::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreWatcher::run() {
  for (;;) {
    poll_once();
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, interval_, [this] { return stop_; })) return;
  }
}

}  // namespace ipfence::agent
