#include "ipam/objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipam_fixture.h"

namespace ipfence::ipam::testing {
namespace {

using ::testing::HasSubstr;

class ObjectsTest : public IpamFixture {};

TEST_F(ObjectsTest, ApplyReportsCreatedUnchangedConfigured) {
  auto created = apply(kSeedReserved);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].message(),
            "spiderreservedip.spiderpool.spidernet.io/test-reservedip created");
  EXPECT_EQ(apply(kSeedReserved)[0].message(),
            "spiderreservedip.spiderpool.spidernet.io/test-reservedip unchanged");
  auto changed = apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderReservedIP
metadata: {name: test-reservedip}
spec: {ips: [10.6.168.131]}
)");
  EXPECT_EQ(changed[0].message(),
            "spiderreservedip.spiderpool.spidernet.io/test-reservedip configured");
}

TEST_F(ObjectsTest, CreateKeepsUidAndTimestampAcrossUpdates) {
  apply(kSeedPool);
  auto before = objects_.get(Kind::ippool, "", "test-ippool");
  ASSERT_TRUE(before.ok());
  std::string uid = object_meta(*before).uid;
  EXPECT_EQ(uid.size(), 36u);
  EXPECT_FALSE(object_meta(*before).creation_timestamp.empty());
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: test-ippool}
spec: {subnet: 10.6.0.0/16, ips: [10.6.168.131-10.6.168.134]}
)");
  auto after = objects_.get(Kind::ippool, "", "test-ippool");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(object_meta(*after).uid, uid);
  EXPECT_GT(object_meta(*after).resource_version, object_meta(*before).resource_version);
}

TEST_F(ObjectsTest, BatchIsAllOrNothing) {
  Error error = apply_error(std::string(kSeedReserved) + "---\n" + R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: bad}
spec: {subnet: 10.6.0.0/16, ips: [10.7.0.1]}
)");
  EXPECT_EQ(error.code, ErrorCode::invalid_argument);
  EXPECT_THAT(error.message, HasSubstr("document 1 (SpiderIPPool bad)"));
  auto listed = objects_.list(Kind::reservedip);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "the valid first document must not be applied";
}

TEST_F(ObjectsTest, DuplicateNamesInOneBatchAreRefused) {
  Error error = apply_error(std::string(kSeedPool) + "---\n" + kSeedPool);
  EXPECT_EQ(error.message,
            "document 1: spiderippool.spiderpool.spidernet.io/test-ippool appears more than once "
            "in this apply");
}

TEST_F(ObjectsTest, OverlappingPoolsAreRefused) {
  apply(kSeedPool);
  Error error = apply_error(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: other}
spec: {subnet: 10.6.168.0/24, ips: [10.6.168.133-10.6.168.140]}
)");
  EXPECT_EQ(error.code, ErrorCode::invalid_argument);
  EXPECT_EQ(error.message,
            "document 0 (SpiderIPPool other): spec.ips overlaps IPPool test-ippool at "
            "10.6.168.133; an IP can belong to one pool only, so remove it from one of them");
}

TEST_F(ObjectsTest, SubnetIsImmutable) {
  apply(kSeedPool);
  Error error = apply_error(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: test-ippool}
spec: {subnet: 10.6.168.0/24, ips: [10.6.168.131-10.6.168.133]}
)");
  EXPECT_EQ(error.message,
            "document 0 (SpiderIPPool test-ippool): spec.subnet is immutable (10.6.0.0/16 -> "
            "10.6.168.0/24); create a new SpiderIPPool instead");
}

TEST_F(ObjectsTest, RemovingAnAllocatedIpIsRefusedAndNamesTheHolder) {
  apply(kSeedPool);
  EXPECT_EQ(allocate_ip("c1", {"test-ippool"}), "10.6.168.131");
  Error error = apply_error(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: test-ippool}
spec: {subnet: 10.6.0.0/16, ips: [10.6.168.132-10.6.168.133]}
)");
  EXPECT_EQ(error.code, ErrorCode::in_use);
  EXPECT_EQ(error.message,
            "document 0 (SpiderIPPool test-ippool): cannot remove 10.6.168.131 from the pool: it "
            "is allocated to pod default/pod-c1 (container c1, interface eth0); delete that pod "
            "first, or keep the IP in spec.ips");
}

TEST_F(ObjectsTest, DeletingAPoolWithAllocationsIsRefusedWithTheCount) {
  apply(kSeedPool);
  allocate_ip("c1", {"test-ippool"});
  allocate_ip("c2", {"test-ippool"});
  auto removed = objects_.remove(Kind::ippool, "", "test-ippool");
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, ErrorCode::in_use);
  EXPECT_THAT(removed.error().message, HasSubstr("IPPool test-ippool still has 2 allocated IP(s)"));
  ASSERT_TRUE(allocator_.release("c1", "eth0").ok());
  ASSERT_TRUE(allocator_.release("c2", "eth0").ok());
  auto now = objects_.remove(Kind::ippool, "", "test-ippool");
  ASSERT_TRUE(now.ok()) << now.error().message;
  EXPECT_EQ(now->message(), "spiderippool.spiderpool.spidernet.io/test-ippool deleted");
}

TEST_F(ObjectsTest, MissingObjectsSayNotFoundLikeKubectl) {
  auto got = objects_.get(Kind::reservedip, "", "nope");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::not_found);
  EXPECT_EQ(got.error().message, "spiderreservedips.spiderpool.spidernet.io \"nope\" not found");
  auto removed = objects_.remove(Kind::ippool, "", "nope");
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, ErrorCode::not_found);
}

TEST_F(ObjectsTest, PatchCannotRename) {
  apply(kSeedPool);
  auto patched = objects_.patch(Kind::ippool, "", "test-ippool",
                                nlohmann::json::parse(R"({"metadata":{"name":"other"}})"));
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.error().message, "a patch cannot change an object's kind or metadata.name");
}

TEST_F(ObjectsTest, PoolStatusInSpiderpoolShape) {
  apply(kSeedReserved);
  apply(kSeedPool);
  allocate_ip("c1", {"test-ippool"});
  auto state = objects_.load_state();
  ASSERT_TRUE(state.ok());
  nlohmann::json status = ObjectService::pool_status(*state, "test-ippool");
  EXPECT_EQ(status["totalIPCount"], 3);
  EXPECT_EQ(status["allocatedIPCount"], 1);
  EXPECT_EQ(status["reservedIPCount"], 2);
  EXPECT_EQ(status["availableIPCount"], 0);
  EXPECT_EQ(status["allocatedIPs"]["10.6.168.133"]["pod"], "default/pod-c1");
}

TEST_F(ObjectsTest, MultusConfigDefaultsToDefaultNamespace) {
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderMultusConfig
metadata: {name: macvlan-veth0}
spec: {cniType: macvlan, macvlan: {master: [veth0]}}
)");
  auto got = objects_.get(Kind::multusconfig, "default", "macvlan-veth0");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(std::get<SpiderMultusConfig>(*got).spec.macvlan.master,
            std::vector<std::string>{"veth0"});
}

}  // namespace
}  // namespace ipfence::ipam::testing
