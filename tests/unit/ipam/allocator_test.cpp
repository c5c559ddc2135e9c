#include "ipam/allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "ipam_fixture.h"

namespace ipfence::ipam::testing {
namespace {

using ::testing::HasSubstr;

class AllocatorTest : public IpamFixture {};

// The seed walk-through (shared/seed/reserved-ip.md), step by step.
TEST_F(AllocatorTest, SeedWalkThrough) {
  apply(kSeedReserved);
  apply(kSeedPool);

  // Two replicas: one gets the only unreserved IP, the other fails.
  EXPECT_EQ(allocate_ip("dv8xz", {"test-ippool"}), "10.6.168.133");
  auto second = allocator_.allocate(request("lpjgs", {"test-ippool"}));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::exhausted);
  EXPECT_EQ(second.error().message,
            "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)");

  // Reserving the IP a pod holds is allowed, warns with the holder, and keeps the pod's IP.
  auto patched =
      objects_.patch(Kind::reservedip, "", "test-reservedip",
                     nlohmann::json::parse(R"({"spec":{"ips":["10.6.168.131-10.6.168.133"]}})"));
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(patched->action, ApplyAction::configured);
  ASSERT_EQ(patched->warnings.size(), 1u);
  EXPECT_THAT(patched->warnings[0],
              HasSubstr("10.6.168.133 is allocated to pod default/pod-dv8xz"));
  auto held = allocator_.lookup("dv8xz", "eth0");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->ips.front().ip.to_string(), "10.6.168.133");
  ASSERT_TRUE(allocator_.catch_up().ok());
  PoolCounts counts = allocator_.state().counts("test-ippool");
  EXPECT_EQ(counts.allocated, 1u);
  EXPECT_EQ(counts.reserved_in_use, 1u);
  EXPECT_EQ(counts.reserved, 2u);
  EXPECT_EQ(counts.available, 0u);

  // The pod restarts: its IP is released and it cannot get one back.
  ASSERT_TRUE(allocator_.release("dv8xz", "eth0").ok());
  auto restarted = allocator_.allocate(request("fvx4m", {"test-ippool"}));
  ASSERT_FALSE(restarted.ok());
  EXPECT_EQ(restarted.error().message,
            "IPPool test-ippool: all IPs have been exhausted (3 IPs: 3 reserved)");

  // Deleting the reserved IP makes all three available again.
  ASSERT_TRUE(objects_.remove(Kind::reservedip, "", "test-reservedip").ok());
  std::set<std::string> got{allocate_ip("fvx4m", {"test-ippool"}),
                            allocate_ip("lpjgs", {"test-ippool"})};
  EXPECT_EQ(got.size(), 2u);
  for (const auto& ip : got) EXPECT_THAT(ip, HasSubstr("10.6.168.13"));
}

TEST_F(AllocatorTest, ReservedInUseMessageSaysWhy) {
  apply(kSeedReserved);
  apply(kSeedPool);
  EXPECT_EQ(allocate_ip("a", {"test-ippool"}), "10.6.168.133");
  ASSERT_TRUE(objects_
                  .patch(Kind::reservedip, "", "test-reservedip",
                         nlohmann::json::parse(R"({"spec":{"ips":["10.6.168.131-10.6.168.133"]}})"))
                  .ok());
  auto failed = allocator_.allocate(request("b", {"test-ippool"}));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message,
            "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated "
            "(1 of them reserved since))");
}

TEST_F(AllocatorTest, IdempotentPerAttachment) {
  apply(kSeedPool);
  auto first = allocator_.allocate(request("c1", {"test-ippool"}));
  auto again = allocator_.allocate(request("c1", {"test-ippool"}));
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_FALSE(first->existing);
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(first->ips.front().ip, again->ips.front().ip);
  EXPECT_EQ(allocator_.state().counts("test-ippool").allocated, 1u);
}

TEST_F(AllocatorTest, NextFitDoesNotReuseJustReleasedIp) {
  apply(kSeedPool);
  EXPECT_EQ(allocate_ip("a", {"test-ippool"}), "10.6.168.131");
  ASSERT_TRUE(allocator_.release("a", "eth0").ok());
  EXPECT_EQ(allocate_ip("b", {"test-ippool"}), "10.6.168.132");
  EXPECT_EQ(allocate_ip("c", {"test-ippool"}), "10.6.168.133");
  EXPECT_EQ(allocate_ip("d", {"test-ippool"}), "10.6.168.131");  // wraps
}

