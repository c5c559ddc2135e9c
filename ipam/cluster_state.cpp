#include "ipam/cluster_state.h"

#include <algorithm>

namespace ipfence::ipam {
namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string after(const std::string& s, const char* prefix) {
  return s.substr(std::char_traits<char>::length(prefix));
}

// "ips/<pool>/<ip>" -> {pool, ip}
std::optional<std::pair<std::string, std::string>> split_ip_key(const std::string& key) {
  std::string rest = after(key, keys::kIps);
  auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  return std::make_pair(rest.substr(0, slash), rest.substr(slash + 1));
}

// "attachments/<containerID>/<ifname>": container IDs never contain '/' (CNI's rule).
std::optional<std::pair<std::string, std::string>> split_attachment_key(const std::string& key) {
  std::string rest = after(key, keys::kAttachments);
  auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  return std::make_pair(rest.substr(0, slash), rest.substr(slash + 1));
}

template <typename T>
std::optional<T> parse_json_as(const std::string& value, std::string& problem) {
  try {
    return nlohmann::json::parse(value).get<T>();
  } catch (const std::exception& e) {
    problem = e.what();
    return std::nullopt;
  }
}

const IpSet kEmptyV4{IpFamily::v4};

// The problem of a record at a revision beyond what the view keeps (kMaxKeptRevision).
std::string beyond_kept_revision(const char* kind, std::int64_t revision) {
  return std::string(kind) + " at revision " + std::to_string(revision) + " is beyond revision " +
         std::to_string(kMaxKeptRevision) + ", the highest this view keeps";
}

}  // namespace

std::optional<IpAddress> ip_of_allocation_key(const std::string& key) {
  if (!starts_with(key, keys::kIps)) return std::nullopt;
  auto ids = split_ip_key(key);
  if (!ids) return std::nullopt;
  auto ip = IpAddress::parse(ids->second);
  if (!ip) return std::nullopt;
  return *ip;
}

const std::vector<std::string>& ClusterState::read_order() {
  static const std::vector<std::string> order = {keys::kPools,  keys::kReserved,   keys::kGuards,
                                                 keys::kMultus, keys::kQuarantine, keys::kConflicts,
                                                 keys::kIps,    keys::kAttachments};
  return order;
}

ClusterState ClusterState::from_list(const store::ListResult& list) {
  ClusterState state;
  store::for_each_under(list, read_order(), [&state](const store::KeyValue& kv) {
    state.apply_put(kv.key, kv.value, kv.mod_revision, kv.create_revision);
  });
  state.revision_ = std::max(state.revision_, list.revision);
  return state;
}

Result<std::pair<ClusterState, std::int64_t>> ClusterState::load(store::Store& store) {
  ClusterState state;
  IPF_ASSIGN_OR_RETURN(std::int64_t revision,
                       store.list_each(read_order(), [&state](const store::KeyValue& kv) {
                         state.apply_put(kv.key, kv.value, kv.mod_revision, kv.create_revision);
                       }));
  state.revision_ = std::max(state.revision_, revision);
  return std::make_pair(std::move(state), revision);
}

// Allocations and attachments (nearly every key of a big store) carry their own revision;
// key_revisions_ holds the rest: other kinds, deletes (tombstones) and unreadable records.
std::int64_t ClusterState::applied_revision(const std::string& key) const {
  if (auto it = key_revisions_.find(key); it != key_revisions_.end()) return it->second;
  if (starts_with(key, keys::kIps)) {
    if (auto orphan = orphan_allocations_.find(key); orphan != orphan_allocations_.end())
      return orphan->second.mod_revision();
    auto ids = split_ip_key(key);
    if (!ids) return 0;
    auto pool = pools_.find(ids->first);
    auto ip = IpAddress::parse(ids->second);
    if (pool == pools_.end() || !ip) return 0;
    auto it = pool->second.allocations.find(ip->value());
    return it == pool->second.allocations.end() ? 0 : it->second.mod_revision();
  }
  if (starts_with(key, keys::kAttachments)) {
    auto ids = split_attachment_key(key);
    auto it =
        ids ? attachments_.find(AttachmentProbe(ids->first, ids->second)) : attachments_.end();
    return it == attachments_.end() ? 0 : it->mod_revision();
  }
  return 0;
}

void ClusterState::note_applied(const std::string& key, std::int64_t revision, bool in_record) {
  if (in_record)
    key_revisions_.erase(key);
  else
    key_revisions_[key] = revision;
}

