#include "agent/ipam_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "agent/api_codec.h"

namespace ipfence::agent {
namespace {

using Clock = std::chrono::steady_clock;

long long micros_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::string pod_of(const ipam::Allocation& identity) {
  if (identity.pod_name.empty()) return "-";
  return (identity.pod_namespace.empty() ? "default" : identity.pod_namespace) + "/" +
         identity.pod_name;
}

// The pool a request names first: the label of a failed allocation.
std::string first_pool(const ipam::AllocateRequest& request) {
  if (!request.ipv4_pools.empty()) return request.ipv4_pools.front();
  if (!request.ipv6_pools.empty()) return request.ipv6_pools.front();
  return "";
}

// One Allocation per allocated IP, as the datapath wants them (lease_sink.h).
std::vector<ipam::Allocation> leases_of(const ipam::AllocateRequest& request,
                                        const ipam::AllocateResult& result,
                                        const std::string& node) {
  std::vector<ipam::Allocation> leases;
  for (const auto& ip : result.ips) {
    ipam::Allocation lease = request.identity;
    lease.ip = ip.ip.to_string();
    lease.pool = ip.pool;
    lease.node = node;
    leases.push_back(std::move(lease));
  }
  return leases;
}

// The allocations an attachment holds now (with the netns and ifname its pod guard was
// attached with), read before releasing it.
std::vector<ipam::Allocation> held_by(const ipam::ClusterState& state,
                                      const std::string& container_id, const std::string& ifname) {
  std::vector<ipam::Allocation> held;
  const ipam::StoredAttachment* attachment = state.attachment(container_id, ifname);
  if (attachment == nullptr) return held;
  const ipam::Attachment holds = attachment->attachment();
  for (const auto& ip : holds.ips) {
    auto address = ipam::IpAddress::parse(ip.ip);
    const ipam::StoredAllocation* stored = address ? state.allocation(*address) : nullptr;
    if (stored != nullptr) held.push_back(stored->allocation(*address));
  }
  return held;
}

// What was released, with the details `held` knew about each IP.
std::vector<ipam::Allocation> released_of(const std::vector<ipam::Attachment::Ip>& released,
                                          const std::vector<ipam::Allocation>& held) {
  std::vector<ipam::Allocation> out;
  for (const auto& ip : released) {
    auto known = std::find_if(held.begin(), held.end(),
                              [&](const ipam::Allocation& a) { return a.ip == ip.ip; });
    ipam::Allocation allocation = known != held.end() ? *known : ipam::Allocation{};
    allocation.ip = ip.ip;
    allocation.pool = ip.pool;
    out.push_back(std::move(allocation));
  }
  return out;
}

}  // namespace

LeaseSink& IpamApi::null_lease_sink() {
  static NullLeaseSink sink;
  return sink;
}

IpamApi::IpamApi(SharedAllocator& allocator, Metrics& metrics, AgentInfo info, LeaseSink& leases)
    : allocator_(allocator), metrics_(metrics), info_(std::move(info)), leases_(leases) {}

void IpamApi::add_routes(HttpRouter& router) {
  router.add("GET", "/v1/healthz", [this](const HttpRequest& r) { return healthz(r); });
  router.add("GET", "/v1/status", [this](const HttpRequest& r) { return status(r); });
  router.add("POST", "/v1/ipam/allocate", [this](const HttpRequest& r) { return allocate(r); });
  router.add("POST", "/v1/ipam/release", [this](const HttpRequest& r) { return release(r); });
  router.add("POST", "/v1/ipam/check", [this](const HttpRequest& r) { return check(r); });
  router.add("POST", "/v1/ipam/gc", [this](const HttpRequest& r) { return gc(r); });
}

HttpResponse IpamApi::healthz(const HttpRequest&) {
  return json_response(200, {{"status", "ok"}});
}

HttpResponse IpamApi::status(const HttpRequest&) {
  nlohmann::json body = {
      {"node", info_.node}, {"version", info_.version}, {"metricsAddr", info_.metrics_addr}};
  allocator_.with([&](ipam::Allocator& allocator) {
    // Catch up as allocate does, so that STATUS right after an apply sees the new pool
    // instead of waiting for the watcher's next tick. A store error is reported by the
    // health snapshot below; the counts then come from the last view.
    auto caught = allocator.catch_up();
    (void)caught;
    body["store"] = {{"url", allocator.store().describe()},
                     {"endpoints", allocator.store().endpoints()}};
    body["pools"] = encode_pools(allocator.state());
    body["revision"] = allocator.state().revision();
  });
  const StoreHealth::Snapshot health = allocator_.health().snapshot();
  body["store"]["healthy"] = health.healthy;
  if (!health.last_error.empty()) body["store"]["lastError"] = health.last_error;
  body["guard"] = info_.guard_status ? info_.guard_status() : nlohmann::json{{"enabled", false}};
  return json_response(200, body);
}

HttpResponse IpamApi::allocate(const HttpRequest& http) {
  const auto started = Clock::now();
  auto request = decode_allocate(http.body);
  if (!request) {
    metrics_.observe_allocation("", error_code_name(request.error().code), Clock::now() - started);
    spdlog::warn("allocate: {}", request.error().message);
    return error_response(request.error());
  }
  const ipam::Allocation& id = request->identity;
  std::int64_t revision = 0;
  auto result = allocate_probed(*request, revision);
  const auto took = Clock::now() - started;
  if (!result) {
    metrics_.observe_allocation(first_pool(*request), error_code_name(result.error().code), took);
    spdlog::warn("allocate containerID={} ifname={} pod={} failed ({}): {}", id.container_id,
                 id.ifname, pod_of(id), error_code_name(result.error().code),
                 result.error().message);
    return error_response(result.error());
  }
  // The guard learns of the leases before the plugin does. If it cannot enforce them, the
  // allocation is not handed out half-enforced (a pod the guard would drop, or one whose
  // master nobody guards): it is rolled back and the request fails with 500.
  const std::vector<ipam::Allocation> leases = leases_of(*request, *result, info_.node);
  if (auto enforced = leases_.on_allocated(leases, revision); !enforced)
    return roll_back(*request, result->existing, leases, enforced.error(), Clock::now() - started);
  std::vector<std::string> ips;
  for (const auto& ip : result->ips) ips.push_back(ip.ip.to_string());
  const std::string pool = result->ips.empty() ? first_pool(*request) : result->ips.front().pool;
  metrics_.observe_allocation(pool, "ok", Clock::now() - started);  // the guard's time too
  spdlog::info("allocated containerID={} ifname={} pod={} ips={} pool={}{} in {} us",
               id.container_id, id.ifname, pod_of(id), join(ips), pool,
               result->existing ? " (existing)" : "", micros_since(started));
  return json_response(200, encode_allocate(*result));
}

HttpResponse IpamApi::roll_back(const ipam::AllocateRequest& request, bool existing,
                                const std::vector<ipam::Allocation>& leases, const Error& why,
                                std::chrono::nanoseconds took) {
  const ipam::Allocation& id = request.identity;
  const std::string pool = leases.empty() ? first_pool(request) : leases.front().pool;
  metrics_.observe_allocation(pool, error_code_name(ErrorCode::internal), took);
  std::string outcome = "the allocation was kept: an earlier request made it";
  if (!existing) {
    // Released under the lock like any release; the guard then forgets what it may have
    // added before failing.
    std::int64_t revision = 0;
    auto released = allocator_.with([&](ipam::Allocator& allocator) {
      auto r = allocator.release(id.container_id, id.ifname);
      if (r && !r->released.empty()) metrics_.refresh_pools(allocator.state());
      revision = allocator.state().revision();
      return r;
    });
    allocator_.health().record(released);
    if (released) {
      outcome = "the allocation was rolled back";
      if (auto forgotten = leases_.on_released(leases, revision); !forgotten)
        spdlog::warn("allocate containerID={}: guard cleanup after the rollback: {}",
                     id.container_id, forgotten.error().message);
    } else {
      outcome = "rolling the allocation back failed too (" + released.error().message +
                "); the store watcher will still sync the guard";
    }
  }
  const Error error =
      make_error(ErrorCode::internal, "the eBPF guard could not enforce the lease (" + why.message +
                                          "), so " + outcome + "; see the agent log");
  spdlog::warn("allocate containerID={} ifname={} pod={} failed: {}", id.container_id, id.ifname,
               pod_of(id), error.message);
  return error_response(error);
}

HttpResponse IpamApi::release(const HttpRequest& http) {
  const auto started = Clock::now();
  auto id = decode_release(http.body);
  if (!id) {
    spdlog::warn("release: {}", id.error().message);
    return error_response(id.error());
  }
  std::vector<ipam::Allocation> held;
  std::int64_t revision = 0;
  auto result = allocator_.with([&](ipam::Allocator& allocator) {
    held = held_by(allocator.state(), id->container_id, id->ifname);
    auto released = allocator.release(id->container_id, id->ifname);
    if (released && !released->released.empty()) metrics_.refresh_pools(allocator.state());
    revision = allocator.state().revision();
    return released;
  });
  allocator_.health().record(result);
  if (!result) {
    spdlog::warn("release containerID={} ifname={} failed ({}): {}", id->container_id, id->ifname,
                 error_code_name(result.error().code), result.error().message);
    return error_response(result.error());
  }
  std::vector<std::string> ips;
  std::set<std::string> pools;
  for (const auto& ip : result->released) {
    ips.push_back(ip.ip);
    pools.insert(ip.pool);
  }
  for (const auto& pool : pools) metrics_.count_release(pool);
  // The lease leaves the guard before the reply. The release itself is committed and DEL
  // must stay idempotent, so a failure here is logged, not answered: the store watcher
  // removes the lease on its next round.
  if (!result->released.empty()) {
    if (auto forgotten = leases_.on_released(released_of(result->released, held), revision);
        !forgotten)
      spdlog::warn("release containerID={} ifname={}: the guard still holds the lease: {}",
                   id->container_id, id->ifname, forgotten.error().message);
  }
  spdlog::info("released containerID={} ifname={} ips={} pool={} in {} us", id->container_id,
               id->ifname, ips.empty() ? "-" : join(ips),
               pools.empty() ? "-" : join({pools.begin(), pools.end()}), micros_since(started));
  return json_response(200, encode_release(*result));
}

HttpResponse IpamApi::check(const HttpRequest& http) {
  auto request = decode_check(http.body);
  if (!request) {
    spdlog::warn("check: {}", request.error().message);
    return error_response(request.error());
  }
  auto held = allocator_.with([&](ipam::Allocator& allocator) {
    return allocator.lookup(request->id.container_id, request->id.ifname);
  });
  allocator_.health().record(held);
  if (!held) {
    spdlog::warn("check containerID={} ifname={}: {}", request->id.container_id, request->id.ifname,
                 held.error().message);
    return error_response(held.error());
  }
  if (request->ips) {
    if (auto same = compare_ips(request->id, *held, *request->ips); !same) {
      spdlog::warn("check: {}", same.error().message);
      return error_response(same.error());
    }
  }
  return json_response(200, encode_allocate(*held));
}

HttpResponse IpamApi::gc(const HttpRequest& http) {
  const auto started = Clock::now();
  auto request = decode_gc(http.body);
  if (!request) {
    spdlog::warn("gc: {}", request.error().message);
    return error_response(request.error());
  }
  std::vector<std::string> released_pools;  // one per released attachment and pool
  std::int64_t revision = 0;
  auto result = allocator_.with([&](ipam::Allocator& allocator) {
    ipam::GcResult collected = allocator.gc(request->network, request->valid);
    revision = allocator.state().revision();
    if (collected.released.empty()) return collected;
    metrics_.refresh_pools(allocator.state());
    for (const auto& entry : collected.released) {
      // The IPs are gone from the view, but the pool that contains them is still there.
      std::set<std::string> pools;
      for (const auto& text : entry.ips) {
        auto ip = ipam::IpAddress::parse(text);
        const ipam::PoolState* pool = ip ? allocator.state().pool_containing(*ip) : nullptr;
        pools.insert(pool ? pool->pool.metadata.name : "");
      }
      released_pools.insert(released_pools.end(), pools.begin(), pools.end());
    }
    return collected;
  });
  for (const auto& pool : released_pools) metrics_.count_release(pool);
  std::vector<ipam::Allocation> collected;
  for (const auto& entry : result.released) {
    for (const auto& ip : entry.ips) {
      ipam::Allocation allocation;
      allocation.ip = ip;
      allocation.container_id = entry.container_id;
      allocation.ifname = entry.ifname;
      collected.push_back(std::move(allocation));
    }
  }
  if (!collected.empty()) {
    if (auto forgotten = leases_.on_released(collected, revision); !forgotten)
      spdlog::warn("gc network={}: the guard still holds released leases: {}", request->network,
                   forgotten.error().message);
  }
  for (const auto& entry : result.released)
    spdlog::info("gc released containerID={} ifname={} ips={} network={}", entry.container_id,
                 entry.ifname, join(entry.ips), request->network);
  for (const auto& error : result.errors)
    spdlog::warn("gc network={}: {}", request->network, error);
  spdlog::debug("gc network={}: {} valid, {} released, {} errors in {} us", request->network,
                request->valid.size(), result.released.size(), result.errors.size(),
                micros_since(started));
  return json_response(200, encode_gc(result));
}

}  // namespace ipfence::agent
