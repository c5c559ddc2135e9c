#include "ipam/objects.h"

#include <fstream>
#include <random>
#include <set>

#include "ipam/clock.h"
#include "ipam/validation.h"

namespace ipfence::ipam {
namespace {

constexpr int kMaxAttempts = 16;

std::string not_found_message(Kind kind, const std::string& name) {
  // kubectl: Error from server (NotFound): spiderippools.spiderpool.spidernet.io "x" not found
  return std::string(kind_info(kind).resource) + "s." + kGroup + " " + "\"" + name + "\" not found";
}

std::string store_key(Kind kind, const std::string& ns, const std::string& name) {
  switch (kind) {
    case Kind::ippool:
      return keys::pool(name);
    case Kind::reservedip:
      return keys::reserved(name);
    case Kind::multusconfig:
      return keys::multus(ns.empty() ? "default" : ns, name);
  }
  return {};
}

std::string new_uid() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::uint64_t a = random(), b = random();
  char text[40];
  // RFC 4122 version 4 layout.
  std::snprintf(text, sizeof text, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return text;
}

std::string holder_text(const Allocation& a) {
  std::string pod = a.pod_name.empty() ? "<unknown pod>" : a.pod_namespace + "/" + a.pod_name;
  return "pod " + pod + " (container " + a.container_id + ", interface " + a.ifname + ")";
}

// The part of an object that apply compares to decide "unchanged".
bool same_content(const Object& a, const Object& b) {
  nlohmann::json ja = object_to_json(a), jb = object_to_json(b);
  for (auto* j : {&ja, &jb}) {
    auto& meta = (*j)["metadata"];
    for (const char* volatile_field : {"uid", "creationTimestamp", "resourceVersion"})
      meta.erase(volatile_field);
    j->erase("status");
  }
  return ja == jb;
}

template <typename T>
Result<T> parse_stored(const store::KeyValue& kv) {
  try {
    T object = nlohmann::json::parse(kv.value).get<T>();
    object.metadata.resource_version = kv.mod_revision;
    return object;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::corrupt,
                      "stored object " + kv.key + " cannot be read: " + e.what());
  }
}

Result<Object> parse_stored_object(Kind kind, const store::KeyValue& kv) {
  switch (kind) {
    case Kind::ippool: {
      IPF_ASSIGN_OR_RETURN(auto pool, parse_stored<SpiderIPPool>(kv));
      return Object(std::move(pool));
    }
    case Kind::reservedip: {
      IPF_ASSIGN_OR_RETURN(auto reserved, parse_stored<SpiderReservedIP>(kv));
      return Object(std::move(reserved));
    }
    case Kind::multusconfig: {
      IPF_ASSIGN_OR_RETURN(auto config, parse_stored<SpiderMultusConfig>(kv));
      return Object(std::move(config));
    }
  }
  return make_error(ErrorCode::internal, "unknown kind");
}

// Checks that hold between a pool and everything else; `batch_pools` are the pools applied
// earlier in the same batch (they are not in `state` yet).
Status check_pool_against_others(const ClusterState& state, const std::string& name,
                                 const PoolRanges& ranges,
                                 const std::map<std::string, PoolRanges>& batch_pools,
                                 const std::string& where) {
  if (const PoolState* old = state.pool(name)) {
    const auto& old_spec = old->pool.spec;
    if (old->ranges.subnet != ranges.subnet)
      return make_error(ErrorCode::invalid_argument, where + ": spec.subnet is immutable (" +
                                                         old->ranges.subnet.to_string() + " -> " +
                                                         ranges.subnet.to_string() +
                                                         "); create a new SpiderIPPool instead");
    if (old_spec.ip_version && old->ranges.family != ranges.family)
      return make_error(ErrorCode::invalid_argument,
                        where + ": spec.ipVersion is immutable; create a new SpiderIPPool");
    for (const auto& [value, stored] : old->allocations) {
      if (ranges.usable.contains(value)) continue;
      const Allocation held = stored.allocation(stored.record.ip(value));
      return make_error(ErrorCode::in_use,
                        where + ": cannot remove " + held.ip +
                            " from the pool: it is allocated to " + holder_text(held) +
                            "; delete that pod first, or keep the IP in spec.ips");
    }
  }
  auto overlaps = [&](const std::string& other, const PoolRanges& other_ranges) -> Status {
    if (other == name || other_ranges.family != ranges.family) return {};
    IpSet common = ranges.ips.intersection(other_ranges.ips);
    if (common.empty()) return {};
    return make_error(ErrorCode::invalid_argument,
                      where + ": spec.ips overlaps IPPool " + other + " at " +
                          common.ranges().front().to_string() +
                          "; an IP can belong to one pool only, so remove it from one of them");
  };
  for (const auto& [other, pool] : state.pools())
    if (!batch_pools.count(other)) IPF_TRY(overlaps(other, pool.ranges));
  for (const auto& [other, other_ranges] : batch_pools) IPF_TRY(overlaps(other, other_ranges));
  return {};
}

std::vector<std::string> reserved_in_use_warnings(const ClusterState& state, const IpSet& set) {
  std::vector<std::string> warnings;
  for (const auto& [name, pool] : state.pools()) {
    if (pool.ranges.family != set.family()) continue;
    for (const auto& [value, stored] : pool.allocations) {
      if (!set.contains(value)) continue;
      const Allocation held = stored.allocation(stored.record.ip(value));
      warnings.push_back(held.ip + " is allocated to " + holder_text(held) +
                         "; it keeps its IP until released, and no new allocation gets it");
    }
  }
  return warnings;
}

// An allocation that committed between our read and our write can hold an IP the new pool
// spec no longer has (allocations compare the pool key, but a pool write cannot compare "no
// key under ips/<pool>/": etcd caps a transaction at 128 operations). So after a pool write
// we look again; the caller rolls back when this finds a stranded holder.
Result<std::optional<Allocation>> stranded_allocation(store::Store& store, const std::string& pool,
                                                      const IpSet* usable) {
  IPF_ASSIGN_OR_RETURN(auto listed, store.list(keys::ips_of_pool(pool)));
  for (const auto& kv : listed.kvs) {
    Allocation allocation;
    try {
      allocation = nlohmann::json::parse(kv.value).get<Allocation>();
    } catch (const std::exception& e) {
      return make_error(ErrorCode::corrupt,
                        "stored allocation " + kv.key + " cannot be read: " + e.what());
    }
    auto ip = IpAddress::parse(allocation.ip);
    if (!usable || !ip || !usable->contains(ip->value())) return std::optional(allocation);
  }
  return std::optional<Allocation>();
}

}  // namespace

