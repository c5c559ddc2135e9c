// The guard caches its judgements per CPU (bpf/judge_cache.h). These cases first make the
// program judge a frame often enough that the answer is cached (BPF_PROG_TEST_RUN with a
// repeat), then change one map judge() reads through the Guard API and expect the very next
// frame to be judged by the new state: the generation bump in guard_sync.cpp is what makes
// them pass. They also check that a cached drop is still counted and still obeys the mode.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "agent/unique_fd.h"
#include "tests/bpf/guard_world.h"
#include "tests/bpf/test_env.h"

namespace ipfence::testing {
namespace {

using datapath::Mode;

constexpr int kRepeat = 8;  // the first run fills the slot, the others hit it

class GuardJudgeCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { open_private_guard(guard_, world_); }

  std::uint32_t verdict(const Bytes& frame, int repeat = kRepeat) {
    const RunResult r = run_frame(guard_->prog_fd(), frame, repeat);
    EXPECT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN failed";
    return r.retval;
  }

  World world_ = standard_world();
  std::optional<Guard> guard_;
};

TEST_F(GuardJudgeCacheTest, ALeaseRemovedOrMovedToAnotherMacIsJudgedAnewAtOnce) {
  const Bytes frame = ipv4_frame({kPodA, {}}, ip("10.1.0.10"));
  ASSERT_EQ(verdict(frame), TC_ACT_OK);

  std::vector<datapath::Lease> without_a;
  for (const auto& l : world_.leases)
    if (l.ip != ip("10.1.0.10")) without_a.push_back(l);
  ASSERT_TRUE(guard_->set_leases(without_a).ok());
  EXPECT_EQ(verdict(frame, 1), TC_ACT_SHOT) << "released lease still passes (unallocated)";

  ASSERT_TRUE(guard_->set_leases(world_.leases).ok());
  EXPECT_EQ(verdict(frame), TC_ACT_OK) << "lease given back";

  auto moved = without_a;
  moved.push_back({ip("10.1.0.10"), kPodB.to_string()});
  ASSERT_TRUE(guard_->set_leases(moved).ok());
  const CounterMap before = snapshot(*guard_);
  EXPECT_EQ(verdict(frame, 1), TC_ACT_SHOT) << "lease moved to pod B still passes for A";
  const CounterMap got = delta(before, snapshot(*guard_));
  const CounterMap want{{{Reason::mac_mismatch, Verdict::dropped}, {1, frame.size()}}};
  EXPECT_EQ(got, want) << describe(got);
}

TEST_F(GuardJudgeCacheTest, PointWritesAreJudgedAnewAtOnceToo) {
  using Kind = datapath::MapEdit::Kind;
  const Bytes frame = ipv4_frame({kPodA, {}}, ip("10.1.0.10"));
  ASSERT_EQ(verdict(frame), TC_ACT_OK);
  ASSERT_TRUE(guard_->apply({{Kind::erase_lease, ip("10.1.0.10"), {}}}).ok());
  EXPECT_EQ(verdict(frame, 1), TC_ACT_SHOT) << "erased lease still passes (unallocated)";
  ASSERT_TRUE(guard_->apply({{Kind::put_lease, ip("10.1.0.10"), kPodA}}).ok());
  EXPECT_EQ(verdict(frame), TC_ACT_OK) << "lease put back";

  const Bytes node = ipv4_frame({kNode, {}}, ip("198.51.100.7"));  // outside every range
  ASSERT_EQ(verdict(node), TC_ACT_OK);
  ASSERT_TRUE(guard_->apply({{Kind::put_pod_mac, {}, kNode}}).ok());
  EXPECT_EQ(verdict(node, 1), TC_ACT_SHOT) << "a pod MAC with an address it does not hold";
  ASSERT_TRUE(guard_->apply({{Kind::erase_pod_mac, {}, kNode}}).ok());
  EXPECT_EQ(verdict(node), TC_ACT_OK) << "pod MAC erased";
}

TEST_F(GuardJudgeCacheTest, ReservedPoolAndPodMacChangesApplyToCachedPasses) {
  // Node traffic from outside every range: passed and cached.
  const Bytes node = ipv4_frame({kNode, {}}, ip("198.51.100.7"));
  ASSERT_EQ(verdict(node), TC_ACT_OK);

  auto reserved = world_.reserved;
  reserved.push_back(ipam::IpRange::parse("198.51.100.0/24").value());
  ASSERT_TRUE(guard_->set_reserved(reserved).ok());
  EXPECT_EQ(verdict(node, 1), TC_ACT_SHOT) << "reservation not applied to a cached pass";
  ASSERT_TRUE(guard_->set_reserved(world_.reserved).ok());
  EXPECT_EQ(verdict(node), TC_ACT_OK) << "reservation removed";

  auto pools = world_.pools;
  pools.push_back(ipam::IpRange::parse("198.51.100.0/25").value());
  ASSERT_TRUE(guard_->set_pools(pools).ok());
  EXPECT_EQ(verdict(node, 1), TC_ACT_SHOT) << "new pool not applied (unallocated)";
  ASSERT_TRUE(guard_->set_pools(world_.pools).ok());
  EXPECT_EQ(verdict(node), TC_ACT_OK) << "pool removed";

  auto macs = world_.pod_macs;
  macs.push_back(kNode.to_string());
  ASSERT_TRUE(guard_->set_pod_macs(macs).ok());
  EXPECT_EQ(verdict(node, 1), TC_ACT_SHOT) << "a pod MAC with an address it does not hold";
}

TEST_F(GuardJudgeCacheTest, CachedDropsAreCountedEveryTimeAndFollowTheMode) {
  const Bytes frame = ipv4_frame({kPodA, {}}, ip("10.1.0.207"));  // reserved, no lease
  const CounterMap before = snapshot(*guard_);
  ASSERT_EQ(verdict(frame, 1000), TC_ACT_SHOT);
  CounterMap got = delta(before, snapshot(*guard_));
  CounterMap want{{{Reason::reserved, Verdict::dropped}, {1000, 1000 * frame.size()}}};
  EXPECT_EQ(got, want) << describe(got);

  ASSERT_TRUE(guard_->set_mode(test_iface(*guard_), Mode::monitor).ok());
  const CounterMap before_monitor = snapshot(*guard_);
  EXPECT_EQ(verdict(frame), TC_ACT_OK) << "monitor mode passes a cached drop";
  got = delta(before_monitor, snapshot(*guard_));
  want = {{{Reason::reserved, Verdict::monitored}, {kRepeat, kRepeat * frame.size()}}};
  EXPECT_EQ(got, want) << describe(got);
}

// The slot of an address as bpf/judge_cache.h computes it (x86-64 byte order). If that
// function changes, the two addresses below may land in different slots: the case still
// holds, it just no longer collides.
std::uint32_t judge_slot(const ipam::IpAddress& a) {
  const auto bytes = a.to_bytes();
  std::uint32_t w = 0;
  std::memcpy(&w, bytes.data(), 4);
  return (w * 0x9E3779B1u) >> (32 - 9);
}

TEST_F(GuardJudgeCacheTest, TwoAddressesInOneSlotKeepTheirOwnVerdicts) {
  // Two addresses that share a slot, leased to pods A and B. (The addresses of one /24 all
  // have slots of their own: the multiply spreads the last octet over the slot bits.)
  const auto first = ip("10.1.0.20");
  std::vector<ipam::IpAddress> pair;
  for (std::uint32_t i = 256; i < 65'536 && pair.empty(); ++i) {
    const auto other = ipam::IpAddress::v4((10u << 24) | (1u << 16) | i);
    if (judge_slot(other) == judge_slot(first)) pair = {first, other};
  }
  ASSERT_EQ(pair.size(), 2u) << "no address in 10.1.0.0/16 shares a slot with "
                             << first.to_string();
  auto leases = world_.leases;
  leases.push_back({pair[0], kPodA.to_string()});
  leases.push_back({pair[1], kPodB.to_string()});
  ASSERT_TRUE(guard_->set_leases(leases).ok());

  const Bytes a_own = ipv4_frame({kPodA, {}}, pair[0]);
  const Bytes b_own = ipv4_frame({kPodB, {}}, pair[1]);
  const Bytes a_takes_b = ipv4_frame({kPodA, {}}, pair[1]);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    EXPECT_EQ(verdict(a_own), TC_ACT_OK);
    EXPECT_EQ(verdict(a_takes_b), TC_ACT_SHOT);
    EXPECT_EQ(verdict(b_own), TC_ACT_OK);
  }
}

