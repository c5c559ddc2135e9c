// Allocation over a store: picks IPs from a ClusterState (next-fit, never reserved, never
// excluded, never taken) and claims them with one all-or-nothing transaction that creates
// one key per IP plus the attachment key, like host-local's O_EXCL files. Concurrent
// allocators on other processes or nodes lose a compare and retry with a fresh view.
//
// A commit whose answer is lost (etcd timed out, the connection broke after the request was
// sent) may or may not have applied. Every transaction of an attachment compares its key
// absent, so at most one of them ever applies, and reading that key back tells which case
// it is: the allocation is then returned, or picked again (allocator_settle.cpp).
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
  // Never picked for this request (pool picks only): addresses an outside host answered a
  // conflict probe for, while their quarantine may not have reached the view yet.
  std::vector<IpAddress> avoid;
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

// An entry of AllocateRequest::ips: "10.6.168.133/16" -> 10.6.168.133 (CNI's args.cni.ips
// may carry a prefix length).
Result<IpAddress> parse_wanted_ip(const std::string& text);

// A pure choice on a view: the IP to hand out from `pool` for a request, or why not.
// `cursor` is the next-fit position (the last IP handed out in that pool).
// `avoid`: addresses not to pick (AllocateRequest::avoid); ignored for a wanted IP.
Result<IpAddress> choose_ip(const ClusterState& state, const std::string& pool,
                            std::optional<u128> cursor, const std::optional<IpAddress>& wanted,
                            const std::vector<IpAddress>& avoid = {});

// Builds the exhaustion message for a set of pools, e.g.
//   IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)
std::string exhausted_message(const ClusterState& state, const std::vector<std::string>& pools);

class Allocator {
 public:
  // Every member has a default, so designated initializers may name any subset.
  struct Options {
    std::string node{};
    int max_attempts = 64;  // compare failures before giving up with ErrorCode::conflict
    // Commits with an unknown outcome (see above) before an allocation or release gives up
    // with ErrorCode::unavailable: each may cost up to two store timeouts.
    int max_unknown_outcomes = 2;
    // Where next-fit starts in a pool this process has not allocated from yet. With
    // spread_cursors (the agent sets it for a store that several nodes share): after this
    // node's newest allocation in the pool, else at a point of the pool derived from a hash
    // of the node and pool names (next_fit_cursor.h), so that nodes start apart and rarely
    // race for the same IP. Without: after the pool's newest allocation, as if this process
    // had handed it out, else at the pool's first IP.
    bool spread_cursors = false;
    // Instead of the hash: start at this fraction (0..1) of the pool's usable IPs (tests).
    std::optional<double> cursor_offset{};
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
  // Releases every attachment of `network` not in `valid` ({containerID, ifname}) whose
  // addresses this node holds (Options::node; any node's when it is empty): a runtime's list
  // names its own node's attachments only.
  GcResult gc(const std::string& network,
              const std::vector<std::pair<std::string, std::string>>& valid);

  const ClusterState& state() const { return state_; }
  store::Store& store() { return store_; }

 private:
  Result<AllocateResult> try_allocate(const AllocateRequest& request, bool& retry);
  Result<AllocateResult> result_of(const Attachment& attachment, bool existing) const;

  // allocator_settle.cpp: when the view or a commit's outcome is in doubt, ask the store.
  // Reads `key` and applies what it holds (or its absence) to the view; true if present.
  Result<bool> refresh_key(const std::string& key);
  // The same for an attachment and the IP keys it names.
  Result<bool> refresh_attachment(const std::string& container_id, const std::string& ifname);
  // Reads every allocation of a pool (one range read) into the view: after repeated lost
  // races, which mean the view is behind (a lagging watch), not just unlucky.
  Status refresh_pool_allocations(const std::string& pool);
  // After an allocation commit failed with `failure` and an unknown outcome.
  Result<AllocateResult> settle_allocation(const Attachment& attachment, const Error& failure,
                                           bool& retry);
  // After a release commit failed so: true = applied (the attachment is gone), false = not.
  Result<bool> settle_release(const store::Txn& txn, const std::string& container_id,
                              const std::string& ifname, std::int64_t mod_revision,
                              const Error& failure);
  Status ensure_watch();
  std::optional<u128> cursor_for(const std::string& pool);

  store::Store& store_;
  Options options_;
  ClusterState state_;
  std::unique_ptr<store::Watch> watch_;
  bool loaded_ = false;
  std::map<std::string, u128> cursors_;  // next-fit position per pool
  int unknown_outcomes_ = 0;             // in the current allocate() or release()
  int lost_races_ = 0;                   // IP compares lost in the current allocate()
};

}  // namespace ipfence::ipam
