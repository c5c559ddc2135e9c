// The conflict watcher: the TC ingress program on every macvlan master (bpf/watch.bpf.c), its
// pinned maps, and the thread that reads its ring buffer and hands each event to the agent.
//
// Lifecycle. Watcher::open() loads a fresh program that shares the guard's pool and reserved
// tries (from the guard's pins, or the fds of a Guard in this process), and adopts or creates
// the watcher's own pinned maps (ring buffer, dedup state, counters) next to the guard's.
// attach() puts the program on an interface's ingress, replacing in place whatever watcher
// was there. As with the guard, nothing is undone by the destructor: the filters and pins
// outlive the agent, and events written while it is down wait in the pinned ring buffer
// (until it is full; the lost counter says how many did not fit). detach() is explicit.
//
// Events. start(callback) runs a reader thread that calls `callback` once per event, in the
// order the kernel wrote them, on that thread. poll() reads on the caller's thread instead
// (tests, tools). The callback must not block for long: while it runs, events queue up in the
// ring buffer, and a full buffer loses events (counted).
//
// Threads: attach, detach, start and stop belong to one owner thread; counters() may be called
// from any thread. Calls without a netns path act in the calling thread's network namespace,
// which must be the agent's own (where the masters are).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "agent/datapath/watch_event.h"
#include "ipam/result.h"

namespace ipfence::datapath {

// Our slot on each master's clsact ingress hook (the guard's numbers, on the other hook).
// Priority 1 runs the watcher before any other ingress filter could drop what it should see;
// it returns TC_ACT_UNSPEC, so the filters after it run as if it were not there.
inline constexpr std::uint32_t kDefaultWatchTcHandle = kDefaultTcHandle;
inline constexpr std::uint32_t kDefaultWatchTcPriority = 1;

// The guard's pool and reserved tries, as fds (Guard::map_fd). All four or none: -1 means
// "open the guard's pins in WatchOptions::pin_dir".
struct WatchPrefixMaps {
  int pools_v4 = -1;
  int pools_v6 = -1;
  int reserved_v4 = -1;
  int reserved_v6 = -1;
};

// The tries of a Guard in this process (e.g. one opened without a pin dir).
WatchPrefixMaps prefix_maps_of(const Guard& guard);

struct WatchOptions {
  // The guard's pin dir: the pool and reserved tries are taken from its pins (Guard::open()
  // must have run, in this or an earlier agent), and the watcher's own maps are pinned here.
  // Empty: nothing is pinned, and prefix_maps must be given (tests and benchmarks).
  std::string pin_dir = kDefaultPinDir;
  WatchPrefixMaps prefix_maps{};  // when given, used instead of the pins
  // An (IP, MAC) pair is reported again only after this long; a new MAC for an IP at once.
  // Compiled into the program's rodata: changing it takes a new open() and attach().
  std::chrono::nanoseconds dedup_interval = std::chrono::seconds(10);
  // Addresses the dedup LRU remembers (one entry each, whatever its MACs): beyond it the
  // least recently seen are forgotten (and would be reported again), never refused.
  std::uint32_t dedup_entries = 16384;
  // Ring buffer size in bytes: a power of 2, at least a page. Each event takes 48 bytes; the
  // default holds about 2,700: every pool address of a /21 claimed at once, or 27 ms of a
  // 100,000 frames/s flood of new (IP, MAC) pairs, which the agent (writing the store per
  // event, ~2,000/s) could not keep up with at any size. An event that finds it full is
  // counted as lost and leaves the dedup state alone, so the pair's next frame is reported.
  // The whole buffer counts in the agent's RSS twice (the kernel maps its pages two times in
  // a row): 1 MiB cost 2 MiB. The agent's --conflict-ring-kib sets it.
  std::uint32_t ringbuf_bytes = 128u << 10;
  std::uint32_t tc_handle = kDefaultWatchTcHandle;
  std::uint32_t tc_priority = kDefaultWatchTcPriority;
};

struct WatchAttachment {
  std::string netns;  // empty: the agent's own
  std::string ifname;
  int ifindex = 0;
  std::uint32_t prog_id = 0;
  std::uint32_t replaced_prog_id = 0;  // the watcher program it replaced, or 0
};

struct WatchCounters {
  // Kernel side (bpf/abi.h enum ipf_watch_counter), summed over CPUs. The map is pinned, so
  // these count from the pin's creation, across agent restarts: counters, never gauges.
  std::uint64_t sent = 0;          // events written to the ring buffer
  std::uint64_t suppressed = 0;    // same (IP, MAC) again within the dedup interval
  std::uint64_t lost = 0;          // the ring buffer was full: event gone (frame untouched)
  std::uint64_t malformed = 0;     // ARP/NDP (or tagged) frames cut short or inconsistent
  std::uint64_t out_of_scope = 0;  // claims outside every pool and reserved range
  std::array<std::uint64_t, kWatchKindCount> sent_by_kind{};  // index: WatchKind
  // This object's reader.
  std::uint64_t delivered = 0;          // records decoded and handed to the callback
  std::uint64_t undecodable = 0;        // records of another ABI, skipped
  std::uint64_t callback_failures = 0;  // the callback threw; the reader went on

