// An in-memory view of everything in the store that IPAM decisions need: pools (validated),
// the union of reserved IPs, allocations and attachments. Built from a full list, then kept
// current by applying watch events one by one (no rebuild per change).
//
// Applying is idempotent and order-tolerant per key: an event older than what the view
// already holds for that key is ignored, so a writer may apply its own committed changes at
// once and still apply the watch's copy of them later.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "ipam/address_key.h"
#include "ipam/allocation_record.h"
#include "ipam/attachment_record.h"
#include "ipam/conflict_model.h"
#include "ipam/ip_set.h"
#include "ipam/model.h"
#include "ipam/store/packed_uint.h"
#include "ipam/store/store.h"
#include "ipam/validation.h"
#include "ipam/wide_btree.h"

namespace ipfence::ipam {

// A revision as the view's allocation and attachment records keep it: 6 bytes, so 2^48 - 1 at
// most, as the file store's (a million writes a second for 8.9 years; etcd would need
// centuries). What happens beyond is each record's own policy, below.
using KeptRevision = store::PackedUint<6>;
inline constexpr std::int64_t kMaxKeptRevision = static_cast<std::int64_t>(KeptRevision::kMax);

// An allocation as the view keeps it: compact (allocation_record.h), without its address,
// which is the key it is stored under. 40 bytes: both revisions in 6 bytes each beside the
// 24-byte record (with int64 revisions: 48, and a 64-byte B-tree slot with its key).
class StoredAllocation {
 public:
  // A higher revision is kept as this, never refused: refusing would free the address in the
  // view while a pod holds it (ClusterState notes a problem).
  static constexpr std::int64_t kMaxRevision = kMaxKeptRevision;

  StoredAllocation() = default;
  StoredAllocation(AllocationRecord allocation_record, std::int64_t create_revision,
                   std::int64_t mod_revision)
      : record(std::move(allocation_record)),
        create_revision_(kept(create_revision)),
        mod_revision_(kept(mod_revision)) {}

  std::int64_t create_revision() const { return static_cast<std::int64_t>(create_revision_.get()); }
  std::int64_t mod_revision() const { return static_cast<std::int64_t>(mod_revision_.get()); }
  // The whole Allocation, built on demand; `ip` is the address it is stored under.
  Allocation allocation(const IpAddress& ip) const { return record.unpack(ip); }

  AllocationRecord record;

 private:
  static std::uint64_t kept(std::int64_t revision) {
    return static_cast<std::uint64_t>(std::clamp<std::int64_t>(revision, 0, kMaxRevision));
  }

  KeptRevision create_revision_;
  KeptRevision mod_revision_;
};
static_assert(sizeof(StoredAllocation) == 40, "a 56-byte B-tree slot with its 16-byte key");

// The address of an allocation's store key ("ips/<pool>/<ip>"), if it has one.
std::optional<IpAddress> ip_of_allocation_key(const std::string& key);

template <typename T>
struct StoredRecord {
  T record;
  std::int64_t mod_revision = 0;
};

// An attachment as the view keeps it: compact (attachment_record.h), with the container ID
// and ifname of its key, by which the view finds it. 40 bytes: the revision, in 6 bytes, lies
// in the record's tail padding ([[no_unique_address]] lets it), where an int64 after the
// record made a 48-byte slot (65,536 attachments: -0.6 MB).
class StoredAttachment {
 public:
  // ClusterState refuses an attachment beyond this (a problem noted).
  static constexpr std::int64_t kMaxRevision = kMaxKeptRevision;

  StoredAttachment() = default;
  // `mod_revision`: at most kMaxRevision.
  StoredAttachment(AttachmentRecord attachment_record, std::int64_t mod_revision)
      : record(std::move(attachment_record)),
        mod_revision_(static_cast<std::uint64_t>(mod_revision)) {}

  std::int64_t mod_revision() const { return static_cast<std::int64_t>(mod_revision_.get()); }
  std::string container_id() const { return record.key_container_id(); }
  std::string_view ifname() const { return record.key_ifname(); }
  Attachment attachment() const { return record.unpack(); }  // built on demand

  [[no_unique_address]] AttachmentRecord record;

 private:
  KeptRevision mod_revision_;
};
static_assert(sizeof(StoredAttachment) == 40, "the revision belongs in the record's padding");

// Orders attachments by their key's (container ID, ifname) as AttachmentKey orders them (by the
// packed ID), and finds them by an AttachmentProbe.
struct AttachmentOrder {
  using is_transparent = void;
  static AttachmentKey key(const StoredAttachment& a) { return a.record.key(); }
  static AttachmentKey key(const AttachmentProbe& probe) { return probe.key(); }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return key(a) < key(b);
  }
};
using AttachmentSet = WideBtreeSet<StoredAttachment, AttachmentOrder>;

