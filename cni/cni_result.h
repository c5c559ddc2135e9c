// What the plugin prints: IPAM results in the cniVersion the runtime asked for, CNI error
// JSON, and the VERSION answer. Key order follows the Go types libcni decodes them with.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/cni_error.h"

namespace ipfence::cni {

// The spec version the plugin speaks when the caller said nothing usable.
inline constexpr std::string_view kLatestVersion = "1.1.0";

struct IpConfig {
  std::string address;  // CIDR: "10.6.168.133/16"
  std::string gateway;  // empty when the pool has none
  int version = 4;      // 4 or 6, from the address itself
};

struct Route {
  std::string dst;  // CIDR
  std::string gw;   // empty: use the interface's default
};

// An IPAM result: no interfaces and no ips[].interface (the main plugin adds those).
struct IpamResult {
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
};

// Reads the agent's allocate/check reply ({"ips": [...], "routes": [...]}). Fails (code 100)
// when it has no ips or a malformed entry: printing such a result would hand the runtime an
// attachment without an address.
CniOr<IpamResult> ipam_result_from_agent(const nlohmann::json& reply);

// The result JSON for `cni_version` (one of supported_versions()): 0.3.x/0.4.0 carry
// ips[].version "4"/"6", 1.0.0 and later do not.
std::string render_result(const IpamResult& result, std::string_view cni_version);

// {"cniVersion", "code", "msg", "details"}. `cni_version` empty or unsupported -> 1.1.0.
std::string render_error(const CniError& error, std::string_view cni_version);

// The VERSION answer: {"cniVersion":"1.1.0","supportedVersions":[...]}.
std::string render_version();

}  // namespace ipfence::cni
