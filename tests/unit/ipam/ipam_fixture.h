// A MemoryStore with ObjectService and Allocator on top, and helpers to apply YAML.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "ipam/allocator.h"
#include "ipam/manifest.h"
#include "ipam/objects.h"
#include "ipam/store/memory_store.h"

namespace ipfence::ipam::testing {

class IpamFixture : public ::testing::Test {
 public:
  IpamFixture() : objects_(store_), allocator_(store_, Allocator::Options{.node = "node1"}) {}

  std::vector<ApplyResult> apply(const std::string& yaml) {
    auto parsed = parse_manifests(yaml);
    EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
    if (!parsed.ok()) return {};
    auto applied = objects_.apply(*parsed);
    EXPECT_TRUE(applied.ok()) << (applied.ok() ? "" : applied.error().message);
    return applied.ok() ? *applied : std::vector<ApplyResult>{};
  }

  Error apply_error(const std::string& yaml) {
    auto parsed = parse_manifests(yaml);
    if (!parsed.ok()) return parsed.error();
    auto applied = objects_.apply(*parsed);
    EXPECT_FALSE(applied.ok()) << "apply unexpectedly succeeded";
    return applied.ok() ? Error{} : applied.error();
  }

  static AllocateRequest request(const std::string& container, std::vector<std::string> v4,
                                 std::vector<std::string> v6 = {}) {
    AllocateRequest r;
    r.identity.container_id = container;
    r.identity.ifname = "eth0";
    r.identity.pod_namespace = "default";
    r.identity.pod_name = "pod-" + container;
    r.identity.network = "macvlan-ens192";
    r.ipv4_pools = std::move(v4);
    r.ipv6_pools = std::move(v6);
    return r;
  }

  // The single IP of a successful allocation, as text.
  std::string allocate_ip(const std::string& container, std::vector<std::string> v4) {
    auto result = allocator_.allocate(request(container, std::move(v4)));
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    if (!result.ok() || result->ips.empty()) return "";
    return result->ips.front().ip.to_string();
  }

  store::MemoryStore store_;
  ObjectService objects_;
  Allocator allocator_;
};

inline constexpr const char* kSeedReserved = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderReservedIP
metadata:
  name: test-reservedip
spec:
  ips:
  - 10.6.168.131-10.6.168.132
)";

inline constexpr const char* kSeedPool = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: test-ippool
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.168.131-10.6.168.133
)";

}  // namespace ipfence::ipam::testing