bool ClusterState::apply(const store::Event& event) {
  if (applied_revision(event.kv.key) >= event.kv.mod_revision) return false;
  if (event.type == store::Event::Type::put)
    apply_put(event.kv.key, event.kv.value, event.kv.mod_revision, event.kv.create_revision);
  else
    apply_delete(event.kv.key, event.kv.mod_revision);
  return true;
}

void ClusterState::apply_put(const std::string& key, const std::string& value,
                             std::int64_t revision, std::int64_t create_revision) {
  if (applied_revision(key) >= revision) return;
  revision_ = std::max(revision_, revision);
  bool in_record = false;
  put_key(key, value, revision, create_revision, in_record);
  note_applied(key, revision, in_record);
}

void ClusterState::put_key(const std::string& key, const std::string& value, std::int64_t revision,
                           std::int64_t create_revision, bool& in_record) {
  if (starts_with(key, keys::kIps)) {
    in_record = put_allocation(key, value, revision, create_revision);
  } else if (starts_with(key, keys::kAttachments)) {
    std::string problem;
    auto attachment = parse_json_as<Attachment>(value, problem);
    auto ids = split_attachment_key(key);
    if (!attachment || !ids) return note_problem(key, "unreadable attachment: " + problem);
    attachments_.erase(AttachmentProbe(ids->first, ids->second));
    if (revision > StoredAttachment::kMaxRevision)
      return note_problem(key, beyond_kept_revision("attachment", revision));
    AttachmentRecord record(*attachment, ids->first, ids->second);
    if (attachment->ips.size() == 1) {  // its allocation may be in already (else: derived then)
      const auto& held = attachment->ips.front();
      auto ip = IpAddress::parse(held.ip);
      if (const AllocationRecord* allocation = ip ? allocation_record(held.pool, *ip) : nullptr)
        if (auto derived = AttachmentRecord::derive(record, *allocation, *ip))
          record = std::move(*derived);
    }
    attachments_.insert(StoredAttachment{std::move(record), revision});
    in_record = true;
  } else if (starts_with(key, keys::kPools)) {
    put_pool(after(key, keys::kPools), value, revision);
  } else if (starts_with(key, keys::kReserved)) {
    put_reserved(after(key, keys::kReserved), value, revision);
  } else if (starts_with(key, keys::kMultus)) {
    std::string problem;
    auto config = parse_json_as<SpiderMultusConfig>(value, problem);
    if (!config) return note_problem(key, "unreadable SpiderMultusConfig: " + problem);
    config->metadata.resource_version = revision;
    multus_[after(key, keys::kMultus)] = std::move(*config);
  } else if (starts_with(key, keys::kQuarantine)) {
    put_quarantine(key, value, revision);
  } else if (starts_with(key, keys::kConflicts)) {
    std::string problem;
    auto record = parse_json_as<ConflictRecord>(value, problem);
    if (!record) return note_problem(key, "unreadable conflict record: " + problem);
    conflicts_[key] = StoredRecord<ConflictRecord>{std::move(*record), revision};
  } else if (key == keys::kPoolsGuard) {
    pools_guard_ = revision;
  } else if (key == keys::kReservedGuard) {
    reserved_guard_ = revision;
  }
}

void ClusterState::apply_delete(const std::string& key, std::int64_t revision) {
  if (applied_revision(key) >= revision) return;
  note_applied(key, revision, false);  // a tombstone
  revision_ = std::max(revision_, revision);

  if (starts_with(key, keys::kIps)) {
    delete_allocation(key, revision);
  } else if (starts_with(key, keys::kAttachments)) {
    if (auto ids = split_attachment_key(key))
      attachments_.erase(AttachmentProbe(ids->first, ids->second));
  } else if (starts_with(key, keys::kPools)) {
    auto it = pools_.find(after(key, keys::kPools));
    if (it == pools_.end()) return;
    // A pool is only deleted when empty; keep any stragglers so counts stay honest.
    for (auto& [value, stored] : it->second.allocations)
      orphan_allocations_[keys::ip(it->first, stored.record.ip(value).to_string())] =
          std::move(stored);
    drop_caches(it->first);
    pools_.erase(it);
  } else if (starts_with(key, keys::kReserved)) {
    reserved_.erase(after(key, keys::kReserved));
    rebuild_reserved();
  } else if (starts_with(key, keys::kMultus)) {
    multus_.erase(after(key, keys::kMultus));
  } else if (starts_with(key, keys::kQuarantine)) {
    delete_quarantine(key);
  } else if (starts_with(key, keys::kConflicts)) {
    conflicts_.erase(key);
  } else if (key == keys::kPoolsGuard) {
    pools_guard_ = 0;
  } else if (key == keys::kReservedGuard) {
    reserved_guard_ = 0;
  }
}

