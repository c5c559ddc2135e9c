#include "ipam/allocator.h"

#include <algorithm>
#include <set>

#include "ipam/clock.h"
#include "ipam/next_fit_cursor.h"

namespace ipfence::ipam {
namespace {

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

std::string holder_text(const Allocation& a) {
  std::string pod = a.pod_name.empty() ? "<unknown pod>" : a.pod_namespace + "/" + a.pod_name;
  return "pod " + pod + " (container " + a.container_id + ", interface " + a.ifname + ")";
}

}  // namespace

Result<IpAddress> parse_wanted_ip(const std::string& text) {
  auto slash = text.find('/');
  return IpAddress::parse(slash == std::string::npos ? text : text.substr(0, slash));
}

Result<IpAddress> choose_ip(const ClusterState& state, const std::string& pool_name,
                            std::optional<u128> cursor, const std::optional<IpAddress>& wanted,
                            const std::vector<IpAddress>& avoid) {
  const PoolState* pool = state.pool(pool_name);
  if (!pool) return make_error(ErrorCode::not_found, "IPPool " + pool_name + ": not found");
  const PoolRanges& ranges = pool->ranges;

  if (wanted) {
    const std::string ip = wanted->to_string();
    auto refuse = [&](const std::string& why) {
      return make_error(ErrorCode::ip_unavailable,
                        "IP " + ip + " is not available in IPPool " + pool_name + ": " + why);
    };
    if (wanted->family() != ranges.family || !ranges.ips.contains(wanted->value()))
      return refuse("it is not in spec.ips");
    if (ranges.exclude.contains(wanted->value())) return refuse("it is in spec.excludeIPs");
    if (ranges.gateway && *ranges.gateway == *wanted) return refuse("it is the pool's gateway");
    if (auto* holder = state.allocation(*wanted))
      return refuse("it is allocated to " + holder_text(holder->allocation(*wanted)));
    if (auto names = state.reserved_by(*wanted); !names.empty())
      return refuse("it is reserved by SpiderReservedIP " + join(names, ", "));
    if (auto* quarantined = state.quarantined(pool_name, *wanted))
      return refuse("it is quarantined: a host with MAC " + quarantined->record.mac +
                    " outside the cluster uses it (release it with `ipfencectl quarantine "
                    "release " +
                    ip + "` once that host is gone)");
    return *wanted;
  }

  const IpSet& available = state.available(pool_name);
  // Next-fit: start just after the last IP handed out, so that a just-released IP is not
  // handed out again at once (an outside ARP cache may still map it to the old MAC).
  std::optional<u128> pick;
  if (cursor && *cursor != family_max(ranges.family))
    pick = available.next_fit(*cursor + 1);
  else
    pick = available.next_fit(0);
  auto avoided = [&](u128 value) {
    return std::any_of(avoid.begin(), avoid.end(), [&](const IpAddress& a) {
      return a.family() == ranges.family && a.value() == value;
    });
  };
  // Each avoided address is skipped at most once: more skips than that mean every
  // available address is avoided.
  for (std::size_t skipped = 0; pick && avoided(*pick); ++skipped) {
    if (skipped == avoid.size()) {
      pick.reset();
      break;
    }
    pick = available.next_fit(*pick == family_max(ranges.family) ? 0 : *pick + 1);
  }
  if (!pick) return make_error(ErrorCode::exhausted, exhausted_message(state, {pool_name}));
  return IpAddress(ranges.family, *pick);
}

std::string exhausted_message(const ClusterState& state, const std::vector<std::string>& pools) {
  std::vector<std::string> parts;
  for (const auto& name : pools) {
    PoolCounts c = state.counts(name);
    std::string why = std::to_string(c.total) + " IPs";
    std::vector<std::string> uses;
    if (c.reserved) uses.push_back(std::to_string(c.reserved) + " reserved");
    if (c.allocated) {
      std::string allocated = std::to_string(c.allocated) + " allocated";
      if (c.reserved_in_use)
        allocated += " (" + std::to_string(c.reserved_in_use) + " of them reserved since)";
      uses.push_back(allocated);
    }
    if (c.quarantined)
      uses.push_back(std::to_string(c.quarantined) + " quarantined (used by outside hosts)");
    if (!uses.empty()) why += ": " + join(uses, ", ");
    parts.push_back("IPPool " + name + ": all IPs have been exhausted (" + why + ")");
  }
  return join(parts, "; ");
}

Allocator::Allocator(store::Store& store, Options options)
    : store_(store), options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return rfc3339_now(); };
}

