#include "agent/ipam_api.h"

#include <spdlog/spdlog.h>

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

}  // namespace

IpamApi::IpamApi(SharedAllocator& allocator, Metrics& metrics, AgentInfo info)
    : allocator_(allocator), metrics_(metrics), info_(std::move(info)) {}

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
    body["store"] = {{"url", allocator.store().describe()}};
    body["pools"] = encode_pools(allocator.state());
    body["revision"] = allocator.state().revision();
  });
  const StoreHealth::Snapshot health = allocator_.health().snapshot();
  body["store"]["healthy"] = health.healthy;
  if (!health.last_error.empty()) body["store"]["lastError"] = health.last_error;
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
  auto result = allocator_.with([&](ipam::Allocator& allocator) {
    auto allocated = allocator.allocate(*request);
    if (allocated) metrics_.refresh_pools(allocator.state());
    return allocated;
  });
  allocator_.health().record(result);
  const auto took = Clock::now() - started;
  if (!result) {
    metrics_.observe_allocation(first_pool(*request), error_code_name(result.error().code), took);
    spdlog::warn("allocate containerID={} ifname={} pod={} failed ({}): {}", id.container_id,
                 id.ifname, pod_of(id), error_code_name(result.error().code),
                 result.error().message);
    return error_response(result.error());
  }
  std::vector<std::string> ips;
  for (const auto& ip : result->ips) ips.push_back(ip.ip.to_string());
  const std::string pool = result->ips.empty() ? first_pool(*request) : result->ips.front().pool;
  metrics_.observe_allocation(pool, "ok", took);
  spdlog::info("allocated containerID={} ifname={} pod={} ips={} pool={}{} in {} us",
               id.container_id, id.ifname, pod_of(id), join(ips), pool,
               result->existing ? " (existing)" : "", micros_since(started));
  return json_response(200, encode_allocate(*result));
}

HttpResponse IpamApi::release(const HttpRequest& http) {
  const auto started = Clock::now();
  auto id = decode_release(http.body);
  if (!id) {
    spdlog::warn("release: {}", id.error().message);
    return error_response(id.error());
  }
  auto result = allocator_.with([&](ipam::Allocator& allocator) {
    auto released = allocator.release(id->container_id, id->ifname);
    if (released && !released->released.empty()) metrics_.refresh_pools(allocator.state());
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
  auto result = allocator_.with([&](ipam::Allocator& allocator) {
    ipam::GcResult collected = allocator.gc(request->network, request->valid);
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
