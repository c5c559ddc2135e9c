#include "agent/api_codec.h"

#include <set>

namespace ipfence::agent {
namespace {

using nlohmann::json;

Error bad(std::string message) {
  return make_error(ErrorCode::invalid_argument, std::move(message));
}

Result<json> parse_object(std::string_view body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return bad(body.empty() ? "request body is empty; expected a JSON object"
                            : "request body is not valid JSON");
  if (!parsed.is_object())
    return bad(std::string("request body must be a JSON object, got ") + parsed.type_name());
  return parsed;
}

// Reads optional or required fields of one JSON object; `prefix` locates it in the body.
class Fields {
 public:
  Fields(const json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

  Status string(const char* key, std::string& out, bool required = false) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null() ||
        (it->is_string() && it->get_ref<const std::string&>().empty())) {
      if (required) return bad(path(key) + " is required");
      return {};
    }
    if (!it->is_string()) return bad(path(key) + ": expected a string, got " + it->type_name());
    out = it->get<std::string>();
    return {};
  }

  Status strings(const char* key, std::vector<std::string>& out) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return {};
    if (!it->is_array())
      return bad(path(key) + ": expected a list of strings, got " + it->type_name());
    out.clear();
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& item = (*it)[i];
      if (!item.is_string())
        return bad(path(key) + "[" + std::to_string(i) + "]: expected a string, got " +
                   item.type_name());
      out.push_back(item.get<std::string>());
    }
    return {};
  }

  // The nested object `key`, or null when absent; an error when it is not an object.
  Result<const json*> object(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return static_cast<const json*>(nullptr);
    if (!it->is_object()) return bad(path(key) + ": expected an object, got " + it->type_name());
    return &*it;
  }

  const json* find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  std::string path(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

 private:
  const json& object_;
  std::string prefix_;
};

Status decode_id(const Fields& fields, AttachmentId& id) {
  IPF_TRY(fields.string("containerID", id.container_id, /*required=*/true));
  IPF_TRY(fields.string("ifname", id.ifname, /*required=*/true));
  return {};
}

// "10.6.168.133/16" -> "10.6.168.133": CNI passes addresses in both forms.
std::string without_length(const std::string& text) {
  return text.substr(0, text.find('/'));
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "nothing" : out;
}

}  // namespace

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return 400;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::conflict:
    case ErrorCode::already_exists:
    case ErrorCode::in_use:
    case ErrorCode::mismatch:
      return 409;
    case ErrorCode::exhausted:
    case ErrorCode::ip_unavailable:
    case ErrorCode::no_pool:
      return 422;
    case ErrorCode::unavailable:
    case ErrorCode::compacted:
      return 503;
    default:
      return 500;
  }
}

HttpResponse error_response(const Error& error) {
  return json_error(http_status(error.code), error_code_name(error.code),
                    cni_error_code(error.code), error.message);
}

Result<ipam::AllocateRequest> decode_allocate(std::string_view body) {
  IPF_ASSIGN_OR_RETURN(json object, parse_object(body));
  Fields fields(object, "");
  ipam::AllocateRequest request;
  ipam::Allocation& identity = request.identity;
  IPF_TRY(fields.string("containerID", identity.container_id, /*required=*/true));
  IPF_TRY(fields.string("ifname", identity.ifname, /*required=*/true));
  IPF_TRY(fields.string("netns", identity.netns));
  IPF_TRY(fields.string("network", identity.network));
  IPF_TRY(fields.string("mac", identity.mac));
  IPF_TRY(fields.string("master", identity.master));
  IPF_ASSIGN_OR_RETURN(const json* pod, fields.object("pod"));
  if (pod != nullptr) {
    Fields pod_fields(*pod, "pod");
    IPF_TRY(pod_fields.string("namespace", identity.pod_namespace));
    IPF_TRY(pod_fields.string("name", identity.pod_name));
    IPF_TRY(pod_fields.string("uid", identity.pod_uid));
  }
  IPF_TRY(fields.strings("ipv4Pools", request.ipv4_pools));
  IPF_TRY(fields.strings("ipv6Pools", request.ipv6_pools));
  IPF_TRY(fields.strings("ips", request.ips));
  return request;
}

Result<AttachmentId> decode_release(std::string_view body) {
  IPF_ASSIGN_OR_RETURN(json object, parse_object(body));
  AttachmentId id;
  IPF_TRY(decode_id(Fields(object, ""), id));
  return id;
}

