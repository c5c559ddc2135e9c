// Allocation over a store: picks IPs from a ClusterState (next-fit, never reserved, never
// excluded, never taken) and claims them with one all-or-nothing transaction that creates
// one key per IP plus the attachment key, like host-local's O_EXCL files. Concurrent
// allocators on other processes or nodes lose a compare and retry with a fresh view.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipam/cluster_state.h"
#include "ipam/store/store.h"

namespace ipfence::ipam {

struct AllocateRequest {
  Allocation identity;  // container_id, ifname required; ip/pool/created are filled here
  std::vector<std::string> ipv4_pools;  // candidates in order
  std::vector<std::string> ipv6_pools;
  std::vector<std::string> ips;  // specific IPs asked for ("10.6.168.133" or with "/len")
};

struct AllocatedIp {
  IpAddress ip;
  std::string pool;
  IpPrefix address;  // ip with the pool subnet's length
  std::optional<IpAddress> gateway;
};

struct AllocateResult {
  std::vector<AllocatedIp> ips;  // IPv4 first
  std::vector<Route> routes;     // pool routes, plus default via gateway
  bool existing = false;         // an earlier request for this attachment already held them
};

struct ReleaseResult {
  std::vector<Attachment::Ip> released;
};

struct GcResult {
  struct Released {
    std::string container_id;
    std::string ifname;
    std::vector<std::string> ips;
  };
  std::vector<Released> released;
  std::vector<std::string> errors;
};

// A pure choice on a view: the IP to hand out from `pool` for a request, or why not.
// `cursor` is the next-fit position (the last IP handed out in that pool).
Result<IpAddress> choose_ip(const ClusterState& state, const std::string& pool,
                            std::optional<u128> cursor, const std::optional<IpAddress>& wanted);

// Builds the exhaustion message for a set of pools, e.g.
//   IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)
std::string exhausted_message(const ClusterState& state, const std::vector<std::string>& pools);

class Allocator {
 public:
  // Every member has a default, so designated initializers may name any subset.
  struct Options {
    std::string node{};
    int max_attempts = 64;  // compare failures before giving up with ErrorCode::conflict
    // Spreads next-fit cursors of different nodes over the pool (0..1 of the pool size),
    // so that nodes rarely race for the same IP. 0 = start after the newest allocation.
    double cursor_offset = 0.0;
    std::function<std::string()> now{};  // RFC 3339 time; defaults to the system clock
  };

  Allocator(store::Store& store, Options options);

  // Loads the full view from the store (at start, or after a compacted watch).
  Status resync();
  // What catch_up applied: the agent mirrors these into BPF maps, conf files and metrics.
  struct CatchUp {
    bool resynced = false;  // the view was rebuilt from a full list (start, compaction)
    std::vector<store::Event> events;
  };
  // Applies changes committed by others since the last call (waits at most `timeout`).
  Result<CatchUp> catch_up(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  Result<AllocateResult> allocate(const AllocateRequest& request);
  Result<ReleaseResult> release(const std::string& container_id, const std::string& ifname);
  // The attachment's current IPs, or not_found.
  Result<AllocateResult> lookup(const std::string& container_id, const std::string& ifname);
  // Releases every attachment of `network` not in `valid` ({containerID, ifname}).
  GcResult gc(const std::string& network,
              const std::vector<std::pair<std::string, std::string>>& valid);

  const ClusterState& state() const { return state_; }
  store::Store& store() { return store_; }

 private:
  Result<AllocateResult> try_allocate(const AllocateRequest& request, bool& retry);
  Result<AllocateResult> result_of(const Attachment& attachment, bool existing) const;
  Status ensure_watch();
  std::optional<u128> cursor_for(const std::string& pool);

  store::Store& store_;
  Options options_;
  ClusterState state_;
  std::unique_ptr<store::Watch> watch_;
  bool loaded_ = false;
  std::map<std::string, u128> cursors_;  // next-fit position per pool
};

}  // namespace ipfence::ipam