// A conflict probe's answer: the retried request skips the answered IPs, wrapping round the
// pool, and is exhausted only when every available IP is avoided.
TEST_F(AllocatorTest, AvoidedIpsAreSkippedUntilNoneIsLeft) {
  apply(kSeedPool);
  auto avoiding = [](std::string container, std::vector<std::string> ips) {
    AllocateRequest r = request(std::move(container), {"test-ippool"});
    for (const auto& ip : ips) r.avoid.push_back(*IpAddress::parse(ip));
    return r;
  };
  auto a = allocator_.allocate(avoiding("a", {"10.6.168.131", "10.6.168.132"}));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->ips.front().ip.to_string(), "10.6.168.133");
  // After .133 next-fit wraps to .131, which is avoided, then .132.
  auto b = allocator_.allocate(avoiding("b", {"10.6.168.131", "2001:db8::1"}));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->ips.front().ip.to_string(), "10.6.168.132");
  auto c = allocator_.allocate(avoiding("c", {"10.6.168.131"}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::exhausted);
  EXPECT_EQ(c.error().message,
            "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 allocated)");
  // A specific IP asked for is not subject to avoid (the caller decides about it).
  AllocateRequest d = avoiding("d", {"10.6.168.131"});
  d.ips = {"10.6.168.131"};
  auto got = allocator_.allocate(d);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->ips.front().ip.to_string(), "10.6.168.131");
}

TEST_F(AllocatorTest, ReleaseIsIdempotent) {
  apply(kSeedPool);
  allocate_ip("a", {"test-ippool"});
  auto first = allocator_.release("a", "eth0");
  auto second = allocator_.release("a", "eth0");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->released.size(), 1u);
  EXPECT_TRUE(second->released.empty());
  EXPECT_EQ(allocator_.state().counts("test-ippool").available, 3u);
}

TEST_F(AllocatorTest, TriesCandidatePoolsInOrder) {
  apply(kSeedReserved);
  apply(kSeedPool);
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: second}
spec: {subnet: 10.7.0.0/16, ips: [10.7.0.10-10.7.0.11]}
)");
  EXPECT_EQ(allocate_ip("a", {"test-ippool", "second"}), "10.6.168.133");
  EXPECT_EQ(allocate_ip("b", {"test-ippool", "second"}), "10.7.0.10");
  EXPECT_EQ(allocate_ip("c", {"missing", "second"}), "10.7.0.11");
  auto none = allocator_.allocate(request("d", {"test-ippool", "second"}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::exhausted);
  EXPECT_EQ(none.error().message,
            "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated); "
            "IPPool second: all IPs have been exhausted (2 IPs: 2 allocated)");
}

TEST_F(AllocatorTest, DualStackIsAllOrNothing) {
  apply(kSeedPool);
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: v6}
spec: {subnet: "fd00::/64", ips: ["fd00::10"], gateway: "fd00::1"}
)");
  auto both = allocator_.allocate(request("a", {"test-ippool"}, {"v6"}));
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_EQ(both->ips.size(), 2u);
  EXPECT_EQ(both->ips[0].ip.to_string(), "10.6.168.131");
  EXPECT_EQ(both->ips[0].address.length, 16);
  EXPECT_EQ(both->ips[1].ip.to_string(), "fd00::10");
  EXPECT_EQ(both->ips[1].address.length, 64);
  ASSERT_EQ(both->routes.size(), 1u);
  EXPECT_EQ(both->routes[0].dst, "::/0");
  EXPECT_EQ(both->routes[0].gw, "fd00::1");

  // The v6 pool is full: the v4 IP must not be taken either.
  auto failed = allocator_.allocate(request("b", {"test-ippool"}, {"v6"}));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::exhausted);
  EXPECT_EQ(allocator_.state().counts("test-ippool").allocated, 1u);
}

TEST_F(AllocatorTest, SpecificIpRefusedWithReason) {
  apply(kSeedReserved);
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: test-ippool}
spec:
  subnet: 10.6.0.0/16
  ips: [10.6.168.131-10.6.168.140]
  excludeIPs: [10.6.168.140]
)");
  auto want = [&](const std::string& container, const std::string& ip) {
    auto r = request(container, {"test-ippool"});
    r.ips = {ip};
    return allocator_.allocate(r);
  };
  auto reserved = want("a", "10.6.168.131");
  ASSERT_FALSE(reserved.ok());
  EXPECT_EQ(reserved.error().code, ErrorCode::ip_unavailable);
  EXPECT_EQ(reserved.error().message,
            "IP 10.6.168.131 is not available in IPPool test-ippool: it is reserved by "
            "SpiderReservedIP test-reservedip");
  auto excluded = want("a", "10.6.168.140");
  ASSERT_FALSE(excluded.ok());
  EXPECT_EQ(excluded.error().message,
            "IP 10.6.168.140 is not available in IPPool test-ippool: it is in spec.excludeIPs");
  auto ok = want("a", "10.6.168.135/16");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->ips.front().ip.to_string(), "10.6.168.135");
  auto taken = want("b", "10.6.168.135");
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().message,
            "IP 10.6.168.135 is not available in IPPool test-ippool: it is allocated to pod "
            "default/pod-a (container a, interface eth0)");
  auto outside = want("b", "10.6.200.1");
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().message,
            "IP 10.6.200.1 is not available in IPPool test-ippool: it is not in spec.ips");
}

