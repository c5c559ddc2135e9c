// JSON mapping of the object model (Spiderpool v2beta1 field names), kind names and store keys.
// from_json here is lenient on purpose: it reads what we wrote ourselves, so absent fields take
// their defaults; a field of the wrong type still throws nlohmann::json::type_error, which the
// store reports as a corrupt record. Strict parsing of user input lives in manifest.cpp.
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/model.h"

namespace ipfence::ipam {

using nlohmann::json;

namespace {

constexpr std::array<KindInfo, 3> kKinds{{
    {Kind::ippool, "SpiderIPPool", "spiderippool", false, keys::kPools},
    {Kind::reservedip, "SpiderReservedIP", "spiderreservedip", false, keys::kReserved},
    {Kind::multusconfig, "SpiderMultusConfig", "spidermultusconfig", true, keys::kMultus},
}};

struct KindAlias {
  std::string_view name;  // lowercase
  Kind kind;
};

// Everything kubectl accepts for these CRDs (kind, singular, plural, short names), plus the
// names without the "Spider" prefix, which people type naturally. Compared lowercase.
constexpr std::array<KindAlias, 15> kKindAliases{{
    {"spiderippool", Kind::ippool},
    {"spiderippools", Kind::ippool},
    {"sp", Kind::ippool},
    {"ippool", Kind::ippool},
    {"ippools", Kind::ippool},
    {"spiderreservedip", Kind::reservedip},
    {"spiderreservedips", Kind::reservedip},
    {"sr", Kind::reservedip},
    {"reservedip", Kind::reservedip},
    {"reservedips", Kind::reservedip},
    {"spidermultusconfig", Kind::multusconfig},
    {"spidermultusconfigs", Kind::multusconfig},
    {"smc", Kind::multusconfig},
    {"multusconfig", Kind::multusconfig},
    {"multusconfigs", Kind::multusconfig},
}};

// --- lenient readers (from_json) -------------------------------------------------------------

std::string get_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->get<std::string>();
}

bool get_bool(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<bool>();
}

std::optional<int> get_opt_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<int>();
}

std::vector<std::string> get_strings(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->get<std::vector<std::string>>();
}

std::map<std::string, std::string> get_string_map(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->get<std::map<std::string, std::string>>();
}

json get_raw(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return nullptr;
  return *it;
}

const json& get_object(const json& j, const char* key) {
  static const json kEmpty = json::object();
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return kEmpty;
  return *it;
}

// --- writers (to_json): omit what is empty ------------------------------------------------------

void put_string(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

void put_strings(json& j, const char* key, const std::vector<std::string>& values) {
  if (!values.empty()) j[key] = values;
}

json header(Kind kind) {
  return json{{"apiVersion", kApiVersion}, {"kind", kind_info(kind).name}};
}

}  // namespace

const KindInfo& kind_info(Kind kind) {
  for (const auto& info : kKinds) {
    if (info.kind == kind) return info;
  }
  return kKinds[0];  // unreachable: every enumerator is in the table
}

std::optional<Kind> kind_from_name(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // kubectl also accepts "<resource>.<group>", e.g. spiderippools.spiderpool.spidernet.io.
  const std::string group_suffix = std::string(".") + kGroup;
  if (lower.size() > group_suffix.size() &&
      lower.compare(lower.size() - group_suffix.size(), group_suffix.size(), group_suffix) == 0) {
    lower.resize(lower.size() - group_suffix.size());
  }
  for (const auto& alias : kKindAliases) {
    if (alias.name == lower) return alias.kind;
  }
  return std::nullopt;
}

// --- keys --------------------------------------------------------------------------------------

namespace keys {
std::string pool(const std::string& name) {
  return kPools + name;
}
std::string reserved(const std::string& name) {
  return kReserved + name;
}
std::string multus(const std::string& ns, const std::string& name) {
  return kMultus + ns + "/" + name;
}
std::string ip(const std::string& pool, const std::string& ip) {
  return kIps + pool + "/" + ip;
}
std::string ips_of_pool(const std::string& pool) {
  return kIps + pool + "/";
}
std::string attachment(const std::string& container_id, const std::string& ifname) {
  return kAttachments + container_id + "/" + ifname;
}
}  // namespace keys

// --- ObjectMeta ----------------------------------------------------------------------------------

