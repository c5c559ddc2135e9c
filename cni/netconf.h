// The network configuration on stdin. An IPAM plugin receives the WHOLE config of its main
// plugin (macvlan), so unknown keys are normal and ignored; only the keys ipfence reads are
// checked, and a wrong one is error 7 naming its path (e.g. "ipam.default_ipv4_ippool[1]").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/cni_env.h"
#include "cni/cni_error.h"

namespace ipfence::cni {

inline constexpr std::string_view kDefaultSocket = "/run/ipfence/agent.sock";
inline constexpr std::chrono::milliseconds kDefaultTimeout{30'000};

// One entry of cni.dev/valid-attachments (GC, spec 1.1.0).
struct Attachment {
  std::string container_id;
  std::string ifname;
};

// A pod's pool choice in Spiderpool's annotation shapes: ipam.spidernet.io/ippool is
// {"ipv4": [...], "ipv6": [...]}; ipam.spidernet.io/ippools is a list of those, each with
// "interface". Without the Kubernetes API the runtime hands them over in args.cni under the
// annotation's name (CNI conventions: args.cni carries runtime-provided data).
struct PoolAnnotation {
  std::string interface;  // ippools only
  std::vector<std::string> ipv4;
  std::vector<std::string> ipv6;
};

struct NetConf {
  std::string cni_version;
  std::string network;  // "name"
  std::string master;   // macvlan's "master", passed to the agent for enforcement
  std::string socket{kDefaultSocket};
  std::vector<std::string> ipv4_pools;  // ipam.default_ipv4_ippool
  std::vector<std::string> ipv6_pools;  // ipam.default_ipv6_ippool
  std::chrono::milliseconds timeout = kDefaultTimeout;
  // Specific addresses from args.cni.ips and runtimeConfig.ips, without "/len", deduplicated.
  std::vector<std::string> ips;
  // args.cni["ipam.spidernet.io/ippool"] and ["ipam.spidernet.io/ippools"], when present.
  // They take precedence over the default pools (Spiderpool's order: pod annotation first).
  std::optional<PoolAnnotation> pod_ippool;
  std::vector<PoolAnnotation> pod_ippools;
  // CHECK: prevResult.ips[].address as written ("10.6.168.133/16").
  std::vector<std::string> prev_ips;
  // GC: cni.dev/valid-attachments (null is an empty list, as libcni sends a nil slice).
  std::vector<Attachment> valid_attachments;
};

// The pools of one attachment: the ippools entry for `ifname`, else the ippool annotation,
// else the defaults. 7 when ippools is given but has no entry for `ifname`.
CniOr<PoolAnnotation> pools_for(const NetConf& conf, const std::string& ifname);

// Every version whose results ipfence can render, oldest first.
const std::vector<std::string>& supported_versions();
bool is_supported_version(std::string_view version);

// The "cniVersion" string of a config, or "" when stdin is not JSON or has none. Used only to
// print errors in the caller's version before the config is fully parsed.
std::string peek_cni_version(std::string_view stdin_text);

// Parses and checks the config for `verb`: 6 when it is not JSON, 1 for an unsupported
// cniVersion (or GC/STATUS below 1.1.0, CHECK below 0.4.0), 7 for a wrong or missing key.
CniOr<NetConf> parse_netconf(std::string_view stdin_text, Verb verb);

// "30s", "1m30s", "500ms", "1.5h" (Go's time.ParseDuration units ns..h), or plain seconds "30".
CniOr<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace ipfence::cni
