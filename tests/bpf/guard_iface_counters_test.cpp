// Where the guard counts (bpf/iface_cache.h, agent/datapath/guard_iface.cpp): an interface
// with a config entry has a counter row of its own in ipf_iface_ctr; one without (or past the
// last row) is counted per key in ipf_counters; Guard::counters() adds both up. These cases
// read the raw maps to check which one a frame went to, and run frames often enough that the
// program's per-CPU caches are filled before a setting changes.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <vector>

#include "bpf/abi.h"
#include "tests/bpf/guard_world.h"
#include "tests/bpf/test_env.h"

namespace ipfence::testing {
namespace {

using datapath::GuardMap;
using datapath::IfaceKey;
using datapath::Mode;
using datapath::ReservedPolicy;

constexpr int kRepeat = 8;

std::optional<ipf_iface_config> raw_config(const Guard& guard, const IfaceKey& iface) {
  const ipf_iface_key key{iface.netns_cookie, iface.ifindex, 0};
  ipf_iface_config cfg{};
  if (bpf_map_lookup_elem(guard.map_fd(GuardMap::iface_config), &key, &cfg) != 0)
    return std::nullopt;
  return cfg;
}

// Packets in ipf_counters (the per-key map) for `iface`, over every reason and CPU.
std::uint64_t hash_packets(const Guard& guard, const IfaceKey& iface) {
  const int fd = guard.map_fd(GuardMap::counters);
  std::vector<ipf_counter> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  std::uint64_t total = 0;
  ipf_counter_key key{};
  ipf_counter_key next{};
  const ipf_counter_key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (key.netns_cookie != iface.netns_cookie || key.ifindex != iface.ifindex) continue;
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0) continue;
    for (const ipf_counter& c : per_cpu) total += c.packets;
  }
  return total;
}

// Packets in one row of ipf_iface_ctr, over every reason, verdict and CPU.
std::uint64_t row_packets(const Guard& guard, __u16 row) {
  std::vector<ipf_iface_counters> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  const __u32 key = row;
  EXPECT_EQ(bpf_map_lookup_elem(guard.map_fd(GuardMap::iface_counters), &key, per_cpu.data()), 0);
  std::uint64_t total = 0;
  for (const ipf_iface_counters& cpu : per_cpu)
    for (const auto& by_reason : cpu.by)
      for (const ipf_counter& c : by_reason) total += c.packets;
  return total;
}

class GuardIfaceCountersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    open_private_guard(guard_, world_);
    if (HasFatalFailure()) return;
    iface_ = test_iface(*guard_);
  }

  std::uint32_t run(int repeat = kRepeat) {
    const RunResult r = run_frame(guard_->prog_fd(), reserved_frame_, repeat);
    EXPECT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN failed";
    return r.retval;
  }

  CounterMap reserved(Verdict verdict, std::uint64_t packets) const {
    return {{{Reason::reserved, verdict}, {packets, packets * reserved_frame_.size()}}};
  }

  World world_ = standard_world();
  std::optional<Guard> guard_;
  IfaceKey iface_;
  const Bytes reserved_frame_ = ipv4_frame({kPodA, {}}, ip("10.1.0.207"));  // reserved, no lease
};

TEST_F(GuardIfaceCountersTest, AnInterfaceWithAnEntryCountsInItsOwnRow) {
  ASSERT_TRUE(guard_->set_mode(iface_, Mode::enforce).ok());
  const auto cfg = raw_config(*guard_, iface_);
  ASSERT_TRUE(cfg.has_value());
  ASSERT_NE(cfg->counter_slot, 0) << "set_mode gives the interface a row";

  EXPECT_EQ(run(100), TC_ACT_SHOT);
  EXPECT_EQ(row_packets(*guard_, cfg->counter_slot), 100u);
  EXPECT_EQ(hash_packets(*guard_, iface_), 0u) << "nothing in the per-key map";
  const CounterMap got = snapshot(*guard_);
  EXPECT_EQ(got, reserved(Verdict::dropped, 100)) << describe(got);
}

TEST_F(GuardIfaceCountersTest, AnInterfaceWithoutAnEntryCountsPerKeyAndBothAddUp) {
  ASSERT_FALSE(raw_config(*guard_, iface_).has_value());
  EXPECT_EQ(run(5), TC_ACT_SHOT);
  EXPECT_EQ(hash_packets(*guard_, iface_), 5u);

  // Given a row, the next frames go there (the cached "no entry" is dropped at once), and
  // the reader adds the two maps up.
  ASSERT_TRUE(guard_->set_mode(iface_, Mode::enforce).ok());
  EXPECT_EQ(run(7), TC_ACT_SHOT);
  EXPECT_EQ(hash_packets(*guard_, iface_), 5u);
  EXPECT_EQ(row_packets(*guard_, raw_config(*guard_, iface_)->counter_slot), 7u);
  const CounterMap got = snapshot(*guard_);
  EXPECT_EQ(got, reserved(Verdict::dropped, 12)) << describe(got);
}