Status Allocator::resync() {
  // Key by key (ClusterState::load): a whole ListResult of a big store is tens of MB more at
  // start-up, the agent's peak.
  IPF_ASSIGN_OR_RETURN(auto loaded, ClusterState::load(store_));
  IPF_ASSIGN_OR_RETURN(watch_, store_.watch("", loaded.second));
  state_ = std::move(loaded.first);
  cursors_.clear();
  loaded_ = true;
  return {};
}

Result<Allocator::CatchUp> Allocator::catch_up(std::chrono::milliseconds timeout) {
  CatchUp out;
  if (!loaded_) {
    IPF_TRY(resync());
    out.resynced = true;
    return out;
  }
  auto events = watch_->next(timeout);
  if (!events && events.error().code == ErrorCode::compacted) {
    IPF_TRY(resync());
    out.resynced = true;
    return out;
  }
  if (!events) return events.error();
  for (auto& event : *events)
    if (state_.apply(event)) out.events.push_back(std::move(event));
  return out;
}

std::optional<u128> Allocator::cursor_for(const std::string& pool_name) {
  if (auto it = cursors_.find(pool_name); it != cursors_.end()) return it->second;
  const PoolState* pool = state_.pool(pool_name);
  if (!pool) return std::nullopt;
  // Start after the newest allocation (this node's own when spreading), as if this process
  // had just handed it out: a restart does not go back to IPs released a moment ago.
  const bool spread = options_.spread_cursors || options_.cursor_offset.has_value();
  const StoredAllocation* newest = nullptr;
  u128 newest_value = 0;
  for (const auto& [value, stored] : pool->allocations)
    if ((!spread || stored.record.node() == options_.node) &&
        (!newest || stored.create_revision() > newest->create_revision())) {
      newest = &stored;
      newest_value = value;
    }
  if (newest) return newest_value;
  if (!spread) return std::nullopt;
  const IpSet& usable = pool->ranges.usable;
  return cursor_at(usable, options_.cursor_offset
                               ? index_at_fraction(usable, *options_.cursor_offset)
                               : u128(cursor_hash(options_.node, pool_name)));
}

Result<AllocateResult> Allocator::allocate(const AllocateRequest& request) {
  if (request.identity.container_id.empty())
    return make_error(ErrorCode::invalid_argument, "containerID is required");
  if (request.identity.ifname.empty())
    return make_error(ErrorCode::invalid_argument, "ifname is required");
  unknown_outcomes_ = 0;
  lost_races_ = 0;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    IPF_TRY(catch_up());
    bool retry = false;
    auto result = try_allocate(request, retry);
    if (!retry) return result;
  }
  return make_error(ErrorCode::conflict,
                    "gave up after " + std::to_string(options_.max_attempts) +
                        " attempts: other writers kept changing the same pools; try again");
}