void to_json(json& j, const ObjectMeta& m) {
  j = json::object();
  j["name"] = m.name;
  put_string(j, "namespace", m.namespace_);
  put_string(j, "uid", m.uid);
  put_string(j, "creationTimestamp", m.creation_timestamp);
  // Kubernetes sends resourceVersion as an opaque string.
  if (m.resource_version != 0) j["resourceVersion"] = std::to_string(m.resource_version);
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
}

void from_json(const json& j, ObjectMeta& m) {
  m = ObjectMeta{};
  m.name = get_string(j, "name");
  m.namespace_ = get_string(j, "namespace");
  m.uid = get_string(j, "uid");
  m.creation_timestamp = get_string(j, "creationTimestamp");
  if (auto it = j.find("resourceVersion"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      m.resource_version = it->get<std::int64_t>();
    } else {
      const auto text = it->get<std::string>();
      std::int64_t value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec == std::errc() && end == text.data() + text.size()) m.resource_version = value;
    }
  }
  m.labels = get_string_map(j, "labels");
  m.annotations = get_string_map(j, "annotations");
}

// --- SpiderIPPool --------------------------------------------------------------------------------

void to_json(json& j, const SpiderIPPool& p) {
  j = header(Kind::ippool);
  j["metadata"] = p.metadata;
  json spec = json::object();
  const IpPoolSpec& s = p.spec;
  if (s.ip_version) spec["ipVersion"] = *s.ip_version;
  spec["subnet"] = s.subnet;
  put_strings(spec, "ips", s.ips);
  put_strings(spec, "excludeIPs", s.exclude_ips);
  if (s.gateway) spec["gateway"] = *s.gateway;
  if (!s.routes.empty()) {
    json routes = json::array();
    for (const auto& r : s.routes) routes.push_back({{"dst", r.dst}, {"gw", r.gw}});
    spec["routes"] = std::move(routes);
  }
  if (!s.pod_affinity.is_null()) spec["podAffinity"] = s.pod_affinity;
  if (!s.namespace_affinity.is_null()) spec["namespaceAffinity"] = s.namespace_affinity;
  if (!s.node_affinity.is_null()) spec["nodeAffinity"] = s.node_affinity;
  put_strings(spec, "namespaceName", s.namespace_name);
  put_strings(spec, "nodeName", s.node_name);
  put_strings(spec, "multusName", s.multus_name);
  // Spiderpool defaults both to false and prints DEFAULT as a column: always present.
  spec["default"] = s.default_;
  spec["disable"] = s.disable;
  j["spec"] = std::move(spec);
}

void from_json(const json& j, SpiderIPPool& p) {
  p = SpiderIPPool{};
  p.metadata = get_object(j, "metadata").get<ObjectMeta>();
  const json& s = get_object(j, "spec");
  p.spec.ip_version = get_opt_int(s, "ipVersion");
  p.spec.subnet = get_string(s, "subnet");
  p.spec.ips = get_strings(s, "ips");
  p.spec.exclude_ips = get_strings(s, "excludeIPs");
  if (auto it = s.find("gateway"); it != s.end() && !it->is_null()) {
    p.spec.gateway = it->get<std::string>();
  }
  if (auto it = s.find("routes"); it != s.end() && !it->is_null()) {
    for (const auto& r : *it) p.spec.routes.push_back({get_string(r, "dst"), get_string(r, "gw")});
  }
  p.spec.pod_affinity = get_raw(s, "podAffinity");
  p.spec.namespace_affinity = get_raw(s, "namespaceAffinity");
  p.spec.node_affinity = get_raw(s, "nodeAffinity");
  p.spec.namespace_name = get_strings(s, "namespaceName");
  p.spec.node_name = get_strings(s, "nodeName");
  p.spec.multus_name = get_strings(s, "multusName");
  p.spec.default_ = get_bool(s, "default", false);
  p.spec.disable = get_bool(s, "disable", false);
}

// --- SpiderReservedIP ----------------------------------------------------------------------------

void to_json(json& j, const SpiderReservedIP& r) {
  j = header(Kind::reservedip);
  j["metadata"] = r.metadata;
  json spec = json::object();
  if (r.spec.ip_version) spec["ipVersion"] = *r.spec.ip_version;
  put_strings(spec, "ips", r.spec.ips);
  j["spec"] = std::move(spec);
}

void from_json(const json& j, SpiderReservedIP& r) {
  r = SpiderReservedIP{};
  r.metadata = get_object(j, "metadata").get<ObjectMeta>();
  const json& s = get_object(j, "spec");
  r.spec.ip_version = get_opt_int(s, "ipVersion");
  r.spec.ips = get_strings(s, "ips");
}