std::string_view apply_action_name(ApplyAction action) {
  switch (action) {
    case ApplyAction::created:
      return "created";
    case ApplyAction::configured:
      return "configured";
    case ApplyAction::unchanged:
      return "unchanged";
    case ApplyAction::deleted:
      return "deleted";
  }
  return "unchanged";
}

std::string object_reference(Kind kind, const std::string& name) {
  return std::string(kind_info(kind).resource) + "." + kGroup + "/" + name;
}

std::string ApplyResult::message() const {
  return reference + " " + std::string(apply_action_name(action));
}

Result<ClusterState> ObjectService::load_state() {
  IPF_ASSIGN_OR_RETURN(auto list, store_.list(""));
  return ClusterState::from_list(list);
}

Result<std::vector<ApplyResult>> ObjectService::apply(std::vector<Object> objects) {
  // Names must be unique within one batch, or the last would silently win.
  std::set<std::string> seen;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto& meta = object_meta(objects[i]);
    std::string key = store_key(object_kind(objects[i]), meta.namespace_, meta.name);
    if (!seen.insert(key).second)
      return make_error(ErrorCode::invalid_argument,
                        "document " + std::to_string(i) + ": " +
                            object_reference(object_kind(objects[i]), meta.name) +
                            " appears more than once in this apply");
  }

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    IPF_ASSIGN_OR_RETURN(auto list, store_.list(""));
    ClusterState state = ClusterState::from_list(list);
    std::map<std::string, const store::KeyValue*> stored;
    for (const auto& kv : list.kvs) stored[kv.key] = &kv;

    store::Txn txn;
    std::vector<store::Op> undo;  // restores every key this batch writes
    std::vector<ApplyResult> results;
    std::map<std::string, PoolRanges> batch_pools;
    bool pools_touched = false, reserved_touched = false;
    const std::string now = rfc3339_now();

    for (std::size_t i = 0; i < objects.size(); ++i) {
      Object object = objects[i];
      Kind kind = object_kind(object);
      ObjectMeta& meta = object_meta(object);
      if (kind_info(kind).namespaced && meta.namespace_.empty()) meta.namespace_ = "default";
      const std::string where =
          "document " + std::to_string(i) + " (" + kind_info(kind).name + " " + meta.name + ")";
      ApplyResult result{object_reference(kind, meta.name), ApplyAction::created, {}};

      if (auto* pool = std::get_if<SpiderIPPool>(&object)) {
        auto ranges = validate_pool(*pool);
        if (!ranges) return ranges.error().wrap(where);
        IPF_TRY(check_pool_against_others(state, meta.name, *ranges, batch_pools, where));
        batch_pools.emplace(meta.name, std::move(*ranges));
        pools_touched = true;
      } else if (auto* reserved = std::get_if<SpiderReservedIP>(&object)) {
        auto set = validate_reserved(*reserved);
        if (!set) return set.error().wrap(where);
        result.warnings = reserved_in_use_warnings(state, *set);
        reserved_touched = true;
      } else if (auto* config = std::get_if<SpiderMultusConfig>(&object)) {
        if (auto valid = validate_multus(*config); !valid) return valid.error().wrap(where);
      }

      std::string key = store_key(kind, meta.namespace_, meta.name);
      auto existing = stored.find(key);
      if (existing == stored.end()) {
        txn.compares.push_back(store::Compare::absent(key));
        undo.push_back(store::Op::del(key));
        if (meta.uid.empty()) meta.uid = new_uid();
        if (meta.creation_timestamp.empty()) meta.creation_timestamp = now;
      } else {
        IPF_ASSIGN_OR_RETURN(Object old, parse_stored_object(kind, *existing->second));
        txn.compares.push_back(store::Compare::unchanged(key, existing->second->mod_revision));
        undo.push_back(store::Op::put(key, existing->second->value));
        meta.uid = object_meta(old).uid;
        meta.creation_timestamp = object_meta(old).creation_timestamp;
        result.action =
            same_content(old, object) ? ApplyAction::unchanged : ApplyAction::configured;
      }
      meta.resource_version = 0;
      if (result.action != ApplyAction::unchanged) {
        nlohmann::json json = object_to_json(object);
        json.erase("status");
        json["metadata"].erase("resourceVersion");
        txn.ops.push_back(store::Op::put(key, json.dump()));
      }
      results.push_back(std::move(result));
    }
    if (txn.ops.empty()) return results;  // everything unchanged

    // Guards serialize pool writers (overlap checks) and order reservations against
    // allocations (see ClusterState::reserved_guard).
    if (pools_touched) {
      txn.compares.push_back(store::Compare::unchanged(keys::kPoolsGuard, state.pools_guard()));
      txn.ops.push_back(store::Op::put(keys::kPoolsGuard, now));
    }
    if (reserved_touched) {
      txn.compares.push_back(
          store::Compare::unchanged(keys::kReservedGuard, state.reserved_guard()));
      txn.ops.push_back(store::Op::put(keys::kReservedGuard, now));
    }
    IPF_ASSIGN_OR_RETURN(auto committed, store_.commit(txn));
    if (!committed.succeeded) continue;
    for (const auto& [name, ranges] : batch_pools) {
      if (!state.pool(name)) continue;  // a new pool has no allocations to strand
      IPF_ASSIGN_OR_RETURN(auto stranded, stranded_allocation(store_, name, &ranges.usable));
      if (!stranded) continue;
      store::Txn rollback;
      for (const auto& op : txn.ops)
        if (op.key.rfind("guards/", 0) != 0)
          rollback.compares.push_back(store::Compare::unchanged(op.key, committed.revision));
      rollback.ops = undo;
      IPF_ASSIGN_OR_RETURN(auto undone, store_.commit(rollback));
      return make_error(ErrorCode::in_use,
                        "IPPool " + name + ": " + stranded->ip + " was allocated to " +
                            holder_text(*stranded) + " while this apply ran, and the new " +
                            "spec.ips no longer holds it; " +
                            (undone.succeeded ? "nothing was applied"
                                              : "the rollback lost a race too, check the objects") +
                            "; delete that pod first or keep the IP");
    }
    return results;
  }
  return make_error(ErrorCode::conflict,
                    "other writers kept changing the same objects; nothing was applied, try again");
}

