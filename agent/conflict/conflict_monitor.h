// Turns the conflict watcher's events into conflicts: classifies each against the agent's
// view (agent/conflict/classifier.h), counts it, quarantines squatted pool addresses, keeps
// one store record per (IP, MAC), logs one JSON line per conflict, and releases quarantined
// addresses after a quiet period.
//
// The watcher's reader thread only queues (submit never waits for the store); one worker
// thread does the rest. Store writes go through the monitor's own store connection, not the
// allocator's, so that a burst of sightings never holds the allocator lock: only the
// classification takes it, for microseconds. The queue is bounded: under a flood, sightings
// beyond it are dropped and counted as lost.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/conflict/conflict_metrics.h"
#include "agent/conflict/probe_book.h"
#include "agent/datapath/watch_event.h"
#include "agent/shared_allocator.h"
#include "ipam/conflict_book.h"
#include "ipam/store/store.h"

namespace ipfence::agent {

struct ConflictMonitorOptions {
  std::string node;
  bool quarantine = true;                     // --quarantine
  std::chrono::seconds quiet_period{600};     // --quarantine-quiet-period
  std::size_t max_quarantined_per_pool = 64;  // --quarantine-max-per-pool
  std::chrono::seconds active_for{60};        // --conflict-active-for
  std::size_t queue_limit = 8192;
  std::chrono::milliseconds sweep_interval{1000};              // active-series expiry
  std::chrono::milliseconds quiet_sweep_interval{15000};       // quiet releases (a store pass)
  std::function<std::chrono::system_clock::time_point()> now;  // tests; default: the clock
  // Conflict probing's shared state, when the active probe is on: answers to our probes are
  // squatters (the address was claimed only while probed), and squatters seen are noted so
  // that the next ADD skips their address without probing.
  ProbeBook* probes = nullptr;
};

class ConflictMonitor {
 public:
  // `store`: a connection of the monitor's own to the allocator's store (the agent opens the
  // same URL twice); it must outlive the monitor.
  ConflictMonitor(SharedAllocator& allocator, store::Store& store, ConflictMetrics& metrics,
                  ConflictMonitorOptions options);
  ~ConflictMonitor();
  ConflictMonitor(const ConflictMonitor&) = delete;
  ConflictMonitor& operator=(const ConflictMonitor&) = delete;

  // Any thread. Never waits for the store; drops (and counts) when the queue is full.
  void submit(datapath::WatchEvent event);

  void start();
  void stop();  // finishes what is queued first

  // Handles everything queued now on the calling thread (the worker's loop; tests).
  void drain();
  // Expires ipfence_conflict_active series and releases quietly quarantined addresses.
  void sweep();

 private:
  void handle(const datapath::WatchEvent& event);
  void run();

  SharedAllocator& allocator_;
  store::Store& store_;  // the monitor's own connection (record_limit.h evictions)
  ipam::ConflictBook book_;
  ConflictMetrics& metrics_;
  ConflictMonitorOptions options_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<datapath::WatchEvent> queue_;
  bool stop_ = false;
  std::thread worker_;
  std::chrono::steady_clock::time_point last_quiet_sweep_{};
};

}  // namespace ipfence::agent
