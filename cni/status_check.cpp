#include "cni/status_check.h"

#include <nlohmann/json.hpp>

namespace ipfence::cni {
namespace {

using nlohmann::json;

CniError not_available(std::string msg) {
  return cni_error(kPluginNotAvailable, std::move(msg));
}

// Typed reads that never throw: a field of the wrong type counts as absent.
bool bool_of(const json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::string string_of(const json& obj, const char* key, const std::string& fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

long long int_of(const json& obj, const char* key, long long fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<long long>() : fallback;
}

// The status entry of pool `name`, or nullptr when the agent does not know it.
const json* find_pool(const json& pools, const std::string& name) {
  for (const auto& pool : pools)
    if (pool.is_object() && string_of(pool, "name", "") == name) return &pool;
  return nullptr;
}

bool usable(const json& pool) {
  return int_of(pool, "available", 0) > 0 && !bool_of(pool, "disable", false);
}

// "test-ippool (0 of 3 available)", "p2 (disabled)", "p3 (unknown to the agent)".
std::string describe(const std::string& name, const json* pool) {
  if (!pool) return name + " (unknown to the agent)";
  if (bool_of(*pool, "disable", false)) return name + " (disabled)";
  const long long total = int_of(*pool, "total", -1);
  return name + " (" + std::to_string(int_of(*pool, "available", 0)) + " of " +
         (total < 0 ? std::string("?") : std::to_string(total)) + " available)";
}

// Success when one of `names` is usable, else 50 listing why none is.
CniStatus check_family(const json& pools, const std::vector<std::string>& names, int family,
                       const std::string& origin) {
  std::string why;
  for (const auto& name : names) {
    const json* pool = find_pool(pools, name);
    if (pool && usable(*pool)) return {};
    why += (why.empty() ? "" : ", ") + describe(name, pool);
  }
  return not_available("no IPv" + std::to_string(family) + " address is available in " + origin +
                       ": " + why);
}

}  // namespace

CniStatus check_pools_available(const json& status, const NetConf& conf) {
  if (!status.is_object()) return not_available("ipfence-agent's status is not a JSON object");
  if (auto store = status.find("store"); store != status.end() && store->is_object()) {
    if (!bool_of(*store, "healthy", true))
      return not_available("ipfence-agent's store " + string_of(*store, "url", "?") +
                           " is not healthy; allocations would fail");
  }
  static const json kNoPools = json::array();
  auto it = status.find("pools");
  const json& pools = it != status.end() && it->is_array() ? *it : kNoPools;

  if (!conf.ipv4_pools.empty() || !conf.ipv6_pools.empty()) {
    if (!conf.ipv4_pools.empty())
      IPF_TRY(check_family(pools, conf.ipv4_pools, 4, "ipam.default_ipv4_ippool"));
    if (!conf.ipv6_pools.empty())
      IPF_TRY(check_family(pools, conf.ipv6_pools, 6, "ipam.default_ipv6_ippool"));
    return {};
  }

  // No pools in the netconf: the agent allocates from the cluster's default pools.
  std::vector<std::string> defaults[2];  // [0] IPv4, [1] IPv6
  for (const auto& pool : pools) {
    if (!pool.is_object() || !bool_of(pool, "default", false)) continue;
    const bool v6 = int_of(pool, "ipVersion", 4) == 6;
    defaults[v6 ? 1 : 0].push_back(string_of(pool, "name", "?"));
  }
  if (defaults[0].empty() && defaults[1].empty())
    return not_available(
        "the network config names no pool (ipam.default_ipv4_ippool / default_ipv6_ippool) and "
        "the cluster has no default pool (spec.default: true)");
  if (!defaults[0].empty()) IPF_TRY(check_family(pools, defaults[0], 4, "the default pools"));
  if (!defaults[1].empty()) IPF_TRY(check_family(pools, defaults[1], 6, "the default pools"));
  return {};
}

}  // namespace ipfence::cni
