// Pinned maps: where they may live, and what the guard does with pins it did not expect
// (another size: adopt it and warn; the config and counters of the layout before
// per-namespace keys: replace them; any other layout: refuse, naming the pin).
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/datapath/bpf_map.h"
#include "agent/unique_fd.h"
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
  for (const char* name :
       {"ipf_leases", "ipf_resv_v4", "ipf_resv_v6", "ipf_pool_v4", "ipf_pool_v6", "ipf_pod_macs",
        "ipf_iface_cfg", "ipf_counters", "ipf_iface_ctr", "ipf_judge_gen"}) {
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

// An agent from before per-namespace keys pinned ipf_iface_cfg keyed by a bare ifindex and
// ipf_counters keyed by {ifindex, reason, verdict} (8 bytes). Both are replaced instead of
// refused: the masters' settings carried over to this namespace, the counts started over
// (agent/datapath/guard_upgrade.h).
TEST_F(GuardPinTest, ConfigAndCountersPinnedBeforePerNamespaceKeysAreReplaced) {
  ASSERT_EQ(::mkdir(bpffs_.pin_dir().c_str(), 0700), 0);
  const std::string cfg_path = bpffs_.pin_dir() + "/ipf_iface_cfg";
  const std::string counters_path = bpffs_.pin_dir() + "/ipf_counters";
  {
    agent::UniqueFd cfg(bpf_map_create(BPF_MAP_TYPE_HASH, "ipf_iface_cfg", sizeof(__u32),
                                       sizeof(ipf_iface_config), 1024, nullptr));
    ASSERT_TRUE(cfg);
    const __u32 master = 7;
    const ipf_iface_config monitor_drop{IPF_MODE_MONITOR, IPF_POLICY_DROP, 0};
    ASSERT_EQ(bpf_map_update_elem(cfg.get(), &master, &monitor_drop, BPF_ANY), 0);
    ASSERT_EQ(bpf_obj_pin(cfg.get(), cfg_path.c_str()), 0);

    agent::UniqueFd counters(bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "ipf_counters", 8,
                                            sizeof(ipf_counter), 8192, nullptr));
    ASSERT_TRUE(counters);
    const std::uint8_t old_key[8] = {7, 0, 0, 0, IPF_REASON_RESERVED, IPF_VERDICT_DROPPED, 0, 0};
    std::vector<ipf_counter> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()),
                                     ipf_counter{5, 500});
    ASSERT_EQ(bpf_map_update_elem(counters.get(), old_key, per_cpu.data(), BPF_ANY), 0);
    ASSERT_EQ(bpf_obj_pin(counters.get(), counters_path.c_str()), 0);
  }

  auto guard = Guard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  ASSERT_EQ(guard->warnings().size(), 2u);
  EXPECT_NE(guard->warnings()[0].find(cfg_path + " had the layout from before per-namespace "
                                                 "keys (keyed by ifindex alone): replaced, 1 "
                                                 "master(s) carried over"),
            std::string::npos)
      << guard->warnings()[0];
  EXPECT_NE(guard->warnings()[1].find(counters_path), std::string::npos) << guard->warnings()[1];
  EXPECT_NE(guard->warnings()[1].find("its counts start from zero"), std::string::npos);
  const auto carried = guard->iface_config(guard->own_iface(7));
  ASSERT_TRUE(carried.ok()) << carried.error().message;
  EXPECT_EQ(carried->mode, datapath::Mode::monitor);
  EXPECT_EQ(carried->policy, datapath::ReservedPolicy::drop);
  EXPECT_TRUE(guard->counters().value().empty());

  // The pins are the new maps now, under their own names only.
  for (const auto& [path, map] : {std::pair{cfg_path, GuardMap::iface_config},
                                  std::pair{counters_path, GuardMap::counters}}) {
    agent::UniqueFd pinned(bpf_obj_get(path.c_str()));
    ASSERT_TRUE(pinned) << path;
    const auto info = datapath::map_info(pinned.get());
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->key_size, 16u) << path;
    EXPECT_EQ(info->id, guard->map_id(map)) << path;
    EXPECT_FALSE(std::filesystem::exists(path + "_replacing"));
  }

  // The next start adopts them as usual.
  auto again = Guard::open(options());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->warnings().empty());
  EXPECT_EQ(again->map_id(GuardMap::iface_config), guard->map_id(GuardMap::iface_config));
  EXPECT_EQ(again->iface_config(again->own_iface(7)).value().mode, datapath::Mode::monitor);
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
