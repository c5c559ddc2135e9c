// What a user may name on the command line ("sp", "spiderippools.spiderpool.spidernet.io",
// "alloc", ...) and how kubectl names each resource in its messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ipam/model.h"
#include "ipam/result.h"

namespace ipfence::ctl {

enum class Resource {
  ippool,        // SpiderIPPool
  reservedip,    // SpiderReservedIP
  multusconfig,  // SpiderMultusConfig
  allocation,    // one allocated IP (ipfence's record; Spiderpool keeps these in pool status)
  nad,           // the NetworkAttachmentDefinition rendered from a SpiderMultusConfig
};

struct ResourceInfo {
  Resource resource;
  std::optional<ipam::Kind> kind;  // for the Spider kinds
  bool namespaced = false;
  // kubectl's "<plural>.<group>", as in NotFound errors: "spiderippools.spiderpool.spidernet.io"
  std::string qualified_plural;
  // kubectl's "<singular>.<group>", as in "spiderippool.spiderpool.spidernet.io/test-ippool"
  std::string qualified_singular;
};

// Accepts kinds, singular and plural resource names, short names, and any of those qualified
// with the API group ("spidermultusconfigs.spiderpool.spidernet.io"), case-insensitively.
// Unknown: kubectl's `the server doesn't have a resource type "x"`.
Result<ResourceInfo> resolve_resource(std::string_view name);

const ResourceInfo& resource_info(Resource resource);
const ResourceInfo& resource_info(ipam::Kind kind);

// Error from server (NotFound): spiderippools.spiderpool.spidernet.io "x" not found
std::string not_found_message(const ResourceInfo& info, const std::string& name);

}  // namespace ipfence::ctl