void ClusterState::put_pool(const std::string& name, const std::string& value,
                            std::int64_t revision) {
  std::string problem;
  auto pool = parse_json_as<SpiderIPPool>(value, problem);
  if (!pool) return note_problem(keys::pool(name), "unreadable SpiderIPPool: " + problem);
  auto ranges = validate_pool(*pool);
  if (!ranges) return note_problem(keys::pool(name), ranges.error().message);
  pool->metadata.resource_version = revision;

  PoolState& state = pools_[name];
  state.pool = std::move(*pool);
  state.ranges = std::move(*ranges);
  if (state.allocated.family() != state.ranges.family) {
    state.allocated = IpSet(state.ranges.family);
    for (const auto& [value_, stored] : state.allocations) state.allocated.insert(value_);
  }
  // Adopt allocations that arrived before their pool (watch order is by key revision).
  std::string prefix = keys::ips_of_pool(name);
  for (auto it = orphan_allocations_.lower_bound(prefix);
       it != orphan_allocations_.end() && starts_with(it->first, prefix.c_str());) {
    if (auto ip = ip_of_allocation_key(it->first)) {  // always: put_allocation parsed it
      state.allocated.insert(ip->value());
      state.allocations[ip->value()] = std::move(it->second);
    }
    it = orphan_allocations_.erase(it);
  }
  drop_caches(name);
}

void ClusterState::put_reserved(const std::string& name, const std::string& value,
                                std::int64_t revision) {
  std::string problem;
  auto reserved = parse_json_as<SpiderReservedIP>(value, problem);
  if (!reserved)
    return note_problem(keys::reserved(name), "unreadable SpiderReservedIP: " + problem);
  auto set = validate_reserved(*reserved);
  if (!set) return note_problem(keys::reserved(name), set.error().message);
  reserved->metadata.resource_version = revision;
  reserved_[name] = std::move(*reserved);
  rebuild_reserved();
}

void ClusterState::rebuild_reserved() {
  reserved_v4_ = IpSet(IpFamily::v4);
  reserved_v6_ = IpSet(IpFamily::v6);
  for (auto& [name, object] : reserved_) {
    auto set = validate_reserved(object);
    if (!set) continue;  // validated when put; cannot fail here
    (set->family() == IpFamily::v4 ? reserved_v4_ : reserved_v6_).insert_all(*set);
  }
  drop_all_caches();
}

// "quarantine/<pool>/<ip>" -> pool
static std::optional<std::string> quarantine_pool(const std::string& key) {
  std::string rest = key.substr(std::char_traits<char>::length(keys::kQuarantine));
  auto slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  return rest.substr(0, slash);
}

void ClusterState::put_quarantine(const std::string& key, const std::string& value,
                                  std::int64_t revision) {
  std::string problem;
  auto record = parse_json_as<QuarantineRecord>(value, problem);
  auto pool = quarantine_pool(key);
  if (!record || !pool) return note_problem(key, "unreadable quarantine record: " + problem);
  quarantine_[key] = StoredRecord<QuarantineRecord>{std::move(*record), revision};
  available_cache_.erase(*pool);
}

void ClusterState::delete_quarantine(const std::string& key) {
  if (quarantine_.erase(key) == 0) return;
  if (auto pool = quarantine_pool(key)) available_cache_.erase(*pool);
}

const StoredRecord<QuarantineRecord>* ClusterState::quarantined(const std::string& pool,
                                                                const IpAddress& ip) const {
  auto it = quarantine_.find(keys::quarantine(pool, ip.to_string()));
  return it == quarantine_.end() ? nullptr : &it->second;
}

std::size_t ClusterState::quarantined_count(const std::string& pool) const {
  const std::string prefix = keys::kQuarantine + pool + "/";
  std::size_t n = 0;
  for (auto it = quarantine_.lower_bound(prefix);
       it != quarantine_.end() && starts_with(it->first, prefix.c_str()); ++it)
    ++n;
  return n;
}

bool ClusterState::is_quarantined(const std::string& pool, const PoolState& state,
                                  u128 value) const {
  if (quarantine_.empty()) return false;
  return quarantined(pool, IpAddress(state.ranges.family, value)) != nullptr;
}

