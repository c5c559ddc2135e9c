#include "ctl/resource.h"

#include <gtest/gtest.h>

namespace ipfence::ctl {
namespace {

TEST(ResolveResource, AcceptsKubectlNames) {
  struct Case {
    const char* name;
    Resource resource;
  };
  const Case cases[] = {
      {"spiderippool", Resource::ippool},
      {"spiderippools", Resource::ippool},
      {"sp", Resource::ippool},
      {"ippool", Resource::ippool},
      {"SpiderIPPool", Resource::ippool},
      {"spiderippools.spiderpool.spidernet.io", Resource::ippool},
      {"spiderreservedip", Resource::reservedip},
      {"sr", Resource::reservedip},
      {"reservedip", Resource::reservedip},
      {"spidermultusconfig", Resource::multusconfig},
      {"smc", Resource::multusconfig},
      {"spidermultusconfigs.spiderpool.spidernet.io", Resource::multusconfig},
      {"allocations", Resource::allocation},
      {"alloc", Resource::allocation},
      {"network-attachment-definitions.k8s.cni.cncf.io", Resource::nad},
      {"net-attach-def", Resource::nad},
  };
  for (const Case& c : cases) {
    Result<ResourceInfo> info = resolve_resource(c.name);
    ASSERT_TRUE(info.ok()) << c.name << ": " << info.error().message;
    EXPECT_EQ(info->resource, c.resource) << c.name;
  }
}

TEST(ResolveResource, UnknownIsKubectlsError) {
  Result<ResourceInfo> info = resolve_resource("pods");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().message, "the server doesn't have a resource type \"pods\"");
  EXPECT_FALSE(resolve_resource("sp.k8s.cni.cncf.io").ok());
  EXPECT_FALSE(resolve_resource("allocations.spiderpool.spidernet.io").ok());
}

TEST(ResourceInfo, NamesForMessages) {
  EXPECT_EQ(resource_info(ipam::Kind::reservedip).qualified_singular,
            "spiderreservedip.spiderpool.spidernet.io");
  EXPECT_TRUE(resource_info(ipam::Kind::multusconfig).namespaced);
  EXPECT_FALSE(resource_info(ipam::Kind::ippool).namespaced);
  EXPECT_EQ(not_found_message(resource_info(Resource::ippool), "x"),
            "Error from server (NotFound): spiderippools.spiderpool.spidernet.io \"x\" not found");
}

}  // namespace
}  // namespace ipfence::ctl