// Counts of a pool. total = ips - excludeIPs (Spiderpool's totalIPCount); the other three
// partition it: total = allocated + reserved + quarantined + available.
struct PoolCounts {
  std::uint64_t total = 0;
  std::uint64_t allocated = 0;        // held by an attachment (reserved or not)
  std::uint64_t reserved = 0;         // reserved and not allocated
  std::uint64_t reserved_in_use = 0;  // allocated and reserved since (the seed's "grandfathered")
  std::uint64_t quarantined = 0;      // used by an outside host: not reserved, not allocated
  std::uint64_t available = 0;        // what a new allocation could get
};

struct PoolState {
  SpiderIPPool pool;  // metadata.resource_version = the key's mod_revision
  PoolRanges ranges;
  // By address value (of the pool's family), in 56-byte slots (address_key.h). A B-tree
  // (wide_btree.h): a third of the space of a std::map's nodes. Inserting or erasing moves
  // records, so pointers into it last until the next change.
  WideBtreeMap<AddressKey, StoredAllocation, AddressKeyOrder> allocations;
  IpSet allocated{IpFamily::v4};
};

class ClusterState {
 public:
  // Problems met while loading (an object that no longer validates, an unreadable record).
  // They never stop the load: the object is skipped and the problem kept here.
  struct Problem {
    std::string key;
    std::string message;
  };

  ClusterState() = default;
  // The key prefixes the view reads, in the order it reads them: pools, reservations and guards
  // before the allocations counted against them, allocations before the attachments that point
  // at them (AttachmentRecord::derive; an attachment read first is built whole and replaced
  // when its allocation comes, and the freed blocks stay between live ones: 2.3 MB of the
  // agent's RSS at 65,536 pods). Keys under none of them are not the view's.
  static const std::vector<std::string>& read_order();
  static ClusterState from_list(const store::ListResult& list);
  // The view of everything in `store`, built key by key as the store lists it (list_each),
  // never holding a second copy of every key and value; and the revision it reflects.
  static Result<std::pair<ClusterState, std::int64_t>> load(store::Store& store);

  // Applies one change; returns true when the view changed.
  bool apply(const store::Event& event);
  // Applies a put or delete the caller committed itself at `revision`.
  void apply_put(const std::string& key, const std::string& value, std::int64_t revision,
                 std::int64_t create_revision);
  void apply_delete(const std::string& key, std::int64_t revision);

  std::int64_t revision() const { return revision_; }  // highest revision applied
  // The revision of the last put or delete of `key` the view applied (0: none): what a
  // compare in a transaction on `key` must name.
  std::int64_t applied_revision(const std::string& key) const;
  const std::vector<Problem>& problems() const { return problems_; }

  const PoolState* pool(const std::string& name) const;
  const std::map<std::string, PoolState>& pools() const { return pools_; }
  // Names of pools with spec.default = true of this family, sorted.
  std::vector<std::string> default_pools(IpFamily family) const;
  // Which pool's usable range holds this IP (pools never overlap: see objects.cpp).
  const PoolState* pool_containing(const IpAddress& ip) const;

  const std::map<std::string, SpiderReservedIP>& reserved_objects() const { return reserved_; }
  const IpSet& reserved(IpFamily family) const;
  // Names of the SpiderReservedIP objects naming this IP.
  std::vector<std::string> reserved_by(const IpAddress& ip) const;

  const std::map<std::string, SpiderMultusConfig>& multus_configs() const { return multus_; }

  // Conflict records by store key (conflicts/<ip>/<mac>), and quarantined addresses by store
  // key (quarantine/<pool>/<ip>). A quarantined address is never available; an allocation
  // that got it anyway (the two raced) counts as allocated, not quarantined.
  const std::map<std::string, StoredRecord<ConflictRecord>>& conflicts() const {
    return conflicts_;
  }
  const std::map<std::string, StoredRecord<QuarantineRecord>>& quarantine() const {
    return quarantine_;
  }
  const StoredRecord<QuarantineRecord>* quarantined(const std::string& pool,
                                                    const IpAddress& ip) const;
  // Quarantine entries of one pool (whatever their addresses' state).
  std::size_t quarantined_count(const std::string& pool) const;