TEST_F(GuardIfaceCountersTest, ModeAndPolicyChangesApplyToTheNextFrameDespiteTheCache) {
  ASSERT_TRUE(guard_->set_mode(iface_, Mode::enforce).ok());
  ASSERT_EQ(run(), TC_ACT_SHOT);
  ASSERT_TRUE(guard_->set_mode(iface_, Mode::monitor).ok());
  EXPECT_EQ(run(1), TC_ACT_OK) << "monitor mode at once";
  ASSERT_TRUE(guard_->set_mode(iface_, Mode::enforce).ok());
  EXPECT_EQ(run(1), TC_ACT_SHOT) << "enforce again at once";

  // Pod C holds a grandfathered lease on a reserved address (standard_world()).
  const Bytes grandfathered = ipv4_frame({kPodC, {}}, ip("10.1.0.205"));
  ASSERT_EQ(run_frame(guard_->prog_fd(), grandfathered, kRepeat).retval, TC_ACT_OK);
  ASSERT_TRUE(guard_->set_reserved_policy(iface_, ReservedPolicy::drop).ok());
  EXPECT_EQ(run_frame(guard_->prog_fd(), grandfathered, 1).retval, TC_ACT_SHOT)
      << "policy drop at once";
}

TEST_F(GuardIfaceCountersTest, ARowGivenToAnotherInterfaceStartsFromZero) {
  ASSERT_TRUE(guard_->set_mode(iface_, Mode::enforce).ok());
  const __u16 row = raw_config(*guard_, iface_)->counter_slot;
  ASSERT_EQ(run(10), TC_ACT_SHOT);
  ASSERT_EQ(row_packets(*guard_, row), 10u);

  ASSERT_TRUE(guard_->forget(iface_).ok());
  EXPECT_TRUE(snapshot(*guard_).empty()) << "a forgotten interface has no counters";
  const IfaceKey other = guard_->own_iface(4242);
  ASSERT_TRUE(guard_->set_mode(other, Mode::monitor).ok());
  EXPECT_EQ(raw_config(*guard_, other)->counter_slot, row) << "the lowest free row";
  EXPECT_EQ(row_packets(*guard_, row), 0u) << "zeroed when given out";
  EXPECT_TRUE(snapshot(*guard_, other).empty());

  // The first interface, configured again, gets a fresh row and counts from zero; its old
  // counts do not show up under the other one.
  ASSERT_TRUE(guard_->set_mode(iface_, Mode::enforce).ok());
  EXPECT_NE(raw_config(*guard_, iface_)->counter_slot, row);
  EXPECT_EQ(run(3), TC_ACT_SHOT);
  CounterMap got = snapshot(*guard_);
  EXPECT_EQ(got, reserved(Verdict::dropped, 3)) << describe(got);
  EXPECT_TRUE(snapshot(*guard_, other).empty());
}

TEST_F(GuardIfaceCountersTest, WhenEveryRowIsTakenAnInterfaceCountsPerKey) {
  const std::uint32_t rows = guard_->map_capacity(GuardMap::iface_counters);
  ASSERT_EQ(rows, static_cast<std::uint32_t>(IPF_IFACE_COUNTER_SLOTS));
  std::set<__u16> given;
  for (std::uint32_t i = 1; i < rows; ++i) {
    const IfaceKey other = guard_->own_iface(10'000 + i);
    ASSERT_TRUE(guard_->set_mode(other, Mode::enforce).ok());
    given.insert(raw_config(*guard_, other)->counter_slot);
  }
  EXPECT_EQ(given.size(), rows - 1) << "every row given once";
  EXPECT_FALSE(given.contains(0));

  ASSERT_TRUE(guard_->set_mode(iface_, Mode::enforce).ok());
  EXPECT_EQ(raw_config(*guard_, iface_)->counter_slot, 0) << "no row left";
  EXPECT_EQ(run(4), TC_ACT_SHOT);
  EXPECT_EQ(hash_packets(*guard_, iface_), 4u);
  const CounterMap got = snapshot(*guard_);
  EXPECT_EQ(got, reserved(Verdict::dropped, 4)) << describe(got);
}

TEST(GuardIfaceRows, EntriesWithoutARowGetOneWhenAGuardAdoptsThem) {
  PrivateBpffs bpffs;
  ASSERT_TRUE(bpffs.ok()) << bpffs.error();
  datapath::GuardOptions options;
  options.pin_dir = bpffs.pin_dir();
  const ipf_iface_key old_key{1234, 7, 0};
  {
    auto first = Guard::open(options);
    ASSERT_TRUE(first.ok()) << first.error().message;
    // As an agent from before counter rows wrote it: the row bytes were padding, zero.
    const ipf_iface_config old_entry{IPF_MODE_MONITOR, IPF_POLICY_DROP, 0};
    ASSERT_EQ(
        bpf_map_update_elem(first->map_fd(GuardMap::iface_config), &old_key, &old_entry, BPF_ANY),
        0);
  }
  auto adopted = Guard::open(options);
  ASSERT_TRUE(adopted.ok()) << adopted.error().message;
  const auto cfg = raw_config(*adopted, {old_key.netns_cookie, old_key.ifindex});
  ASSERT_TRUE(cfg.has_value());
  EXPECT_NE(cfg->counter_slot, 0);
  EXPECT_EQ(cfg->mode, IPF_MODE_MONITOR) << "mode and policy kept";
  EXPECT_EQ(cfg->reserved_policy, IPF_POLICY_DROP);
}

}  // namespace
}  // namespace ipfence::testing