void ClusterState::drop_caches(const std::string& pool) {
  available_cache_.erase(pool);
  reserved_counts_cache_.erase(pool);
}

void ClusterState::drop_all_caches() {
  available_cache_.clear();
  reserved_counts_cache_.clear();
}

bool ClusterState::put_allocation(const std::string& key, const std::string& value,
                                  std::int64_t revision, std::int64_t create_revision) {
  std::string problem;
  auto allocation = parse_json_as<Allocation>(value, problem);
  auto ids = split_ip_key(key);
  if (!allocation || !ids) {
    note_problem(key, "unreadable allocation: " + problem);
    return false;
  }
  auto ip = IpAddress::parse(ids->second);
  if (!ip) {
    note_problem(key, ip.error().message);
    return false;
  }

  // Beyond what a StoredAllocation keeps, the allocation is still held (its address must
  // not be handed out again) with its revisions capped, the real revision is kept beside it
  // (key_revisions_, as for keys without a record) for applied_revision(), and it is noted.
  const bool in_record = std::max(revision, create_revision) <= StoredAllocation::kMaxRevision;
  if (!in_record)
    note_problem(key,
                 beyond_kept_revision("allocation", revision) + ": its address stays allocated");
  StoredAllocation stored{AllocationRecord(*allocation, *ip), create_revision, revision};
  derive_attachment(stored.record, *ip);
  auto pool = pools_.find(ids->first);
  if (pool == pools_.end()) {
    orphan_allocations_[key] = std::move(stored);
    return in_record;
  }
  PoolState& state = pool->second;
  const bool added = state.allocations.count(ip->value()) == 0;
  state.allocated.insert(ip->value());
  state.allocations[ip->value()] = std::move(stored);
  if (auto cache = available_cache_.find(ids->first); cache != available_cache_.end())
    cache->second.erase(ip->value());
  if (auto cache = reserved_counts_cache_.find(ids->first);
      added && cache != reserved_counts_cache_.end() &&
      reserved(state.ranges.family).contains(ip->value()))
    ++cache->second.in_use;
  return in_record;
}

const AllocationRecord* ClusterState::allocation_record(const std::string& pool,
                                                        const IpAddress& ip) const {
  if (auto it = pools_.find(pool); it != pools_.end()) {
    auto found = it->second.allocations.find(ip.value());
    return found == it->second.allocations.end() || found->second.record.family() != ip.family()
               ? nullptr
               : &found->second.record;
  }
  auto orphan = orphan_allocations_.find(keys::ip(pool, ip.to_string()));
  return orphan == orphan_allocations_.end() ? nullptr : &orphan->second.record;
}

void ClusterState::derive_attachment(const AllocationRecord& allocation, const IpAddress& ip) {
  auto it = attachments_.find(AttachmentProbe(allocation.container_id(), allocation.ifname()));
  if (it == attachments_.end() || it->record.derived()) return;
  auto derived = AttachmentRecord::derive(it->record, allocation, ip);
  if (!derived) return;
  const std::int64_t mod_revision = it->mod_revision();
  it = attachments_.erase(it);  // the same key: it goes back where it was
  attachments_.insert(it, StoredAttachment{std::move(*derived), mod_revision});
}

void ClusterState::delete_allocation(const std::string& key, std::int64_t /*revision*/) {
  auto ids = split_ip_key(key);
  if (!ids) return;
  orphan_allocations_.erase(key);
  auto ip = IpAddress::parse(ids->second);
  auto pool = pools_.find(ids->first);
  if (!ip || pool == pools_.end()) return;
  PoolState& state = pool->second;
  if (state.allocations.erase(ip->value()) == 0) return;
  state.allocated.erase(ip->value());
  auto cache = available_cache_.find(ids->first);
  const bool is_reserved = reserved(state.ranges.family).contains(ip->value());
  if (cache != available_cache_.end() && state.ranges.usable.contains(ip->value()) &&
      !is_reserved && !is_quarantined(ids->first, state, ip->value()))
    cache->second.insert(ip->value());
  if (auto counts = reserved_counts_cache_.find(ids->first);
      is_reserved && counts != reserved_counts_cache_.end() && counts->second.in_use > 0)
    --counts->second.in_use;
}

void ClusterState::note_problem(const std::string& key, std::string message) {
  problems_.push_back(Problem{key, std::move(message)});
}

const PoolState* ClusterState::pool(const std::string& name) const {
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : &it->second;
}