// The generation is pinned beside the other maps, so that a guard still attached from an
// earlier agent run (a pod's, say) sees the syncs of the agent that adopted its pins.
TEST(GuardJudgeGeneration, IsPinnedSharedByAdoptersAndMovesOnEverySync) {
  PrivateBpffs bpffs;
  ASSERT_TRUE(bpffs.ok()) << bpffs.error();
  datapath::GuardOptions o;
  o.pin_dir = bpffs.pin_dir();
  auto first = Guard::open(o);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const std::string path = bpffs.pin_dir() + "/ipf_judge_gen";
  agent::UniqueFd gen_fd(bpf_obj_get(path.c_str()));
  ASSERT_TRUE(gen_fd) << path << " not pinned";
  auto gen = [&] {
    const __u32 key = 0;
    __u64 value = 0;
    EXPECT_EQ(bpf_map_lookup_elem(gen_fd.get(), &key, &value), 0);
    return value;
  };
  const World w = standard_world();
  load_world(*first, w);
  const __u64 after_first = gen();
  EXPECT_EQ(after_first, 4u) << "one step per sync (pools, reserved, leases, pod MACs)";

  auto second = Guard::open(o);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(gen(), after_first) << "adopted, not started over";
  ASSERT_TRUE(second->set_leases({}).ok());
  EXPECT_EQ(gen(), after_first + 1);
}

TEST(GuardJudgeGeneration, PrivateMapsPinNothing) {
  datapath::GuardOptions o;
  o.pin_dir.clear();
  auto guard = Guard::open(o);
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  ASSERT_TRUE(guard->set_leases({}).ok());
  // libbpf's default pin root: where a map pinned by name lands without a pin_root_path.
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/bpf/ipf_judge_gen"));
}

}  // namespace
}  // namespace ipfence::testing
