// The objects ipfence stores, in Spiderpool v2beta1's shape (apiVersion
// spiderpool.spidernet.io/v2beta1), plus the allocation record. Plain structs; JSON mapping in
// model_json.cpp, strict parsing of user manifests in manifest.cpp, rules in validation.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ipfence::ipam {

inline constexpr const char* kApiVersion = "spiderpool.spidernet.io/v2beta1";
inline constexpr const char* kGroup = "spiderpool.spidernet.io";

enum class Kind { ippool, reservedip, multusconfig };

struct KindInfo {
  Kind kind;
  const char* name;  // "SpiderIPPool"
  const char*
      resource;  // "spiderippool" (kubectl messages: spiderippool.spiderpool.spidernet.io/x)
  bool namespaced;
  const char* store_dir;  // key prefix in the store: "ippools/"
};
const KindInfo& kind_info(Kind kind);
// Accepts the kind ("SpiderIPPool"), resource names and short names (sp, ippool, sr, smc...).
std::optional<Kind> kind_from_name(std::string_view name);

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // only for namespaced kinds (SpiderMultusConfig)
  std::string uid;
  std::string creation_timestamp;     // RFC 3339, set by the store writer on create
  std::int64_t resource_version = 0;  // the store's mod_revision, filled on read
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool operator==(const ObjectMeta&) const = default;
};

struct Route {
  std::string dst;  // CIDR
  std::string gw;   // IP
  bool operator==(const Route&) const = default;
};

struct IpPoolSpec {
  std::optional<int> ip_version;  // 4 | 6; derived from subnet when absent
  std::string subnet;             // required CIDR
  std::vector<std::string> ips;   // "a", "a-b"
  std::vector<std::string> exclude_ips;
  std::optional<std::string> gateway;
  std::vector<Route> routes;
  nlohmann::json pod_affinity;        // Kubernetes LabelSelector, kept as given (null if absent)
  nlohmann::json namespace_affinity;  // LabelSelector
  nlohmann::json node_affinity;       // LabelSelector
  std::vector<std::string> namespace_name;
  std::vector<std::string> node_name;
  std::vector<std::string> multus_name;
  bool default_ = false;
  bool disable = false;
  bool operator==(const IpPoolSpec&) const = default;
};

struct SpiderIPPool {
  ObjectMeta metadata;
  IpPoolSpec spec;
  bool operator==(const SpiderIPPool&) const = default;
};

struct ReservedIpSpec {
  std::optional<int> ip_version;
  std::vector<std::string> ips;
  bool operator==(const ReservedIpSpec&) const = default;
};

struct SpiderReservedIP {
  ObjectMeta metadata;
  ReservedIpSpec spec;
  bool operator==(const SpiderReservedIP&) const = default;
};

struct MacvlanSpec {
  std::vector<std::string> master;
  std::optional<int> vlan_id;           // 0..4094
  std::vector<std::string> ipv4_pools;  // spec.macvlan.ippools.ipv4
  std::vector<std::string> ipv6_pools;  // spec.macvlan.ippools.ipv6
  bool operator==(const MacvlanSpec&) const = default;
};

struct MultusConfigSpec {
  std::string cni_type = "macvlan";  // only macvlan is supported
  MacvlanSpec macvlan;
  bool enable_coordinator = true;  // Spiderpool's default
  bool disable_ipam = false;
  nlohmann::json coordinator;  // accepted and kept; ipfence has no coordinator
  bool operator==(const MultusConfigSpec&) const = default;
};

struct SpiderMultusConfig {
  ObjectMeta metadata;
  MultusConfigSpec spec;
  bool operator==(const SpiderMultusConfig&) const = default;
};

// One IP handed to one interface of one container. Stored one key per IP
// (store key "ips/<pool>/<ip>") so that claims are create-if-absent, like host-local's files.
struct Allocation {
  std::string ip;  // canonical address, no prefix
  std::string pool;
  std::string container_id;
  std::string ifname;
  std::string netns;
  std::string network;  // CNI network name (netconf "name"); GC works per network
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  std::string mac;     // of the container interface, when the plugin could read it
  std::string master;  // the macvlan master on the node
  std::string node;
  std::string created;  // RFC 3339 with milliseconds
  bool operator==(const Allocation&) const = default;
};

// The attachment index: one key per (containerID, ifname) listing its IPs
// (store key "attachments/<containerID>/<ifname>"); created in the same transaction as the IP
// keys, so two identical concurrent requests cannot both allocate.
struct Attachment {
  std::string container_id;
  std::string ifname;
  struct Ip {
    std::string pool;
    std::string ip;
    bool operator==(const Ip&) const = default;
  };
  std::vector<Ip> ips;
  bool operator==(const Attachment&) const = default;
};

// Store key layout. All keys are relative; a backend may add its own prefix (etcd: /ipfence/).
namespace keys {
inline constexpr const char* kPools = "ippools/";
inline constexpr const char* kReserved = "reservedips/";
inline constexpr const char* kMultus = "multusconfigs/";
inline constexpr const char* kIps = "ips/";
inline constexpr const char* kAttachments = "attachments/";
std::string pool(const std::string& name);
std::string reserved(const std::string& name);
std::string multus(const std::string& ns, const std::string& name);
std::string ip(const std::string& pool, const std::string& ip);
std::string ips_of_pool(const std::string& pool);  // prefix "ips/<pool>/"
std::string attachment(const std::string& container_id, const std::string& ifname);
}  // namespace keys

// JSON in kubectl's shape (apiVersion, kind, metadata, spec). to_json omits empty optional
// fields; from_json here is lenient (store contents we wrote ourselves). User input goes
// through manifest.h, which is strict and reports field paths.
void to_json(nlohmann::json& j, const ObjectMeta& m);
void to_json(nlohmann::json& j, const SpiderIPPool& p);
void to_json(nlohmann::json& j, const SpiderReservedIP& r);
void to_json(nlohmann::json& j, const SpiderMultusConfig& c);
void to_json(nlohmann::json& j, const Allocation& a);
void to_json(nlohmann::json& j, const Attachment& a);
void from_json(const nlohmann::json& j, ObjectMeta& m);
void from_json(const nlohmann::json& j, SpiderIPPool& p);
void from_json(const nlohmann::json& j, SpiderReservedIP& r);
void from_json(const nlohmann::json& j, SpiderMultusConfig& c);
void from_json(const nlohmann::json& j, Allocation& a);
void from_json(const nlohmann::json& j, Attachment& a);

}  // namespace ipfence::ipam