Result<Object> ObjectService::get(Kind kind, const std::string& namespace_,
                                  const std::string& name) {
  IPF_ASSIGN_OR_RETURN(auto kv, store_.get(store_key(kind, namespace_, name)));
  if (!kv) return make_error(ErrorCode::not_found, not_found_message(kind, name));
  return parse_stored_object(kind, *kv);
}

Result<std::vector<Object>> ObjectService::list(Kind kind, const std::string& namespace_) {
  std::string prefix = kind_info(kind).store_dir;
  if (kind_info(kind).namespaced && !namespace_.empty()) prefix += namespace_ + "/";
  IPF_ASSIGN_OR_RETURN(auto listed, store_.list(prefix));
  std::vector<Object> objects;
  for (const auto& kv : listed.kvs) {
    IPF_ASSIGN_OR_RETURN(Object object, parse_stored_object(kind, kv));
    objects.push_back(std::move(object));
  }
  return objects;
}

Result<ApplyResult> ObjectService::remove(Kind kind, const std::string& namespace_,
                                          const std::string& name) {
  std::string key = store_key(kind, namespace_, name);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    IPF_ASSIGN_OR_RETURN(ClusterState state, load_state());
    IPF_ASSIGN_OR_RETURN(auto kv, store_.get(key));
    if (!kv) return make_error(ErrorCode::not_found, not_found_message(kind, name));
    if (kind == Kind::ippool) {
      const PoolState* pool = state.pool(name);
      if (pool && !pool->allocations.empty()) {
        const auto& [value, stored] = *pool->allocations.begin();
        const Allocation first = stored.allocation(stored.record.ip(value));
        return make_error(ErrorCode::in_use, "IPPool " + name + " still has " +
                                                 std::to_string(pool->allocations.size()) +
                                                 " allocated IP(s), e.g. " + first.ip + " for " +
                                                 holder_text(first) +
                                                 "; delete those pods first, then delete the pool");
      }
    }
    store::Txn txn;
    txn.compares.push_back(store::Compare::unchanged(key, kv->mod_revision));
    txn.ops.push_back(store::Op::del(key));
    const std::string now = rfc3339_now();
    if (kind == Kind::ippool) {
      txn.compares.push_back(store::Compare::unchanged(keys::kPoolsGuard, state.pools_guard()));
      txn.ops.push_back(store::Op::put(keys::kPoolsGuard, now));
    } else if (kind == Kind::reservedip) {
      txn.compares.push_back(
          store::Compare::unchanged(keys::kReservedGuard, state.reserved_guard()));
      txn.ops.push_back(store::Op::put(keys::kReservedGuard, now));
    }
    IPF_ASSIGN_OR_RETURN(auto committed, store_.commit(txn));
    if (!committed.succeeded) continue;
    if (kind == Kind::ippool) {
      IPF_ASSIGN_OR_RETURN(auto stranded, stranded_allocation(store_, name, nullptr));
      if (stranded) {
        store::Txn restore;
        restore.compares.push_back(store::Compare::absent(key));
        restore.ops.push_back(store::Op::put(key, kv->value));
        IPF_TRY(store_.commit(restore));
        return make_error(ErrorCode::in_use, "IPPool " + name + " got an allocation (" +
                                                 stranded->ip + " for " + holder_text(*stranded) +
                                                 ") while being deleted; it was kept");
      }
    }
    return ApplyResult{object_reference(kind, name), ApplyAction::deleted, {}};
  }
  return make_error(ErrorCode::conflict,
                    "other writers kept changing " + object_reference(kind, name) + "; try again");
}

