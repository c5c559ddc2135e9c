// Internal to the datapath library: the state behind Watcher, shared by watch.cpp (load,
// maps, attach, counters) and watch_ringbuf.cpp (the reader).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/datapath/watch.h"
#include "agent/unique_fd.h"
#include "watch.skel.h"

struct ring_buffer;

namespace ipfence::datapath {

struct WatchSkeletonDeleter {
  void operator()(watch_bpf* skel) const { watch_bpf__destroy(skel); }
};
using WatchSkeleton = std::unique_ptr<watch_bpf, WatchSkeletonDeleter>;

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const;
};
using RingBuffer = std::unique_ptr<ring_buffer, RingBufferDeleter>;

struct Watcher::Impl {
  WatchOptions options;
  WatchSkeleton skel;
  std::vector<std::string> warnings;
  // Created after load, on the events map; its callback gets this Impl as context (an Impl
  // never moves: Watcher is held by unique_ptr and is not movable).
  RingBuffer ring;

  // Interface names by ifindex, from attach() (and looked up once for others): what
  // WatchEvent::master says. Used by the reader thread and the owner.
  std::mutex names_mu;
  std::map<std::uint32_t, std::string> names;

  // The callback the ring buffer's records go to while a poll or the reader runs.
  const WatchCallback* current = nullptr;
  WatchCallback callback;  // the reader thread's
  std::thread reader;
  agent::UniqueFd wake;   // eventfd: tells the reader to stop
  agent::UniqueFd epoll;  // the reader waits on the ring buffer's epoll fd and `wake`

  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> undecodable{0};
  std::atomic<std::uint64_t> callback_failures{0};

  bpf_map* map(WatchMap which) const;
  std::string master_name(std::uint32_t ifindex);
  // libbpf's ring_buffer_sample_fn: decodes one record and calls *current.
  static int on_record(void* ctx, void* data, std::size_t size);
  void read_loop();
};

}  // namespace ipfence::datapath
