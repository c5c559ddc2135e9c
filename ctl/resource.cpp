#include "ctl/resource.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace ipfence::ctl {

namespace {

constexpr std::string_view kNadGroup = "k8s.cni.cncf.io";

const std::array<ResourceInfo, 5>& resources() {
  static const std::array<ResourceInfo, 5> table = {{
      {Resource::ippool, ipam::Kind::ippool, false, "spiderippools.spiderpool.spidernet.io",
       "spiderippool.spiderpool.spidernet.io"},
      {Resource::reservedip, ipam::Kind::reservedip, false,
       "spiderreservedips.spiderpool.spidernet.io", "spiderreservedip.spiderpool.spidernet.io"},
      {Resource::multusconfig, ipam::Kind::multusconfig, true,
       "spidermultusconfigs.spiderpool.spidernet.io", "spidermultusconfig.spiderpool.spidernet.io"},
      // Allocations are per pod, but listed cluster-wide: they answer "who holds this IP?"
      {Resource::allocation, std::nullopt, false, "allocations", "allocation"},
      {Resource::nad, std::nullopt, true, "network-attachment-definitions.k8s.cni.cncf.io",
       "network-attachment-definition.k8s.cni.cncf.io"},
  }};
  return table;
}

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

bool strip_suffix(std::string& text, std::string_view suffix) {
  if (text.size() > suffix.size() + 1 && text.ends_with(suffix) &&
      text[text.size() - suffix.size() - 1] == '.') {
    text.resize(text.size() - suffix.size() - 1);
    return true;
  }
  return false;
}

std::optional<Resource> ipfence_resource(const std::string& name) {
  if (name == "allocations" || name == "allocation" || name == "alloc") {
    return Resource::allocation;
  }
  if (name == "network-attachment-definitions" || name == "network-attachment-definition" ||
      name == "net-attach-def" || name == "nad") {
    return Resource::nad;
  }
  return std::nullopt;
}

}  // namespace

Result<ResourceInfo> resolve_resource(std::string_view name) {
  std::string key = lower(name);
  std::optional<Resource> found;
  if (strip_suffix(key, kNadGroup)) {
    if (ipfence_resource(key) == Resource::nad) found = Resource::nad;
  } else if (std::optional<ipam::Kind> kind = ipam::kind_from_name(key)) {
    // The model knows the Spider kinds' names, plurals and group-qualified forms.
    found = resource_info(*kind).resource;
  } else {
    found = ipfence_resource(key);
  }
  if (!found) {
    return make_error(ErrorCode::invalid_argument,
                      "the server doesn't have a resource type \"" + std::string(name) + "\"");
  }
  return resource_info(*found);
}

const ResourceInfo& resource_info(Resource resource) {
  for (const auto& info : resources()) {
    if (info.resource == resource) return info;
  }
  return resources().front();  // unreachable: every Resource has a row
}

const ResourceInfo& resource_info(ipam::Kind kind) {
  for (const auto& info : resources()) {
    if (info.kind == kind) return info;
  }
  return resources().front();  // unreachable: every Kind has a row
}

std::string not_found_message(const ResourceInfo& info, const std::string& name) {
  return "Error from server (NotFound): " + info.qualified_plural + " \"" + name + "\" not found";
}

}  // namespace ipfence::ctl
