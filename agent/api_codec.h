// The JSON of the IPAM API (docs/agent-api.md) to and from the allocator's types. Decoding
// never throws: a bad body is ErrorCode::invalid_argument with a message that names the
// field ("ipv4Pools[1]: expected a string, got number"), which the CNI plugin shows as is.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/http_router.h"
#include "ipam/allocator.h"
#include "ipam/result.h"

namespace ipfence::agent {

// HTTP status of an error kind, per the table in docs/agent-api.md.
int http_status(ErrorCode code);
// {"error":{"code":<name>,"cniCode":<cni code>,"message":<message unchanged>}}
HttpResponse error_response(const Error& error);

struct AttachmentId {
  std::string container_id;
  std::string ifname;
};

struct CheckRequest {
  AttachmentId id;
  std::optional<std::vector<std::string>> ips;  // absent = do not compare
};

struct GcRequest {
  std::string network;
  std::vector<std::pair<std::string, std::string>> valid;  // {containerID, ifname}
};

Result<ipam::AllocateRequest> decode_allocate(std::string_view body);
Result<AttachmentId> decode_release(std::string_view body);
Result<CheckRequest> decode_check(std::string_view body);
Result<GcRequest> decode_gc(std::string_view body);

nlohmann::json encode_allocate(const ipam::AllocateResult& result);
nlohmann::json encode_release(const ipam::ReleaseResult& result);
nlohmann::json encode_gc(const ipam::GcResult& result);
// /v1/status "pools": name, ipVersion, subnet, default, disable and the counts.
nlohmann::json encode_pools(const ipam::ClusterState& state);

// OK when the attachment holds exactly `wanted` (a "/len" suffix is ignored); otherwise
// invalid_argument for an unparsable entry, or mismatch naming what differs.
Status compare_ips(const AttachmentId& id, const ipam::AllocateResult& held,
                   const std::vector<std::string>& wanted);

}  // namespace ipfence::agent