std::vector<std::string> ClusterState::default_pools(IpFamily family) const {
  std::vector<std::string> names;
  for (const auto& [name, state] : pools_)
    if (state.pool.spec.default_ && state.ranges.family == family) names.push_back(name);
  return names;
}

const PoolState* ClusterState::pool_containing(const IpAddress& ip) const {
  for (const auto& [name, state] : pools_)
    if (state.ranges.family == ip.family() && state.ranges.ips.contains(ip.value())) return &state;
  return nullptr;
}

const IpSet& ClusterState::reserved(IpFamily family) const {
  return family == IpFamily::v4 ? reserved_v4_ : reserved_v6_;
}

std::vector<std::string> ClusterState::reserved_by(const IpAddress& ip) const {
  std::vector<std::string> names;
  if (!reserved(ip.family()).contains(ip.value())) return names;
  for (const auto& [name, object] : reserved_) {
    SpiderReservedIP copy = object;
    auto set = validate_reserved(copy);
    if (set && set->family() == ip.family() && set->contains(ip.value())) names.push_back(name);
  }
  return names;
}

const StoredAllocation* ClusterState::allocation(const IpAddress& ip) const {
  for (const auto& [name, state] : pools_) {
    if (state.ranges.family != ip.family()) continue;
    auto it = state.allocations.find(ip.value());
    if (it != state.allocations.end()) return &it->second;
  }
  return nullptr;
}

const StoredAttachment* ClusterState::attachment(const std::string& container_id,
                                                 const std::string& ifname) const {
  auto it = attachments_.find(AttachmentProbe(container_id, ifname));
  return it == attachments_.end() ? nullptr : &*it;
}

const IpSet& ClusterState::available(const std::string& pool) const {
  auto cached = available_cache_.find(pool);
  if (cached != available_cache_.end()) return cached->second;
  const PoolState* state = this->pool(pool);
  if (!state) return kEmptyV4;
  IpSet set = state->ranges.usable;
  set.erase_all(reserved(state->ranges.family));
  set.erase_all(state->allocated);
  const std::string prefix = keys::kQuarantine + pool + "/";
  for (auto it = quarantine_.lower_bound(prefix);
       it != quarantine_.end() && starts_with(it->first, prefix.c_str()); ++it)
    if (auto ip = IpAddress::parse(it->second.record.ip); ip && ip->family() == set.family())
      set.erase(ip->value());
  return available_cache_.emplace(pool, std::move(set)).first->second;
}

const ClusterState::ReservedCounts& ClusterState::reserved_counts(const std::string& pool,
                                                                  const PoolState& state) const {
  auto cached = reserved_counts_cache_.find(pool);
  if (cached != reserved_counts_cache_.end()) return cached->second;
  const IpSet& reserved_set = reserved(state.ranges.family);
  ReservedCounts counts;
  counts.in_pool = state.ranges.usable.intersection(reserved_set).size_saturating();
  for (const auto& [value, stored] : state.allocations)
    if (reserved_set.contains(value)) ++counts.in_use;
  return reserved_counts_cache_.emplace(pool, counts).first->second;
}

PoolCounts ClusterState::counts(const std::string& pool) const {
  PoolCounts counts;
  const PoolState* state = this->pool(pool);
  if (!state) return counts;
  const ReservedCounts& reserved = reserved_counts(pool, *state);
  counts.total = state->ranges.usable.size_saturating();
  counts.allocated = state->allocations.size();
  counts.reserved_in_use = reserved.in_use;
  // A reserved allocation outside the usable range (a straggler) must not wrap the count.
  counts.reserved = reserved.in_pool > reserved.in_use ? reserved.in_pool - reserved.in_use : 0;
  // Quarantined: only what is otherwise free (a reserved or allocated address counts there).
  const std::string prefix = keys::kQuarantine + pool + "/";
  const IpSet& reserved_set = this->reserved(state->ranges.family);
  for (auto it = quarantine_.lower_bound(prefix);
       it != quarantine_.end() && starts_with(it->first, prefix.c_str()); ++it) {
    auto ip = IpAddress::parse(it->second.record.ip);
    if (ip && ip->family() == state->ranges.family && state->ranges.usable.contains(ip->value()) &&
        !reserved_set.contains(ip->value()) && !state->allocated.contains(ip->value()))
      ++counts.quarantined;
  }
  counts.available = available(pool).size_saturating();
  return counts;
}

}  // namespace ipfence::ipam
