#include "cni/cni_result.h"

#include <nlohmann/json.hpp>

#include "cni/ip_text.h"
#include "cni/netconf.h"

namespace ipfence::cni {
namespace {

using nlohmann::json;
// ordered_json keeps insertion order, so the output reads like the spec's examples.
using nlohmann::ordered_json;

CniError bad_reply(const std::string& what) {
  return cni_error(kInternal, "ipfence-agent sent an allocation the plugin cannot use: " + what);
}

// An optional string member; a non-string is a malformed reply.
CniOr<std::string> string_member(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad_reply(path + "." + key + " is not a string");
  return it->get<std::string>();
}

CniOr<IpConfig> ip_from_agent(const json& entry, const std::string& path) {
  if (!entry.is_object()) return bad_reply(path + " is not an object");
  IpConfig ip;
  IPF_ASSIGN_OR_RETURN(ip.address, string_member(entry, "address", path));
  auto family = cidr_family(ip.address);
  if (!family) return bad_reply(path + ".address '" + ip.address + "' is not a CIDR address");
  ip.version = *family;
  IPF_ASSIGN_OR_RETURN(ip.gateway, string_member(entry, "gateway", path));
  if (!ip.gateway.empty() && ip_family(ip.gateway) != family)
    return bad_reply(path + ".gateway '" + ip.gateway + "' is not an IPv" +
                     std::to_string(*family) + " address");
  return ip;
}

CniOr<Route> route_from_agent(const json& entry, const std::string& path) {
  if (!entry.is_object()) return bad_reply(path + " is not an object");
  Route route;
  IPF_ASSIGN_OR_RETURN(route.dst, string_member(entry, "dst", path));
  if (!cidr_family(route.dst)) return bad_reply(path + ".dst '" + route.dst + "' is not a CIDR");
  IPF_ASSIGN_OR_RETURN(route.gw, string_member(entry, "gw", path));
  if (!route.gw.empty() && !ip_family(route.gw))
    return bad_reply(path + ".gw '" + route.gw + "' is not an IP address");
  return route;
}

}  // namespace

CniOr<IpamResult> ipam_result_from_agent(const json& reply) {
  if (!reply.is_object()) return bad_reply("the reply is not a JSON object");
  auto ips = reply.find("ips");
  if (ips == reply.end() || !ips->is_array() || ips->empty()) return bad_reply("it has no ips");
  IpamResult result;
  for (std::size_t i = 0; i < ips->size(); ++i) {
    IPF_ASSIGN_OR_RETURN(auto ip, ip_from_agent((*ips)[i], "ips[" + std::to_string(i) + "]"));
    result.ips.push_back(std::move(ip));
  }
  auto routes = reply.find("routes");
  if (routes != reply.end() && !routes->is_null()) {
    if (!routes->is_array()) return bad_reply("routes is not a list");
    for (std::size_t i = 0; i < routes->size(); ++i) {
      IPF_ASSIGN_OR_RETURN(auto route,
                           route_from_agent((*routes)[i], "routes[" + std::to_string(i) + "]"));
      result.routes.push_back(std::move(route));
    }
  }
  return result;
}

std::string render_result(const IpamResult& result, std::string_view cni_version) {
  // 0.3.0 introduced ips[].version; 1.0.0 removed it (the address says the family).
  const bool with_ip_version =
      cni_version == "0.3.0" || cni_version == "0.3.1" || cni_version == "0.4.0";
  ordered_json out;
  out["cniVersion"] = std::string(cni_version);
  ordered_json ips = ordered_json::array();
  for (const auto& ip : result.ips) {
    ordered_json entry;
    if (with_ip_version) entry["version"] = ip.version == 6 ? "6" : "4";
    entry["address"] = ip.address;
    if (!ip.gateway.empty()) entry["gateway"] = ip.gateway;
    ips.push_back(std::move(entry));
  }
  out["ips"] = std::move(ips);
  // Go's Result has `routes,omitempty`; mirror it so outputs match host-local's.
  if (!result.routes.empty()) {
    ordered_json routes = ordered_json::array();
    for (const auto& route : result.routes) {
      ordered_json entry;
      entry["dst"] = route.dst;
      if (!route.gw.empty()) entry["gw"] = route.gw;
      routes.push_back(std::move(entry));
    }
    out["routes"] = std::move(routes);
  }
  out["dns"] = ordered_json::object();  // a struct in Go: always present, empty here
  return out.dump();
}

std::string render_error(const CniError& error, std::string_view cni_version) {
  ordered_json out;
  out["cniVersion"] = std::string(is_supported_version(cni_version) ? cni_version : kLatestVersion);
  out["code"] = error.code;
  out["msg"] = error.msg;
  out["details"] = error.details;
  // Messages may quote agent replies; never let bad UTF-8 turn the error into an exception.
  return out.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::string render_version() {
  ordered_json out;
  out["cniVersion"] = std::string(kLatestVersion);
  out["supportedVersions"] = supported_versions();
  return out.dump();
}

}  // namespace ipfence::cni
