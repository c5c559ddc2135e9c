// Pinned maps: where they may live, and what the guard does with pins it did not expect
// (another size: adopt it and warn; another layout: refuse, naming the pin).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/bpf/guard_world.h"
#include "tests/bpf/test_env.h"

namespace ipfence::testing {
namespace {

using datapath::GuardMap;

class GuardPinTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(bpffs_.ok()) << bpffs_.error(); }

  datapath::GuardOptions options() const {
    datapath::GuardOptions o;
    o.pin_dir = bpffs_.pin_dir();
    return o;
  }

  PrivateBpffs bpffs_;
};

TEST_F(GuardPinTest, PinDirMustBeOnBpffs) {
  char dir[] = "/tmp/ipfence-test-plain-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  datapath::GuardOptions o;
  o.pin_dir = dir;
  auto guard = Guard::open(o);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(guard.ok());
  EXPECT_EQ(guard.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(guard.error().message.find("bpf filesystem"), std::string::npos)
      << guard.error().message;
}

TEST_F(GuardPinTest, MapsArePinnedByNameAndAdoptedWithTheirContents) {
  {
    auto g1 = Guard::open(options());
    ASSERT_TRUE(g1.ok()) << g1.error().message;
    load_world(*g1, standard_world());
  }
  for (const char* name : {"ipf_leases", "ipf_resv_v4", "ipf_resv_v6", "ipf_pool_v4", "ipf_pool_v6",
                           "ipf_pod_macs", "ipf_iface_cfg", "ipf_counters"}) {
    EXPECT_TRUE(std::filesystem::exists(bpffs_.pin_dir() + "/" + name)) << name;
  }
  auto g2 = Guard::open(options());
  ASSERT_TRUE(g2.ok()) << g2.error().message;
  EXPECT_EQ(g2->leases().value().size(), standard_world().leases.size());
  // The adopted reserved ranges still flag new leases as grandfathered.
  ASSERT_TRUE(g2->set_leases({{ip("10.1.0.207"), kPodA.to_string()}}).ok());
  const auto leases = g2->leases();
  ASSERT_EQ(leases.value().size(), 1u);
  EXPECT_TRUE(leases.value()[0].reserved);
}

TEST_F(GuardPinTest, APinnedMapKeepsItsCapacityWithAWarning) {
  {
    auto small = options();
    small.capacities.leases = 1024;
    auto g1 = Guard::open(small);
    ASSERT_TRUE(g1.ok()) << g1.error().message;
    EXPECT_TRUE(g1->warnings().empty());
    EXPECT_EQ(g1->map_capacity(GuardMap::leases), 1024u);
  }
  auto g2 = Guard::open(options());  // configured 65536
  ASSERT_TRUE(g2.ok()) << g2.error().message;
  EXPECT_EQ(g2->map_capacity(GuardMap::leases), 1024u);
  ASSERT_EQ(g2->warnings().size(), 1u);
  EXPECT_NE(g2->warnings()[0].find("ipf_leases keeps its capacity 1024"), std::string::npos)
      << g2->warnings()[0];
}

TEST_F(GuardPinTest, APinnedMapWithAnotherLayoutIsRefused) {
  ASSERT_EQ(::mkdir(bpffs_.pin_dir().c_str(), 0700), 0);
  // An "older" ipf_leases whose value is 16 bytes instead of 8.
  const int fd =
      bpf_map_create(BPF_MAP_TYPE_HASH, "ipf_leases", sizeof(ipf_lease_key), 16, 64, nullptr);
  ASSERT_GE(fd, 0);
  const std::string path = bpffs_.pin_dir() + "/ipf_leases";
  ASSERT_EQ(bpf_obj_pin(fd, path.c_str()), 0);
  ::close(fd);
  auto guard = Guard::open(options());
  ASSERT_FALSE(guard.ok());
  EXPECT_EQ(guard.error().code, ErrorCode::corrupt);
  EXPECT_NE(guard.error().message.find(path), std::string::npos) << guard.error().message;
}

TEST(GuardOptionsCheck, RejectsZeroCapacitiesAndTcSlots) {
  datapath::GuardOptions o;
  o.pin_dir.clear();
  o.capacities.pod_macs = 0;
  EXPECT_EQ(Guard::open(o).error().code, ErrorCode::invalid_argument);
  o.capacities.pod_macs = 1;
  o.tc_priority = 0x10000;
  EXPECT_EQ(Guard::open(o).error().code, ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace ipfence::testing