Result<AllocateResult> Allocator::try_allocate(const AllocateRequest& request, bool& retry) {
  const auto& id = request.identity;
  if (auto* existing = state_.attachment(id.container_id, id.ifname))
    return result_of(existing->attachment(), true);

  // Specific IPs, at most one per family.
  std::map<IpFamily, IpAddress> wanted;
  for (std::size_t i = 0; i < request.ips.size(); ++i) {
    auto ip = parse_wanted_ip(request.ips[i]);
    if (!ip) return ip.error().wrap("ips[" + std::to_string(i) + "]");
    if (!wanted.emplace(ip->family(), *ip).second)
      return make_error(ErrorCode::invalid_argument,
                        "ips: more than one " + std::string(family_name(ip->family())) +
                            " address asked for; an interface gets at most one per family");
  }

  std::vector<std::pair<IpFamily, std::vector<std::string>>> families;
  if (request.ipv4_pools.empty() && request.ipv6_pools.empty()) {
    for (IpFamily f : {IpFamily::v4, IpFamily::v6})
      if (auto pools = state_.default_pools(f); !pools.empty()) families.emplace_back(f, pools);
  } else {
    if (!request.ipv4_pools.empty()) families.emplace_back(IpFamily::v4, request.ipv4_pools);
    if (!request.ipv6_pools.empty()) families.emplace_back(IpFamily::v6, request.ipv6_pools);
  }
  if (families.empty())
    return make_error(ErrorCode::no_pool,
                      "no IP pool selected: set default_ipv4_ippool/default_ipv6_ippool in the "
                      "CNI config, annotate the pod with ipam.spidernet.io/ippool, or mark a "
                      "SpiderIPPool with spec.default: true");
  for (const auto& [family, ip] : wanted) {
    bool served = std::any_of(families.begin(), families.end(),
                              [&](const auto& f) { return f.first == family; });
    if (!served)
      return make_error(ErrorCode::invalid_argument,
                        "ips: " + ip.to_string() + " is " + std::string(family_name(family)) +
                            " but no " + std::string(family_name(family)) + " pool is selected");
  }

  // Pick one IP per family; all-or-nothing across families.
  struct Pick {
    IpAddress ip;
    const PoolState* pool;
  };
  std::vector<Pick> picks;
  for (const auto& [family, candidates] : families) {
    std::vector<std::string> reasons;
    ErrorCode code = ErrorCode::not_found;
    std::optional<Pick> pick;
    auto want = wanted.count(family) ? std::optional<IpAddress>(wanted.at(family)) : std::nullopt;
    for (const auto& name : candidates) {
      const PoolState* pool = state_.pool(name);
      if (!pool) {
        reasons.push_back("IPPool " + name + ": not found");
        continue;
      }
      if (pool->ranges.family != family) {
        reasons.push_back("IPPool " + name + " is " +
                          std::string(family_name(pool->ranges.family)) + ", listed as " +
                          std::string(family_name(family)));
        code = ErrorCode::invalid_argument;
        continue;
      }
      if (pool->pool.spec.disable) {
        reasons.push_back("IPPool " + name + " is disabled (spec.disable: true)");
        code = ErrorCode::exhausted;
        continue;
      }
      if (want && !pool->ranges.ips.contains(want->value()) && candidates.size() > 1) {
        reasons.push_back("IPPool " + name + " does not contain " + want->to_string());
        continue;
      }
      auto ip =
          choose_ip(state_, name, want ? std::nullopt : cursor_for(name), want, request.avoid);
      if (ip) {
        pick = Pick{*ip, pool};
        break;
      }
      reasons.push_back(ip.error().message);
      if (ip.error().code == ErrorCode::ip_unavailable || code != ErrorCode::ip_unavailable)
        code = ip.error().code;
    }
    if (!pick) return make_error(code, join(reasons, "; "));
    picks.push_back(*pick);
  }

  // One transaction claims the attachment and every IP, on the pool specs and reserved set
  // this choice was made from.
  store::Txn txn;
  std::string attachment_key = keys::attachment(id.container_id, id.ifname);
  txn.compares.push_back(store::Compare::absent(attachment_key));
  txn.compares.push_back(store::Compare::unchanged(keys::kReservedGuard, state_.reserved_guard()));
  Attachment attachment{id.container_id, id.ifname, {}};
  std::string created = options_.now();
  std::vector<std::pair<std::string, std::string>> puts;
  for (const auto& pick : picks) {
    const std::string& pool = pick.pool->pool.metadata.name;
    Allocation record = id;
    record.ip = pick.ip.to_string();
    record.pool = pool;
    record.node = id.node.empty() ? options_.node : id.node;
    record.created = created;
    std::string key = keys::ip(pool, record.ip);
    txn.compares.push_back(store::Compare::absent(key));
    txn.compares.push_back(
        store::Compare::unchanged(keys::pool(pool), pick.pool->pool.metadata.resource_version));
    puts.emplace_back(key, nlohmann::json(record).dump());
    attachment.ips.push_back({pool, record.ip});
  }
  puts.emplace_back(attachment_key, nlohmann::json(attachment).dump());
  for (const auto& [key, value] : puts) txn.ops.push_back(store::Op::put(key, value));

  auto committed = store_.commit(txn);
  if (!committed) return settle_allocation(attachment, committed.error(), retry);
  if (!committed->succeeded) {
    // The attachment exists although the view has none: an earlier request for it whose
    // answer was lost, or a view behind the store. Read it: the next attempt returns it.
    if (std::count(committed->failed_keys.begin(), committed->failed_keys.end(), attachment_key)) {
      IPF_TRY(refresh_attachment(id.container_id, id.ifname));
      retry = true;
      return make_error(ErrorCode::conflict, "the attachment was created elsewhere");
    }
    // Someone else won: move past the IPs we lost so the next attempt does not collide again.
    // Losing again means the view is behind the store, not bad luck: read the pool's
    // allocations instead of stepping through them one lost race at a time.
    std::vector<std::string> lost;
    for (const auto& pick : picks)
      if (std::count(committed->failed_keys.begin(), committed->failed_keys.end(),
                     keys::ip(pick.pool->pool.metadata.name, pick.ip.to_string()))) {
        cursors_[pick.pool->pool.metadata.name] = pick.ip.value();
        lost.push_back(pick.pool->pool.metadata.name);
      }
    if (!lost.empty() && ++lost_races_ >= 2)
      for (const auto& pool : lost) IPF_TRY(refresh_pool_allocations(pool));
    retry = true;
    return make_error(ErrorCode::conflict, "transaction lost a race");
  }
  for (const auto& [key, value] : puts)
    state_.apply_put(key, value, committed->revision, committed->revision);
  for (const auto& pick : picks) cursors_[pick.pool->pool.metadata.name] = pick.ip.value();
  return result_of(attachment, false);
}