// --- SpiderMultusConfig --------------------------------------------------------------------------

void to_json(json& j, const SpiderMultusConfig& c) {
  j = header(Kind::multusconfig);
  j["metadata"] = c.metadata;
  const MultusConfigSpec& s = c.spec;
  json macvlan = json::object();
  macvlan["master"] = s.macvlan.master;
  if (s.macvlan.vlan_id) macvlan["vlanID"] = *s.macvlan.vlan_id;
  if (!s.macvlan.ipv4_pools.empty() || !s.macvlan.ipv6_pools.empty()) {
    json pools = json::object();
    put_strings(pools, "ipv4", s.macvlan.ipv4_pools);
    put_strings(pools, "ipv6", s.macvlan.ipv6_pools);
    macvlan["ippools"] = std::move(pools);
  }
  json spec = json::object();
  spec["cniType"] = s.cni_type;
  spec["macvlan"] = std::move(macvlan);
  spec["enableCoordinator"] = s.enable_coordinator;
  spec["disableIPAM"] = s.disable_ipam;
  if (!s.coordinator.is_null()) spec["coordinator"] = s.coordinator;
  j["spec"] = std::move(spec);
}

void from_json(const json& j, SpiderMultusConfig& c) {
  c = SpiderMultusConfig{};
  c.metadata = get_object(j, "metadata").get<ObjectMeta>();
  const json& s = get_object(j, "spec");
  if (auto it = s.find("cniType"); it != s.end() && !it->is_null()) {
    c.spec.cni_type = it->get<std::string>();
  }
  const json& m = get_object(s, "macvlan");
  c.spec.macvlan.master = get_strings(m, "master");
  c.spec.macvlan.vlan_id = get_opt_int(m, "vlanID");
  const json& pools = get_object(m, "ippools");
  c.spec.macvlan.ipv4_pools = get_strings(pools, "ipv4");
  c.spec.macvlan.ipv6_pools = get_strings(pools, "ipv6");
  c.spec.enable_coordinator = get_bool(s, "enableCoordinator", true);
  c.spec.disable_ipam = get_bool(s, "disableIPAM", false);
  c.spec.coordinator = get_raw(s, "coordinator");
}

// --- Allocation and Attachment -----------------------------------------------------------------

void to_json(json& j, const Allocation& a) {
  j = json::object();
  j["ip"] = a.ip;
  j["pool"] = a.pool;
  j["containerID"] = a.container_id;
  j["ifname"] = a.ifname;
  put_string(j, "netns", a.netns);
  put_string(j, "network", a.network);
  put_string(j, "podNamespace", a.pod_namespace);
  put_string(j, "podName", a.pod_name);
  put_string(j, "podUID", a.pod_uid);
  put_string(j, "mac", a.mac);
  put_string(j, "master", a.master);
  put_string(j, "node", a.node);
  put_string(j, "created", a.created);
}

void from_json(const json& j, Allocation& a) {
  a = Allocation{};
  a.ip = get_string(j, "ip");
  a.pool = get_string(j, "pool");
  a.container_id = get_string(j, "containerID");
  a.ifname = get_string(j, "ifname");
  a.netns = get_string(j, "netns");
  a.network = get_string(j, "network");
  a.pod_namespace = get_string(j, "podNamespace");
  a.pod_name = get_string(j, "podName");
  a.pod_uid = get_string(j, "podUID");
  a.mac = get_string(j, "mac");
  a.master = get_string(j, "master");
  a.node = get_string(j, "node");
  a.created = get_string(j, "created");
}

void to_json(json& j, const Attachment& a) {
  j = json::object();
  j["containerID"] = a.container_id;
  j["ifname"] = a.ifname;
  json ips = json::array();
  for (const auto& ip : a.ips) ips.push_back({{"pool", ip.pool}, {"ip", ip.ip}});
  j["ips"] = std::move(ips);
}

void from_json(const json& j, Attachment& a) {
  a = Attachment{};
  a.container_id = get_string(j, "containerID");
  a.ifname = get_string(j, "ifname");
  if (auto it = j.find("ips"); it != j.end() && !it->is_null()) {
    for (const auto& ip : *it) a.ips.push_back({get_string(ip, "pool"), get_string(ip, "ip")});
  }
}

}  // namespace ipfence::ipam
