// Keeps the agent's view current and drives what mirrors it (CNI conflists, pool gauges,
// later BPF maps) so that objects applied with ipfencectl take effect without a restart.
//
// Why polling with catch_up(0) rather than waiting inside catch_up(100ms): the wait would
// hold the allocator lock and stall requests, and a second watch waiting outside the lock
// would call into the same Store from two threads, which the Store interface does not
// promise to allow. A 50 ms tick costs one cheap call under the lock and bounds the delay.
//
// Why listeners look at the state and not only at the events: allocate() and release()
// catch up too, and the events they consume are not handed to anyone. So a round notifies
// when catch_up returned events, rebuilt the view, or the view's revision moved since the
// last round; listeners compare the state with what they mirrored last.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "agent/shared_allocator.h"
#include "ipam/allocator.h"

namespace ipfence::agent {

class StateListener {
 public:
  virtual ~StateListener() = default;
  // With the allocator lock held, after the view changed: copy what is needed, quickly.
  virtual void observe(const ipam::ClusterState& state, const ipam::Allocator::CatchUp& change) = 0;
  // Every round, without the lock: the slow part (files, maps), and retries.
  virtual void apply() {}
};

// A listener from a function, for the simple cases (refreshing gauges).
class FunctionListener final : public StateListener {
 public:
  using Fn = std::function<void(const ipam::ClusterState&, const ipam::Allocator::CatchUp&)>;
  explicit FunctionListener(Fn fn) : fn_(std::move(fn)) {}
  void observe(const ipam::ClusterState& state, const ipam::Allocator::CatchUp& change) override {
    fn_(state, change);
  }

 private:
  Fn fn_;
};

class StoreWatcher {
 public:
  StoreWatcher(SharedAllocator& allocator, std::vector<StateListener*> listeners,
               std::chrono::milliseconds interval = std::chrono::milliseconds(50));
  ~StoreWatcher();
  StoreWatcher(const StoreWatcher&) = delete;
  StoreWatcher& operator=(const StoreWatcher&) = delete;

  // One round in the calling thread. The first round always notifies (start-up sync).
  void poll_once();

  void start();  // rounds every `interval` on a thread
  void stop();   // finishes the current round and joins

 private:
  void run();

  SharedAllocator& allocator_;
  std::vector<StateListener*> listeners_;
  std::chrono::milliseconds interval_;

  bool notified_once_ = false;
  std::int64_t seen_revision_ = 0;
  bool failing_ = false;  // log a store failure once, not every tick

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ipfence::agent