TEST_F(AllocatorTest, NoPoolSelected) {
  auto failed = allocator_.allocate(request("a", {}));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::no_pool);
  EXPECT_THAT(failed.error().message, HasSubstr("spec.default: true"));
}

TEST_F(AllocatorTest, DefaultPoolsUsedWhenNoneNamed) {
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: fallback}
spec: {subnet: 10.9.0.0/24, ips: [10.9.0.5], default: true}
)");
  EXPECT_EQ(allocate_ip("a", {}), "10.9.0.5");
}

TEST_F(AllocatorTest, DisabledPoolIsSkipped) {
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: off}
spec: {subnet: 10.9.0.0/24, ips: [10.9.0.5], disable: true}
)");
  auto failed = allocator_.allocate(request("a", {"off"}));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "IPPool off is disabled (spec.disable: true)");
}

// Pool "p" with ten addresses, for the GC tests.
constexpr const char* kTenAddressPool = R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: p}
spec: {subnet: 10.9.0.0/24, ips: [10.9.0.1-10.9.0.10]}
)";

TEST_F(AllocatorTest, GcReleasesOnlyStaleAttachmentsOfTheNetwork) {
  apply(kTenAddressPool);
  allocate_ip("keep", {"p"});
  allocate_ip("stale", {"p"});
  auto other = request("other-net", {"p"});
  other.identity.network = "another";
  ASSERT_TRUE(allocator_.allocate(other).ok());
  GcResult gc = allocator_.gc("macvlan-ens192", {{"keep", "eth0"}});
  EXPECT_TRUE(gc.errors.empty());
  ASSERT_EQ(gc.released.size(), 1u);
  EXPECT_EQ(gc.released[0].container_id, "stale");
  EXPECT_TRUE(allocator_.lookup("keep", "eth0").ok());
  EXPECT_TRUE(allocator_.lookup("other-net", "eth0").ok());
  EXPECT_EQ(allocator_.lookup("stale", "eth0").error().code, ErrorCode::not_found);
}

// Two nodes share the store: a GC on one (whose runtime knows only its own containers) never
// releases what the other node's pods hold.
TEST_F(AllocatorTest, GcLeavesOtherNodesAttachmentsAlone) {
  apply(kTenAddressPool);
  Allocator node1(store_, Allocator::Options{.node = "node1"});
  Allocator node2(store_, Allocator::Options{.node = "node2"});
  auto on = [&](Allocator& allocator, const std::string& container) {
    ASSERT_TRUE(allocator.allocate(request(container, {"p"})).ok()) << container;
  };
  on(node1, "n1-keep");
  on(node1, "n1-stale");
  on(node2, "n2-pod");
  GcResult gc = node1.gc("macvlan-ens192", {{"n1-keep", "eth0"}});
  EXPECT_TRUE(gc.errors.empty());
  ASSERT_EQ(gc.released.size(), 1u);
  EXPECT_EQ(gc.released[0].container_id, "n1-stale");
  EXPECT_TRUE(node1.lookup("n2-pod", "eth0").ok()) << "another node's pod keeps its IP";
  EXPECT_TRUE(node2.lookup("n2-pod", "eth0").ok());
  EXPECT_TRUE(node2.gc("macvlan-ens192", {{"n2-pod", "eth0"}}).released.empty());
  EXPECT_TRUE(node1.lookup("n1-keep", "eth0").ok());
}

TEST_F(AllocatorTest, ReservationAppliedElsewhereIsSeenBeforeNextAllocation) {
  apply(kSeedPool);
  // A second writer (another ipfencectl) reserves while this allocator has a cached view.
  ASSERT_TRUE(allocator_.catch_up().ok());
  apply(kSeedReserved);
  EXPECT_EQ(allocate_ip("a", {"test-ippool"}), "10.6.168.133");
}

TEST_F(AllocatorTest, ConcurrentAllocatorsNeverShareAnIp) {
  apply(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: p}
spec: {subnet: 10.9.0.0/24, ips: [10.9.0.1-10.9.0.200]}
)");
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      Allocator mine(store_, Allocator::Options{.node = "node" + std::to_string(t),
                                                .cursor_offset = t / double(kThreads)});
      for (int i = 0; i < kEach; ++i) {
        auto r = mine.allocate(request("t" + std::to_string(t) + "-" + std::to_string(i), {"p"}));
        if (r.ok()) got[t].push_back(r->ips.front().ip.to_string());
      }
    });
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  std::size_t total = 0;
  for (const auto& g : got) {
    total += g.size();
    all.insert(g.begin(), g.end());
  }
  EXPECT_EQ(total, 200u);
  EXPECT_EQ(all.size(), 200u);
  auto next = allocator_.allocate(request("late", {"p"}));
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.error().message, HasSubstr("all IPs have been exhausted"));
}

