// Single-object rules (see validation.h). Each message names the field, the offending value and
// what to do about it; range syntax errors keep Spiderpool's exact text after the field path.
#include "ipam/validation.h"

#include <string>

#include "ipam/conflict_probe_settings.h"
#include "ipam/manifest.h"

namespace ipfence::ipam {

namespace {

Error invalid(std::string message) {
  return make_error(ErrorCode::invalid_argument, std::move(message));
}

std::string quote(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string family_str(IpFamily family) {
  return std::string(family_name(family));
}

Result<IpFamily> family_of_version(int version, const char* path) {
  if (version == 4) return IpFamily::v4;
  if (version == 6) return IpFamily::v6;
  return invalid(std::string(path) + ": must be 4 or 6, got " + std::to_string(version));
}

// What a pool's entries are checked against.
struct PoolContext {
  IpFamily family;
  const IpPrefix& subnet;
  const std::string& subnet_text;

  // "the pool is IPv4 (spec.subnet 10.6.0.0/16)"
  std::string describe() const {
    return "the pool is " + family_str(family) + " (spec.subnet " + subnet_text + ")";
  }
};

// One spec.ips / spec.excludeIPs entry: parses with the pool's family and lies inside the subnet.
Result<IpRange> check_entry(const PoolContext& pool, const std::string& path,
                            const std::string& text) {
  auto range = IpRange::parse(text);
  if (!range) {
    // Re-parse with the pool's family so the message names it, as Spiderpool's does.
    auto again = IpRange::parse(text, pool.family);
    return invalid(path + ": " + (again ? range.error() : again.error()).message);
  }
  if (range->family() != pool.family) {
    return invalid(path + ": " + text + " is " + family_str(range->family()) + ", but " +
                   pool.describe() + "; put it in an " + family_str(range->family()) + " pool");
  }
  if (!pool.subnet.contains(range->first) || !pool.subnet.contains(range->last)) {
    return invalid(path + ": " + text + " is not inside spec.subnet " + pool.subnet_text +
                   "; fix the entry or the subnet");
  }
  return range;
}

// A single address (gateway, route gw) of the pool's family. `path` names the field.
Result<IpAddress> check_address(const PoolContext& pool, const std::string& path,
                                const std::string& text) {
  auto ip = IpAddress::parse(text);
  if (!ip) return invalid(path + ": " + ip.error().message);
  if (ip->family() != pool.family) {
    return invalid(path + " " + text + " is " + family_str(ip->family()) + ", but " +
                   pool.describe() + "; use an " + family_str(pool.family) + " address");
  }
  return ip;
}

bool selector_is_empty(const nlohmann::json& selector) {
  if (!selector.is_object()) return false;
  std::size_t n = 0;
  for (const char* key : {"matchLabels", "matchExpressions"}) {
    auto it = selector.find(key);
    if (it != selector.end() && (it->is_object() || it->is_array())) n += it->size();
  }
  return n == 0;
}

Status check_routes(const PoolContext& pool, const std::vector<Route>& routes) {
  std::vector<std::pair<IpPrefix, std::size_t>> seen;  // normalized dst, index
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const Route& route = routes[i];
    const std::string at = "spec.routes[" + std::to_string(i) + "]";
    auto dst = IpPrefix::parse(route.dst);
    if (!dst) return invalid(at + ".dst: " + dst.error().message);
    if (dst->family() != pool.family) {
      return invalid(at + ".dst: " + route.dst + " is " + family_str(dst->family()) + ", but " +
                     pool.describe() + "; route only " + family_str(pool.family) +
                     " destinations from this pool");
    }
    if (dst->length == 0) {
      return invalid(at + ".dst: " + route.dst +
                     " is the default route; set spec.gateway instead of a route");
    }
    const IpPrefix normal{dst->network(), dst->length};
    for (const auto& [other, j] : seen) {
      if (other == normal) {
        return invalid(at + ".dst: duplicate route to " + normal.to_string() +
                       " (also in spec.routes[" + std::to_string(j) + "]); remove one of them");
      }
    }
    seen.emplace_back(normal, i);
    IPF_ASSIGN_OR_RETURN(IpAddress gw, check_address(pool, at + ".gw", route.gw));
    if (!pool.subnet.contains(gw)) {
      return invalid(at + ".gw " + route.gw + " is outside spec.subnet " + pool.subnet_text +
                     "; a route's gateway must be reachable on the pool's subnet");
    }
  }
  return {};
}

}  // namespace

Result<PoolRanges> validate_pool(SpiderIPPool& pool) {
  IpPoolSpec& spec = pool.spec;
  std::optional<IpFamily> given;
  if (spec.ip_version) {
    IPF_ASSIGN_OR_RETURN(given, family_of_version(*spec.ip_version, "spec.ipVersion"));
  }
  if (spec.subnet.empty()) {
    return invalid(
        "spec.subnet: required field is missing; set it to the pool's network in CIDR form, "
        "e.g. 10.6.0.0/16");
  }
  auto subnet = IpPrefix::parse(spec.subnet);
  if (!subnet) {
    return invalid("spec.subnet: " + subnet.error().message +
                   "; write the pool's network as address/length, e.g. 10.6.0.0/16");
  }
  if (subnet->address != subnet->network()) {
    return invalid("spec.subnet: " + spec.subnet + " has host bits set; use " +
                   subnet->to_string());
  }
  const IpFamily family = subnet->family();
  if (given && *given != family) {
    return invalid("spec.ipVersion: " + std::to_string(*spec.ip_version) +
                   " does not match spec.subnet " + spec.subnet + ", which is " +
                   family_str(family) + "; set spec.ipVersion to " +
                   std::to_string(static_cast<int>(family)) + " or remove it");
  }
  spec.ip_version = static_cast<int>(family);
  const PoolContext context{family, *subnet, spec.subnet};

  PoolRanges out;
  out.family = family;
  out.subnet = *subnet;
  out.ips = IpSet(family);
  out.exclude = IpSet(family);
  for (std::size_t i = 0; i < spec.ips.size(); ++i) {
    IPF_ASSIGN_OR_RETURN(IpRange range,
                         check_entry(context, "spec.ips[" + std::to_string(i) + "]", spec.ips[i]));
    out.ips.insert(range);
  }
  for (std::size_t i = 0; i < spec.exclude_ips.size(); ++i) {
    IPF_ASSIGN_OR_RETURN(
        IpRange range,
        check_entry(context, "spec.excludeIPs[" + std::to_string(i) + "]", spec.exclude_ips[i]));
    out.exclude.insert(range);
  }

  if (spec.gateway) {
    const std::string& text = *spec.gateway;
    IPF_ASSIGN_OR_RETURN(IpAddress gateway, check_address(context, "spec.gateway", text));
    if (!subnet->contains(gateway)) {
      return invalid("spec.gateway " + text + " is outside spec.subnet " + spec.subnet +
                     "; use a gateway inside the subnet");
    }
    if (out.ips.contains(gateway) && !out.exclude.contains(gateway)) {
      return invalid("spec.gateway " + text +
                     " is inside spec.ips; add it to spec.excludeIPs or remove it from spec.ips");
    }
    out.gateway = gateway;
  }

  IPF_TRY(check_routes(context, spec.routes));

  // Spiderpool refuses `podAffinity: {}`, which would read as "matches every pod" by accident.
  if (selector_is_empty(spec.pod_affinity)) {
    return invalid(
        "spec.podAffinity: an empty selector is not allowed; give matchLabels or "
        "matchExpressions, or remove spec.podAffinity");
  }

  // The probe annotation is checked here, at apply, not at the first ADD that reads it.
  if (auto probe = conflict_probe_settings(pool, ConflictProbeSettings{}); !probe)
    return probe.error();

  out.usable = out.ips;
  out.usable.erase_all(out.exclude);
  if (out.gateway) out.usable.erase(out.gateway->value());
  return out;
}

Result<IpSet> validate_reserved(SpiderReservedIP& reserved) {
  ReservedIpSpec& spec = reserved.spec;
  std::optional<IpFamily> family;
  std::string family_source;  // what fixed the family, for messages
  if (spec.ip_version) {
    IPF_ASSIGN_OR_RETURN(family, family_of_version(*spec.ip_version, "spec.ipVersion"));
    family_source = "spec.ipVersion is " + std::to_string(*spec.ip_version);
  }
  IpSet set(family.value_or(IpFamily::v4));
  for (std::size_t i = 0; i < spec.ips.size(); ++i) {
    const std::string at = "spec.ips[" + std::to_string(i) + "]";
    const std::string& text = spec.ips[i];
    auto range = IpRange::parse(text);
    if (!range) {
      auto again = IpRange::parse(text, family);  // names the family, as Spiderpool does
      return invalid(at + ": " + (again ? range.error() : again.error()).message);
    }
    if (!family) {
      family = range->family();
      family_source = at + " is " + family_str(*family);
      set = IpSet(*family);
    } else if (range->family() != *family) {
      return invalid(at + ": " + text + " is " + family_str(range->family()) + ", but " +
                     family_source + "; one SpiderReservedIP holds one IP family: put " +
                     family_str(range->family()) + " addresses in another SpiderReservedIP");
    }
    set.insert(*range);
  }
  if (!spec.ip_version && family) spec.ip_version = static_cast<int>(*family);
  return set;
}

Status validate_multus(const SpiderMultusConfig& config) {
  const MultusConfigSpec& spec = config.spec;
  if (spec.cni_type != "macvlan") {
    return invalid("spec.cniType: ipfence supports only macvlan, got " + quote(spec.cni_type) +
                   "; set spec.cniType: macvlan");
  }
  if (spec.macvlan.master.empty()) {
    return invalid(
        "spec.macvlan.master: at least one interface is required; name the node's uplink, e.g. "
        "master: [ens192]");
  }
  for (std::size_t i = 0; i < spec.macvlan.master.size(); ++i) {
    const std::string& name = spec.macvlan.master[i];
    // The kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
    bool ok = !name.empty() && name.size() <= 15 && name != "." && name != "..";
    for (char c : name) {
      if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r')) ok = false;
    }
    if (!ok) {
      return invalid("spec.macvlan.master[" + std::to_string(i) + "]: " + quote(name) +
                     " is not a valid interface name: use 1 to 15 characters without '/', ':' "
                     "or whitespace");
    }
  }
  if (spec.macvlan.vlan_id && (*spec.macvlan.vlan_id < 0 || *spec.macvlan.vlan_id > 4094)) {
    return invalid("spec.macvlan.vlanID: must be between 0 and 4094 (0 means untagged), got " +
                   std::to_string(*spec.macvlan.vlan_id));
  }
  for (const auto& [list, path] :
       {std::pair{&spec.macvlan.ipv4_pools, "spec.macvlan.ippools.ipv4"},
        std::pair{&spec.macvlan.ipv6_pools, "spec.macvlan.ippools.ipv6"}}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string& name = (*list)[i];
      if (auto problem = dns1123_subdomain_problem(name)) {
        return invalid(std::string(path) + "[" + std::to_string(i) + "]: " + quote(name) +
                       " is not a valid pool name: " + *problem);
      }
    }
  }
  return {};
}

}  // namespace ipfence::ipam