Result<CheckRequest> decode_check(std::string_view body) {
  IPF_ASSIGN_OR_RETURN(json object, parse_object(body));
  Fields fields(object, "");
  CheckRequest request;
  IPF_TRY(decode_id(fields, request.id));
  if (const json* ips = fields.find("ips"); ips != nullptr && !ips->is_null()) {
    request.ips.emplace();
    IPF_TRY(fields.strings("ips", *request.ips));
  }
  return request;
}

Result<GcRequest> decode_gc(std::string_view body) {
  IPF_ASSIGN_OR_RETURN(json object, parse_object(body));
  Fields fields(object, "");
  GcRequest request;
  // Required: GC with an empty network would release the allocations of every request
  // that named none.
  IPF_TRY(fields.string("network", request.network, /*required=*/true));
  const json* valid = fields.find("validAttachments");
  if (valid == nullptr || valid->is_null()) return request;
  if (!valid->is_array())
    return bad(std::string("validAttachments: expected a list of {containerID, ifname}, got ") +
               valid->type_name());
  for (std::size_t i = 0; i < valid->size(); ++i) {
    const std::string where = "validAttachments[" + std::to_string(i) + "]";
    const json& item = (*valid)[i];
    if (!item.is_object())
      return bad(where + ": expected an object {containerID, ifname}, got " + item.type_name());
    AttachmentId id;
    IPF_TRY(decode_id(Fields(item, where), id));
    request.valid.emplace_back(std::move(id.container_id), std::move(id.ifname));
  }
  return request;
}

json encode_allocate(const ipam::AllocateResult& result) {
  json ips = json::array();
  for (const auto& ip : result.ips) {
    // The allocated address with the subnet's length ("10.6.168.133/16"): IpPrefix's
    // to_string would print the network instead.
    json entry = {
        {"address", ip.address.address.to_string() + "/" + std::to_string(ip.address.length)},
        {"pool", ip.pool},
        {"version", ip.ip.is_v4() ? 4 : 6}};
    if (ip.gateway) entry["gateway"] = ip.gateway->to_string();
    ips.push_back(std::move(entry));
  }
  json routes = json::array();
  for (const auto& route : result.routes) {
    json entry = {{"dst", route.dst}};
    if (!route.gw.empty()) entry["gw"] = route.gw;
    routes.push_back(std::move(entry));
  }
  return {{"ips", std::move(ips)}, {"routes", std::move(routes)}, {"existing", result.existing}};
}

json encode_release(const ipam::ReleaseResult& result) {
  json released = json::array();
  for (const auto& ip : result.released) released.push_back(ip.ip);
  return {{"released", std::move(released)}};
}

json encode_gc(const ipam::GcResult& result) {
  json released = json::array();
  for (const auto& entry : result.released)
    released.push_back(
        {{"containerID", entry.container_id}, {"ifname", entry.ifname}, {"ips", entry.ips}});
  json out = {{"released", std::move(released)}};
  if (!result.errors.empty()) out["errors"] = result.errors;
  return out;
}

json encode_pools(const ipam::ClusterState& state) {
  json pools = json::array();
  for (const auto& [name, pool] : state.pools()) {
    const ipam::PoolCounts counts = state.counts(name);
    pools.push_back(
        {{"name", name},
         {"ipVersion", pool.pool.spec.ip_version.value_or(static_cast<int>(pool.ranges.family))},
         {"subnet", pool.pool.spec.subnet},
         {"default", pool.pool.spec.default_},
         {"disable", pool.pool.spec.disable},
         {"total", counts.total},
         {"allocated", counts.allocated},
         {"reserved", counts.reserved},
         {"quarantined", counts.quarantined},
         {"available", counts.available}});
  }
  return pools;
}

Status compare_ips(const AttachmentId& id, const ipam::AllocateResult& held,
                   const std::vector<std::string>& wanted) {
  std::set<std::string> want;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    auto ip = ipam::IpAddress::parse(without_length(wanted[i]));
    if (!ip) return bad("ips[" + std::to_string(i) + "]: " + ip.error().message);
    want.insert(ip->to_string());
  }
  std::set<std::string> have;
  for (const auto& ip : held.ips) have.insert(ip.ip.to_string());
  if (want == have) return {};
  return make_error(ErrorCode::mismatch, "container " + id.container_id + " interface " +
                                             id.ifname + " holds " + join(have) + ", not " +
                                             join(want));
}

}  // namespace ipfence::agent