  std::uint64_t sent_of(WatchKind kind) const {
    return sent_by_kind[static_cast<std::size_t>(kind)];
  }
};

using WatchCallback = std::function<void(const WatchEvent&)>;

enum class WatchMap {
  events,    // ring buffer
  seen,      // LRU IP -> MAC of its last event, when its last claim/probe event was sent
  counters,  // per-CPU array
  pools_v4,  // the guard's tries, shared
  pools_v6,
  reserved_v4,
  reserved_v6,
};

class Watcher {
 public:
  // Loads the program. Fails (before creating any pin) if the pin dir is not on bpffs, the
  // guard's tries are not there, or a pinned map of the watcher has another layout.
  static Result<std::unique_ptr<Watcher>> open(const WatchOptions& options);

  // Stops the reader thread. Filters and pins stay.
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Attaches (or re-attaches, replacing in place) the watcher to an interface's ingress.
  Result<WatchAttachment> attach(const AttachTarget& target);
  Result<WatchAttachment> attach(const std::string& ifname) {
    return attach(AttachTarget{ifname, 0, {}});
  }
  Result<WatchAttachment> attach(int ifindex) { return attach(AttachTarget{{}, ifindex, {}}); }
  // Removes our ingress filter (only ours). Returns whether one was there; an interface that
  // is gone has none.
  Result<bool> detach(const AttachTarget& target);
  // The id of the watcher program on the interface's ingress, 0 if none.
  Result<std::uint32_t> attached_prog(const AttachTarget& target) const;

  // Starts the reader thread (once; stop() allows another start()).
  Status start(WatchCallback callback);
  // Stops and joins it, after handing over what the ring buffer holds. Idempotent.
  void stop();
  bool running() const;
  // Without the thread: hands every waiting event to `callback`, waiting up to `timeout` for
  // the first one (0: do not wait). Returns how many. Refused while the thread runs.
  Result<std::size_t> poll(const WatchCallback& callback,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  Result<WatchCounters> counters() const;

  // Forgets what the dedup LRU knows of `ip`, so that the next frame about it is reported
  // whatever was reported before: a conflict probe's answer must reach the agent even when
  // the same host was reported a moment ago. Any thread.
  Status forget(const ipam::IpAddress& ip);

  int prog_fd() const;
  std::uint32_t prog_id() const;
  int map_fd(WatchMap map) const;
  const WatchOptions& options() const;
  // Things open() wants the operator to know (e.g. a pinned map kept its old size).
  const std::vector<std::string>& warnings() const;

  struct Impl;  // watch_impl.h

 private:
  explicit Watcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipfence::datapath