Result<ApplyResult> ObjectService::patch(Kind kind, const std::string& namespace_,
                                         const std::string& name,
                                         const nlohmann::json& merge_patch) {
  if (!merge_patch.is_object())
    return make_error(ErrorCode::invalid_argument,
                      "a merge patch must be a JSON object, got " + merge_patch.dump());
  IPF_ASSIGN_OR_RETURN(Object current, get(kind, namespace_, name));
  nlohmann::json json = object_to_json(current);
  json.erase("status");
  json.merge_patch(merge_patch);
  IPF_ASSIGN_OR_RETURN(Object patched, parse_object(json, 0));
  const ObjectMeta& meta = object_meta(patched);
  if (object_kind(patched) != kind || meta.name != name)
    return make_error(ErrorCode::invalid_argument,
                      "a patch cannot change an object's kind or metadata.name");
  IPF_ASSIGN_OR_RETURN(auto results, apply({std::move(patched)}));
  ApplyResult result = std::move(results.front());
  // kubectl says "patched" for a change and "patched (no change)" otherwise.
  return result;
}

nlohmann::json ObjectService::pool_status(const ClusterState& state, const std::string& pool) {
  nlohmann::json status = nlohmann::json::object();
  const PoolState* ps = state.pool(pool);
  if (!ps) return status;
  nlohmann::json allocated = nlohmann::json::object();
  for (const auto& [value, stored] : ps->allocations) {
    const Allocation a = stored.allocation(stored.record.ip(value));
    nlohmann::json entry = {{"containerID", a.container_id}, {"ifname", a.ifname}};
    if (!a.pod_name.empty()) entry["pod"] = a.pod_namespace + "/" + a.pod_name;
    if (!a.pod_uid.empty()) entry["podUid"] = a.pod_uid;
    if (!a.node.empty()) entry["node"] = a.node;
    allocated[a.ip] = entry;
  }
  PoolCounts counts = state.counts(pool);
  status["allocatedIPs"] = allocated;
  status["allocatedIPCount"] = counts.allocated;
  status["totalIPCount"] = counts.total;
  status["reservedIPCount"] = counts.reserved;
  status["reservedInUseIPCount"] = counts.reserved_in_use;
  status["availableIPCount"] = counts.available;
  return status;
}

}  // namespace ipfence::ipam