// The allocator against a naive model that scans addresses one by one (next-fit, skipping
// reserved and allocated), over random allocate/release/reserve/unreserve steps.
TEST_F(AllocatorTest, MatchesNaiveReferenceOnRandomOperations) {
  for (unsigned seed : {1u, 2u, 3u, 42u}) {
    store::MemoryStore store;
    ObjectService objects(store);
    Allocator allocator(store, Allocator::Options{.node = "n"});
    auto pool = parse_manifests(R"(
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: {name: p}
spec: {subnet: 10.0.0.0/24, ips: [10.0.0.0-10.0.0.63], excludeIPs: [10.0.0.7, 10.0.0.40-10.0.0.42]}
)");
    ASSERT_TRUE(pool.ok());
    ASSERT_TRUE(objects.apply(*pool).ok());

    std::mt19937 random(seed);
    std::set<int> excluded{7, 40, 41, 42}, reserved, allocated;
    std::map<std::string, int> holders;
    std::optional<int> cursor;
    int next_id = 0;
    for (int step = 0; step < 400; ++step) {
      int op = random() % 10;
      if (op < 5) {
        std::string id = "c" + std::to_string(next_id++);
        std::optional<int> expected;
        for (int k = 1; k <= 64 && !expected; ++k) {
          int ip = ((cursor ? *cursor : -1) + k) % 64;
          if (!excluded.count(ip) && !reserved.count(ip) && !allocated.count(ip)) expected = ip;
        }
        auto r = allocator.allocate(request(id, {"p"}));
        if (!expected) {
          ASSERT_FALSE(r.ok()) << "seed " << seed << " step " << step;
          EXPECT_EQ(r.error().code, ErrorCode::exhausted);
          continue;
        }
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r->ips.front().ip.to_string(), "10.0.0." + std::to_string(*expected))
            << "seed " << seed << " step " << step;
        allocated.insert(*expected);
        holders[id] = *expected;
        cursor = *expected;
      } else if (op < 8 && !holders.empty()) {
        auto it = std::next(holders.begin(), random() % holders.size());
        ASSERT_TRUE(allocator.release(it->first, "eth0").ok());
        allocated.erase(it->second);
        holders.erase(it);
      } else {
        // Reserve or unreserve one random address through a SpiderReservedIP per address.
        int ip = random() % 64;
        std::string name = "r" + std::to_string(ip);
        if (reserved.count(ip)) {
          ASSERT_TRUE(objects.remove(Kind::reservedip, "", name).ok());
          reserved.erase(ip);
        } else {
          auto r = parse_manifests(
              "apiVersion: spiderpool.spidernet.io/v2beta1\n"
              "kind: SpiderReservedIP\nmetadata: {name: " +
              name + "}\nspec: {ips: [10.0.0." + std::to_string(ip) + "]}\n");
          ASSERT_TRUE(r.ok());
          ASSERT_TRUE(objects.apply(*r).ok());
          reserved.insert(ip);
        }
      }
      ASSERT_TRUE(allocator.catch_up().ok());
      PoolCounts c = allocator.state().counts("p");
      EXPECT_EQ(c.total, 60u);
      EXPECT_EQ(c.allocated, allocated.size());
      EXPECT_EQ(c.total, c.allocated + c.reserved + c.available);
    }
  }
}

TEST(AllocatorFileStoreTest, StateSurvivesReopen) {
  char dir_template[] = "/tmp/ipfence-alloc-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  {
    auto store = store::open_store("file://" + dir);
    ASSERT_TRUE(store.ok()) << store.error().message;
    ObjectService objects(**store);
    ASSERT_TRUE(objects.apply(*parse_manifests(kSeedPool)).ok());
    Allocator allocator(**store, Allocator::Options{.node = "n"});
    auto r = allocator.allocate(IpamFixture::request("a", {"test-ippool"}));
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  {
    auto store = store::open_store("file://" + dir);
    ASSERT_TRUE(store.ok());
    Allocator allocator(**store, Allocator::Options{.node = "n"});
    auto held = allocator.lookup("a", "eth0");
    ASSERT_TRUE(held.ok()) << held.error().message;
    EXPECT_EQ(held->ips.front().ip.to_string(), "10.6.168.131");
    // The cursor resumes after the newest allocation: next-fit survives restarts.
    auto next = allocator.allocate(IpamFixture::request("b", {"test-ippool"}));
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->ips.front().ip.to_string(), "10.6.168.132");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ipfence::ipam::testing