  const StoredAllocation* allocation(const IpAddress& ip) const;
  const StoredAttachment* attachment(const std::string& container_id,
                                     const std::string& ifname) const;
  // By (container ID, ifname). A B-tree, as PoolState::allocations: pointers into it last
  // until the next change.
  const AttachmentSet& attachments() const { return attachments_; }
  // Allocations whose pool is unknown (not yet seen, or deleted while they were held), by
  // store key; listed by `ipfencectl get allocations` so that nothing held is invisible.
  const std::map<std::string, StoredAllocation>& orphan_allocations() const {
    return orphan_allocations_;
  }

  // Store revisions of the guard keys (0 when absent): every pool write and every reserved
  // write bumps its guard, and allocations compare the reserved guard, so that a reservation
  // and an allocation of the same IP can never both succeed.
  std::int64_t pools_guard() const { return pools_guard_; }
  std::int64_t reserved_guard() const { return reserved_guard_; }

  // usable - reserved - allocated: what a new allocation may take. Cached per pool; the
  // cache is kept up to date by allocation changes and dropped on pool/reserved changes.
  const IpSet& available(const std::string& pool) const;
  PoolCounts counts(const std::string& pool) const;

 private:
  void put_pool(const std::string& name, const std::string& value, std::int64_t revision);
  void put_reserved(const std::string& name, const std::string& value, std::int64_t revision);
  void put_key(const std::string& key, const std::string& value, std::int64_t revision,
               std::int64_t create_revision, bool& in_record);
  // false: the record does not hold `revision`: unreadable (a problem noted, nothing stored),
  // or beyond StoredAllocation::kMaxRevision (a problem noted, stored with capped revisions).
  bool put_allocation(const std::string& key, const std::string& value, std::int64_t revision,
                      std::int64_t create_revision);
  // The record of the allocation of `ip` in `pool` (known or orphan), if any.
  const AllocationRecord* allocation_record(const std::string& pool, const IpAddress& ip) const;
  // Makes the attachment of `allocation`'s container ID and ifname point at its parts when it
  // says exactly what they say (AttachmentRecord::derive): attachments and allocations come in
  // either order (a listing has attachments first), so each side tries when it arrives.
  void derive_attachment(const AllocationRecord& allocation, const IpAddress& ip);
  // in_record: the key's record (allocation, attachment) holds `revision` itself.
  void note_applied(const std::string& key, std::int64_t revision, bool in_record);
  void delete_allocation(const std::string& key, std::int64_t revision);
  void rebuild_reserved();
  void put_quarantine(const std::string& key, const std::string& value, std::int64_t revision);
  void delete_quarantine(const std::string& key);
  bool is_quarantined(const std::string& pool, const PoolState& state, u128 value) const;
  void note_problem(const std::string& key, std::string message);

  std::int64_t revision_ = 0;
  std::map<std::string, PoolState> pools_;
  std::map<std::string, SpiderReservedIP> reserved_;
  IpSet reserved_v4_{IpFamily::v4};
  IpSet reserved_v6_{IpFamily::v6};
  std::map<std::string, SpiderMultusConfig> multus_;
  AttachmentSet attachments_;
  // Allocations whose pool is not (yet) known: kept so that counts are right once it is.
  std::map<std::string, StoredAllocation> orphan_allocations_;
  std::map<std::string, StoredRecord<ConflictRecord>> conflicts_;
  std::map<std::string, StoredRecord<QuarantineRecord>> quarantine_;
  // Per key: the last revision applied, including deletes (tombstones), for idempotence;
  // except allocations and attachments, whose records hold it (applied_revision).
  absl::btree_map<std::string, std::int64_t> key_revisions_;
  std::int64_t pools_guard_ = 0;
  std::int64_t reserved_guard_ = 0;
  std::vector<Problem> problems_;
  mutable std::map<std::string, IpSet> available_cache_;
  // Per pool: reserved IPs inside it, and allocations that are reserved. Kept beside
  // available_cache_ (dropped with it, adjusted by allocation changes), so that counts() is
  // O(log n) instead of a pass over every allocation and a set intersection: the agent
  // refreshes its pool gauges on every change.
  struct ReservedCounts {
    std::uint64_t in_pool = 0;
    std::uint64_t in_use = 0;
  };
  const ReservedCounts& reserved_counts(const std::string& pool, const PoolState& state) const;
  void drop_caches(const std::string& pool);
  void drop_all_caches();
  mutable std::map<std::string, ReservedCounts> reserved_counts_cache_;
};

namespace keys {
inline constexpr const char* kGuards = "guards/";
inline constexpr const char* kPoolsGuard = "guards/pools";
inline constexpr const char* kReservedGuard = "guards/reserved";
}  // namespace keys

}  // namespace ipfence::ipam
