#include "cni/netconf.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cni/ip_text.h"

namespace ipfence::cni {
namespace {

using nlohmann::json;

// A CNI call that waits longer than an hour is a misconfiguration (kubelet gives up after
// minutes); the bound also keeps the conversion to milliseconds in range.
constexpr double kMaxTimeoutSeconds = 3600;

CniError config_error(std::string msg) {
  return cni_error(kInvalidNetworkConfig, std::move(msg));
}

// "a string", "a number", ... for messages about wrong types.
std::string type_of(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "a list";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

CniError wrong_type(const std::string& path, std::string_view expected, const json& got) {
  return config_error(path + " must be " + std::string(expected) + ", got " + type_of(got));
}

// The member `key` of `obj`, or nullptr when absent.
const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

CniOr<std::string> optional_string(const json& obj, std::string_view key, const std::string& path) {
  const json* value = member(obj, key);
  if (!value) return std::string();
  if (!value->is_string()) return wrong_type(path, "a string", *value);
  return value->get<std::string>();
}

// An optional sub-object; null counts as absent (runtimes write "args": null).
CniOr<const json*> optional_object(const json& obj, std::string_view key, const std::string& path) {
  const json* value = member(obj, key);
  if (!value || value->is_null()) return static_cast<const json*>(nullptr);
  if (!value->is_object()) return wrong_type(path, "an object", *value);
  return value;
}

// Spiderpool writes pool lists as JSON lists; a single string is accepted as a list of one.
CniOr<std::vector<std::string>> pool_list(const json& ipam, std::string_view key) {
  const std::string path = "ipam." + std::string(key);
  const json* value = member(ipam, key);
  std::vector<std::string> pools;
  if (!value || value->is_null()) return pools;
  if (value->is_string()) {
    if (value->get_ref<const std::string&>().empty())
      return config_error(path + " must name a pool, got an empty string");
    pools.push_back(value->get<std::string>());
    return pools;
  }
  if (!value->is_array()) return wrong_type(path, "a list of pool names", *value);
  for (std::size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!item.is_string()) return wrong_type(item_path, "a pool name (string)", item);
    if (item.get_ref<const std::string&>().empty())
      return config_error(item_path + " must name a pool, got an empty string");
    pools.push_back(item.get<std::string>());
  }
  return pools;
}

// Appends the addresses of a list of "ip" or "ip/len" strings, without the suffix.
CniStatus append_ips(const json* list, const std::string& path, std::vector<std::string>& out) {
  if (!list || list->is_null()) return {};
  if (!list->is_array()) return wrong_type(path, "a list of IP addresses", *list);
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!item.is_string()) return wrong_type(item_path, "an IP address (string)", item);
    const auto& text = item.get_ref<const std::string&>();
    if (!ip_family(text) && !cidr_family(text))
      return config_error(item_path + " is '" + text + "', which is not an IP address");
    std::string ip = text.substr(0, text.find('/'));
    if (std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(std::move(ip));
  }
  return {};
}

constexpr std::string_view kIppoolAnnotation = "ipam.spidernet.io/ippool";
constexpr std::string_view kIppoolsAnnotation = "ipam.spidernet.io/ippools";

// Annotation values are strings holding JSON; a runtime may also pass the JSON itself.
CniOr<json> annotation_json(const json& value, const std::string& path) {
  if (!value.is_string()) return value;
  try {
    return json::parse(value.get_ref<const std::string&>());
  } catch (const json::parse_error& e) {
    return config_error(path + " is not valid JSON: " + std::string(e.what()));
  }
}

CniOr<std::vector<std::string>> annotation_pools(const json& obj, std::string_view key,
                                                 const std::string& path) {
  std::vector<std::string> pools;
  const json* value = member(obj, key);
  if (!value || value->is_null()) return pools;
  if (!value->is_array())
    return wrong_type(path + "." + std::string(key), "a list of pool names", *value);
  for (std::size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    if (!item.is_string() || item.get_ref<const std::string&>().empty())
      return wrong_type(path + "." + std::string(key) + "[" + std::to_string(i) + "]",
                        "a pool name (string)", item);
    pools.push_back(item.get<std::string>());
  }
  return pools;
}

CniOr<PoolAnnotation> parse_pool_annotation(const json& obj, const std::string& path,
                                            bool with_interface) {
  if (!obj.is_object()) return wrong_type(path, "an object like {\"ipv4\": [\"pool\"]}", obj);
  PoolAnnotation out;
  IPF_ASSIGN_OR_RETURN(out.ipv4, annotation_pools(obj, "ipv4", path));
  IPF_ASSIGN_OR_RETURN(out.ipv6, annotation_pools(obj, "ipv6", path));
  if (with_interface) {
    IPF_ASSIGN_OR_RETURN(out.interface, optional_string(obj, "interface", path + ".interface"));
    if (out.interface.empty()) return config_error(path + ".interface must name the interface");
  }
  return out;
}

CniStatus parse_pod_annotations(const json& cni, NetConf& out) {
  const std::string base = "args.cni[\"";
  if (const json* value = member(cni, kIppoolAnnotation); value && !value->is_null()) {
    const std::string path = base + std::string(kIppoolAnnotation) + "\"]";
    IPF_ASSIGN_OR_RETURN(json parsed, annotation_json(*value, path));
    IPF_ASSIGN_OR_RETURN(out.pod_ippool, parse_pool_annotation(parsed, path, false));
  }
  if (const json* value = member(cni, kIppoolsAnnotation); value && !value->is_null()) {
    const std::string path = base + std::string(kIppoolsAnnotation) + "\"]";
    IPF_ASSIGN_OR_RETURN(json parsed, annotation_json(*value, path));
    if (!parsed.is_array()) return wrong_type(path, "a list of {interface, ipv4, ipv6}", parsed);
    for (std::size_t i = 0; i < parsed.size(); ++i) {
      IPF_ASSIGN_OR_RETURN(
          PoolAnnotation entry,
          parse_pool_annotation(parsed[i], path + "[" + std::to_string(i) + "]", true));
      out.pod_ippools.push_back(std::move(entry));
    }
  }
  return {};
}

CniOr<std::chrono::milliseconds> parse_timeout(const json& ipam) {
  const json* value = member(ipam, "timeout");
  if (!value || value->is_null()) return kDefaultTimeout;
  const std::string hint = " (seconds, e.g. 30, or a duration such as \"30s\")";
  if (value->is_number()) {
    double seconds = value->get<double>();
    if (!std::isfinite(seconds) || seconds <= 0 || seconds > kMaxTimeoutSeconds)
      return config_error("ipam.timeout must be a positive number of seconds up to 3600" + hint +
                          ", got " + value->dump());
    return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
  }
  if (!value->is_string()) return wrong_type("ipam.timeout", "a timeout" + hint, *value);
  auto parsed = parse_duration(value->get_ref<const std::string&>());
  if (!parsed.ok()) return parsed.error().wrap("ipam.timeout");
  return parsed;
}

CniStatus check_version(const json& conf, Verb verb, NetConf& out) {
  const json* value = member(conf, "cniVersion");
  if (value && !value->is_string()) return wrong_type("cniVersion", "a string", *value);
  std::string supported;
  for (const auto& v : supported_versions()) supported += (supported.empty() ? "" : ", ") + v;
  if (!value)
    return cni_error(kIncompatibleVersion,
                     "the network config has no cniVersion (CNI reads that as 0.1.0); ipfence "
                     "supports " +
                         supported);
  out.cni_version = value->get<std::string>();
  if (!is_supported_version(out.cni_version))
    return cni_error(kIncompatibleVersion, "cniVersion " + out.cni_version +
                                               " is not supported; ipfence supports " + supported);
  const bool at_least_040 = out.cni_version != "0.3.0" && out.cni_version != "0.3.1";
  const bool at_least_110 = out.cni_version == "1.1.0";
  if ((verb == Verb::gc || verb == Verb::status) && !at_least_110)
    return cni_error(kIncompatibleVersion, std::string(verb_name(verb)) +
                                               " needs cniVersion 1.1.0; the network config "
                                               "says " +
                                               out.cni_version);
  if (verb == Verb::check && !at_least_040)
    return cni_error(
        kIncompatibleVersion,
        "CHECK needs cniVersion 0.4.0 or later; the network config says " + out.cni_version);
  return {};
}

CniStatus parse_prev_result(const json& conf, NetConf& out) {
  IPF_ASSIGN_OR_RETURN(const json* prev, optional_object(conf, "prevResult", "prevResult"));
  if (!prev) return {};
  const json* ips = member(*prev, "ips");
  if (!ips || ips->is_null()) return {};
  if (!ips->is_array()) return wrong_type("prevResult.ips", "a list", *ips);
  for (std::size_t i = 0; i < ips->size(); ++i) {
    const json& item = (*ips)[i];
    const std::string path = "prevResult.ips[" + std::to_string(i) + "]";
    if (!item.is_object()) return wrong_type(path, "an object", item);
    const json* address = member(item, "address");
    if (!address || !address->is_string())
      return config_error(path + ".address must be a CIDR string such as \"10.6.0.5/16\"");
    const auto& text = address->get_ref<const std::string&>();
    if (!cidr_family(text))
      return config_error(path + ".address is '" + text + "', which is not a CIDR address");
    out.prev_ips.push_back(text);
  }
  return {};
}

CniStatus parse_valid_attachments(const json& conf, NetConf& out) {
  constexpr std::string_view key = "cni.dev/valid-attachments";
  const json* list = member(conf, key);
  // Without the list GC would release every allocation of the network: refuse instead.
  if (!list)
    return config_error(
        "GC needs cni.dev/valid-attachments in the network config (runtimes "
        "speaking CNI 1.1.0 send it); refusing to release every allocation");
  if (list->is_null()) return {};  // libcni marshals an empty Go slice as null
  if (!list->is_array()) return wrong_type(std::string(key), "a list", *list);
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string path = std::string(key) + "[" + std::to_string(i) + "]";
    if (!item.is_object()) return wrong_type(path, "an object {containerID, ifname}", item);
    Attachment a;
    IPF_ASSIGN_OR_RETURN(a.container_id,
                         optional_string(item, "containerID", path + ".containerID"));
    IPF_ASSIGN_OR_RETURN(a.ifname, optional_string(item, "ifname", path + ".ifname"));
    if (a.container_id.empty() || a.ifname.empty())
      return config_error(path + " must have a non-empty containerID and ifname");
    out.valid_attachments.push_back(std::move(a));
  }
  return {};
}

}  // namespace