Result<AllocateResult> Allocator::result_of(const Attachment& attachment, bool existing) const {
  AllocateResult result;
  result.existing = existing;
  std::set<std::string> route_dsts;
  for (const auto& held : attachment.ips) {
    IPF_ASSIGN_OR_RETURN(IpAddress ip, IpAddress::parse(held.ip));
    AllocatedIp out{ip, held.pool, IpPrefix{ip, static_cast<std::uint8_t>(ip.is_v4() ? 32 : 128)},
                    std::nullopt};
    if (const PoolState* pool = state_.pool(held.pool)) {
      out.address.length = pool->ranges.subnet.length;
      out.gateway = pool->ranges.gateway;
      for (const auto& route : pool->pool.spec.routes)
        if (route_dsts.insert(route.dst).second) result.routes.push_back(route);
      // Like Spiderpool: a pool with a gateway gives the pod a default route through it,
      // unless the pool's own routes already name a default route of this family.
      if (out.gateway) {
        std::string dst = ip.is_v4() ? "0.0.0.0/0" : "::/0";
        if (route_dsts.insert(dst).second)
          result.routes.push_back(Route{dst, out.gateway->to_string()});
      }
    }
    result.ips.push_back(out);
  }
  std::stable_sort(
      result.ips.begin(), result.ips.end(),
      [](const AllocatedIp& a, const AllocatedIp& b) { return a.ip.is_v4() && !b.ip.is_v4(); });
  return result;
}

