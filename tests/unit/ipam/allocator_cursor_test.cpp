// Where next-fit starts per node (next_fit_cursor.h, Options::spread_cursors): nodes sharing
// a store start at different points of a pool, stably, and so do not race for one IP.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "allocator_flaky_store.h"
#include "ipam/allocator.h"
#include "ipam/next_fit_cursor.h"
#include "ipam_fixture.h"

namespace ipfence::ipam::testing {
namespace {

constexpr const char* kThousand = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: cluster-pool}
spec: {subnet: 10.20.0.0/16, ips: [10.20.0.1-10.20.3.232]}
)";

IpAddress v4(const std::string& text) {
  return *IpAddress::parse(text);
}

TEST(NextFitCursorTest, HashIsTheSameOnEveryMachine) {
  // Pinned: agents of different builds on different nodes must agree on nothing, but a
  // node must keep its own point across upgrades so a restart does not jump around.
  EXPECT_EQ(cursor_hash("node1", "p"), 12093156479716281196ull);
  EXPECT_NE(cursor_hash("node1", "p"), cursor_hash("node2", "p"));
  EXPECT_NE(cursor_hash("node1", "p"), cursor_hash("node1", "q"));
  EXPECT_NE(cursor_hash("a", "bc"), cursor_hash("ab", "c"));
}

TEST(NextFitCursorTest, NthMemberWalksIntervals) {
  IpSet set;
  set.insert(10, 12);
  set.insert(20, 21);
  EXPECT_EQ(nth_member(set, 0), u128(10));
  EXPECT_EQ(nth_member(set, 2), u128(12));
  EXPECT_EQ(nth_member(set, 3), u128(20));
  EXPECT_EQ(nth_member(set, 4), u128(21));
  EXPECT_EQ(nth_member(set, 5), std::nullopt);
  EXPECT_EQ(nth_member(IpSet{}, 0), std::nullopt);
}

TEST(NextFitCursorTest, CursorSitsJustBeforeTheChosenMemberModuloTheSize) {
  IpSet set;
  set.insert(10, 12);
  set.insert(20, 21);
  EXPECT_EQ(cursor_at(set, 3), u128(19));
  EXPECT_EQ(cursor_at(set, 5 + 3), u128(19));  // wraps
  EXPECT_EQ(cursor_at(IpSet{}, 3), std::nullopt);
  IpSet zero;
  zero.insert(0, 3);
  EXPECT_EQ(cursor_at(zero, 0), std::nullopt);  // next-fit from the start anyway
  EXPECT_EQ(index_at_fraction(set, 0.0), u128(0));
  EXPECT_EQ(index_at_fraction(set, 0.5), u128(2));
  EXPECT_EQ(index_at_fraction(set, 1.0), u128(4));
}

class AllocatorCursorTest : public IpamFixture {
 public:
  AllocatorCursorTest() { apply(kThousand); }

  // The pool's usable IP at the node's hashed position.
  static std::string hashed_start(const std::string& node) {
    const u128 index = u128(cursor_hash(node, "cluster-pool")) % 1000;
    return IpAddress(IpFamily::v4, v4("10.20.0.1").value() + index).to_string();
  }
};

TEST_F(AllocatorCursorTest, NodesSharingAStoreStartAtTheirOwnPointOfThePool) {
  std::set<std::string> firsts;
  for (int n = 1; n <= 4; ++n) {
    const std::string node = "node" + std::to_string(n);
    Allocator allocator(store_, Allocator::Options{.node = node, .spread_cursors = true});
    auto r = allocator.allocate(request("first-" + node, {"cluster-pool"}));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->ips[0].ip.to_string(), hashed_start(node)) << node;
    firsts.insert(r->ips[0].ip.to_string());
  }
  EXPECT_EQ(firsts.size(), 4u);
}

TEST_F(AllocatorCursorTest, ANodeResumesAfterItsOwnNewestAllocation) {
  std::string last;
  {
    Allocator node1(store_, Allocator::Options{.node = "node1", .spread_cursors = true});
    for (int i = 0; i < 3; ++i)
      last =
          node1.allocate(request("a" + std::to_string(i), {"cluster-pool"}))->ips[0].ip.to_string();
  }
  // node2 allocates meanwhile; node1 restarts: it goes on after its own newest, not node2's.
  Allocator node2(store_, Allocator::Options{.node = "node2", .spread_cursors = true});
  ASSERT_TRUE(node2.allocate(request("b", {"cluster-pool"})).ok());
  Allocator restarted(store_, Allocator::Options{.node = "node1", .spread_cursors = true});
  auto next = restarted.allocate(request("a3", {"cluster-pool"}));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->ips[0].ip.value(), v4(last).value() + 1);
}

TEST_F(AllocatorCursorTest, WithoutSpreadingAOneNodeStoreStartsAtTheFirstIp) {
  EXPECT_EQ(allocate_ip("a", {"cluster-pool"}), "10.20.0.1");
  EXPECT_EQ(allocate_ip("b", {"cluster-pool"}), "10.20.0.2");
}

TEST_F(AllocatorCursorTest, ExplicitFractionOverridesTheHash) {
  Allocator half(store_, Allocator::Options{.node = "node1", .cursor_offset = 0.5});
  auto r = half.allocate(request("a", {"cluster-pool"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ips[0].ip.value(), v4("10.20.0.1").value() + 500);
}

// Two nodes whose views lag behind each other (the watch has not delivered yet): starting at
// the first free IP, the second node loses a race for every IP the first one took; started
// apart, it wins at once.
TEST_F(AllocatorCursorTest, SpreadNodesDoNotRaceWhenTheirViewsLag) {
  auto second_node_commits = [&](bool spread) {
    store::MemoryStore store;
    ObjectService objects(store);
    EXPECT_TRUE(objects.apply(*parse_manifests(kThousand)).ok());
    FlakyStore link1(store), link2(store);
    Allocator node1(link1, Allocator::Options{.node = "node1", .spread_cursors = spread});
    Allocator node2(link2, Allocator::Options{.node = "node2", .spread_cursors = spread});
    EXPECT_TRUE(node1.catch_up().ok());
    EXPECT_TRUE(node2.catch_up().ok());
    link2.set_watch_paused(true);
    for (int i = 0; i < 5; ++i)
      EXPECT_TRUE(node1.allocate(request("a" + std::to_string(i), {"cluster-pool"})).ok());
    auto r = node2.allocate(request("b", {"cluster-pool"}));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return link2.commits();
  };
  EXPECT_EQ(second_node_commits(true), 1);
  EXPECT_GT(second_node_commits(false), 1);
}

}  // namespace
}  // namespace ipfence::ipam::testing