const std::vector<std::string>& supported_versions() {
  static const std::vector<std::string> versions{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return versions;
}

bool is_supported_version(std::string_view version) {
  const auto& v = supported_versions();
  return std::find(v.begin(), v.end(), version) != v.end();
}

std::string peek_cni_version(std::string_view stdin_text) {
  json conf = json::parse(stdin_text, nullptr, /*allow_exceptions=*/false);
  if (!conf.is_object()) return {};
  auto it = conf.find("cniVersion");
  if (it == conf.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

CniOr<NetConf> parse_netconf(std::string_view stdin_text, Verb verb) {
  json conf;
  try {
    conf = json::parse(stdin_text);
  } catch (const json::parse_error& e) {
    return cni_error(kDecodeFailure, "failed to decode the network config on stdin as JSON: " +
                                         std::string(e.what()));
  }
  if (!conf.is_object())
    return cni_error(kDecodeFailure,
                     "the network config on stdin must be a JSON object, got " + type_of(conf));

  NetConf out;
  IPF_TRY(check_version(conf, verb, out));
  IPF_ASSIGN_OR_RETURN(out.network, optional_string(conf, "name", "name"));
  if (out.network.empty())
    return config_error("name (the network name) must be set in the network config");
  IPF_ASSIGN_OR_RETURN(out.master, optional_string(conf, "master", "master"));

  const json* ipam = member(conf, "ipam");
  if (!ipam || ipam->is_null())
    return config_error(
        "the network config has no ipam section; use \"ipam\": {\"type\": "
        "\"ipfence\"}");
  if (!ipam->is_object()) return wrong_type("ipam", "an object", *ipam);
  IPF_ASSIGN_OR_RETURN(std::string type, optional_string(*ipam, "type", "ipam.type"));
  if (type.empty()) return config_error("ipam.type is missing; it must be \"ipfence\"");
  if (type != "ipfence")
    return config_error("ipam.type is \"" + type + "\"; this plugin is \"ipfence\"");

  IPF_ASSIGN_OR_RETURN(std::string socket, optional_string(*ipam, "socket", "ipam.socket"));
  if (!socket.empty()) out.socket = std::move(socket);
  IPF_ASSIGN_OR_RETURN(out.timeout, parse_timeout(*ipam));

  // Keys only ADD (and STATUS, for pools) uses. DEL must not fail on them: the runtime's
  // cleanup DEL after a failed ADD carries the same bad config, and a DEL that can never
  // succeed leaves the sandbox stuck (and macvlan 1.1.1 leaks its link).
  auto add_only = [&]() -> CniStatus {
    IPF_ASSIGN_OR_RETURN(out.ipv4_pools, pool_list(*ipam, "default_ipv4_ippool"));
    IPF_ASSIGN_OR_RETURN(out.ipv6_pools, pool_list(*ipam, "default_ipv6_ippool"));
    // Specific IPs: CNI_ARGS-style "args" and the "ips" capability, both optional.
    IPF_ASSIGN_OR_RETURN(const json* args, optional_object(conf, "args", "args"));
    if (args) {
      IPF_ASSIGN_OR_RETURN(const json* cni, optional_object(*args, "cni", "args.cni"));
      if (cni) {
        IPF_TRY(append_ips(member(*cni, "ips"), "args.cni.ips", out.ips));
        IPF_TRY(parse_pod_annotations(*cni, out));
      }
    }
    IPF_ASSIGN_OR_RETURN(const json* runtime,
                         optional_object(conf, "runtimeConfig", "runtimeConfig"));
    if (runtime) IPF_TRY(append_ips(member(*runtime, "ips"), "runtimeConfig.ips", out.ips));
    return {};
  };
  if (CniStatus parsed = add_only(); !parsed.ok() && verb != Verb::del) return parsed.error();

  if (verb == Verb::check) IPF_TRY(parse_prev_result(conf, out));
  if (verb == Verb::gc) IPF_TRY(parse_valid_attachments(conf, out));
  return out;
}

CniOr<PoolAnnotation> pools_for(const NetConf& conf, const std::string& ifname) {
  if (!conf.pod_ippools.empty()) {
    for (const auto& entry : conf.pod_ippools)
      if (entry.interface == ifname) return entry;
    return config_error("args.cni[\"ipam.spidernet.io/ippools\"] has no entry for interface " +
                        ifname + "; add {\"interface\": \"" + ifname + "\", \"ipv4\": [...]}");
  }
  if (conf.pod_ippool) return *conf.pod_ippool;
  return PoolAnnotation{"", conf.ipv4_pools, conf.ipv6_pools};
}

CniOr<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const std::string bad = "'" + std::string(text) +
                          "' is not a duration; use seconds (\"30\") or a Go duration such as "
                          "\"30s\", \"500ms\" or \"1m30s\"";
  if (text.empty()) return config_error(bad);
  const bool bare_number = text.find_first_not_of("0123456789.") == std::string_view::npos;
  double nanos = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::size_t n = 0;
    while (n < rest.size() && ((rest[n] >= '0' && rest[n] <= '9') || rest[n] == '.')) ++n;
    // More than 18 characters cannot be a sane timeout and could overflow stod.
    if (n == 0 || n > 18 || std::count(rest.begin(), rest.begin() + n, '.') > 1 ||
        (n == 1 && rest[0] == '.'))
      return config_error(bad);
    const double number = std::stod(std::string(rest.substr(0, n)));
    rest.remove_prefix(n);
    // Longest unit first: "ms" before "m", "µs" in both Unicode spellings Go accepts.
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"ns", 1},   {"us", 1e3}, {"\u00b5s", 1e3}, {"\u03bcs", 1e3},
        {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},      {"h", 3600e9}};
    double scale = 0;
    if (bare_number) {
      scale = 1e9;  // a plain number is seconds, as the numeric form of ipam.timeout
    } else {
      for (const auto& [unit, factor] : kUnits) {
        if (rest.substr(0, unit.size()) == unit) {
          scale = factor;
          rest.remove_prefix(unit.size());
          break;
        }
      }
      if (scale == 0) return config_error(bad);
    }
    nanos += number * scale;
  }
  if (!(nanos > 0) || !std::isfinite(nanos) || nanos > kMaxTimeoutSeconds * 1e9)
    return config_error("'" + std::string(text) + "' must be a positive duration up to 1h");
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(nanos / 1e6)));
}

}  // namespace ipfence::cni