Result<ReleaseResult> Allocator::release(const std::string& container_id,
                                         const std::string& ifname) {
  unknown_outcomes_ = 0;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    IPF_TRY(catch_up());
    const StoredAttachment* stored = state_.attachment(container_id, ifname);
    if (!stored) {
      // The view holds nothing, but it may be behind: an ADD whose answer was lost (which
      // the runtime follows with this DEL), a watch that lags. One read makes sure.
      IPF_ASSIGN_OR_RETURN(bool present, refresh_attachment(container_id, ifname));
      if (!present) return ReleaseResult{};  // nothing held: releasing again is fine
      stored = state_.attachment(container_id, ifname);
    }

    store::Txn txn;
    std::string attachment_key = keys::attachment(container_id, ifname);
    txn.compares.push_back(store::Compare::unchanged(attachment_key, stored->mod_revision()));
    ReleaseResult result;
    const Attachment attachment = stored->attachment();
    for (const auto& held : attachment.ips) {
      auto ip = IpAddress::parse(held.ip);
      const StoredAllocation* allocation = ip ? state_.allocation(*ip) : nullptr;
      // Only delete an IP key that this attachment really owns.
      if (!allocation || allocation->record.container_id() != container_id ||
          allocation->record.ifname() != ifname)
        continue;
      std::string key = keys::ip(held.pool, held.ip);
      // applied_revision, not the record's: exact even past what a record keeps.
      txn.compares.push_back(store::Compare::unchanged(key, state_.applied_revision(key)));
      txn.ops.push_back(store::Op::del(key));
      result.released.push_back(held);
    }
    txn.ops.push_back(store::Op::del(attachment_key));

    auto committed = store_.commit(txn);
    if (!committed) {
      IPF_ASSIGN_OR_RETURN(bool applied, settle_release(txn, container_id, ifname,
                                                        stored->mod_revision(), committed.error()));
      if (applied) return result;
      continue;
    }
    if (!committed->succeeded) {
      // Changed or released elsewhere (or by an earlier request whose answer was lost):
      // read what the store holds rather than wait for the watch to tell.
      for (const auto& key : committed->failed_keys) IPF_TRY(refresh_key(key));
      continue;
    }
    for (const auto& op : txn.ops) state_.apply_delete(op.key, committed->revision);
    return result;
  }
  return make_error(ErrorCode::conflict, "release of " + container_id + "/" + ifname +
                                             " kept racing with other writers; try again");
}

Result<AllocateResult> Allocator::lookup(const std::string& container_id,
                                         const std::string& ifname) {
  IPF_TRY(catch_up());
  const StoredAttachment* stored = state_.attachment(container_id, ifname);
  if (!stored)
    return make_error(ErrorCode::not_found,
                      "no IP is allocated to container " + container_id + " interface " + ifname);
  return result_of(stored->attachment(), true);
}

GcResult Allocator::gc(const std::string& network,
                       const std::vector<std::pair<std::string, std::string>>& valid) {
  GcResult result;
  if (auto caught = catch_up(); !caught) {
    result.errors.push_back(caught.error().message);
    return result;
  }
  std::set<std::pair<std::string, std::string>> keep(valid.begin(), valid.end());
  std::vector<std::pair<std::string, std::string>> stale;
  for (const StoredAttachment& stored : state_.attachments()) {
    std::pair<std::string, std::string> ids{stored.container_id(), stored.ifname()};
    if (keep.count(ids)) continue;
    // The runtime lists the attachments of its own node only: with a store that several nodes
    // share, an attachment whose addresses another node holds is that node's to collect.
    bool in_network = false;
    bool other_node = false;
    const Attachment attachment = stored.attachment();
    for (const auto& held : attachment.ips) {
      auto ip = IpAddress::parse(held.ip);
      const StoredAllocation* allocation = ip ? state_.allocation(*ip) : nullptr;
      if (!allocation || allocation->record.network() != network) continue;
      in_network = true;
      if (!options_.node.empty() && allocation->record.node() != options_.node) other_node = true;
    }
    if (in_network && !other_node) stale.push_back(std::move(ids));
  }
  for (const auto& [container_id, ifname] : stale) {
    auto released = release(container_id, ifname);
    if (!released) {
      result.errors.push_back(container_id + "/" + ifname + ": " + released.error().message);
      continue;
    }
    GcResult::Released entry{container_id, ifname, {}};
    for (const auto& held : released->released) entry.ips.push_back(held.ip);
    result.released.push_back(std::move(entry));
  }
  return result;
}

}  // namespace ipfence::ipam
