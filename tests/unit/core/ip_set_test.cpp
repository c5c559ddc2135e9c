// IpSet: hand-picked edge cases at the ends of the u128 range, then randomized operations
// checked against a naive std::set reference, then a /8 pool with a million holes.
#include "ipam/ip_set.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>

namespace ipfence::ipam {
namespace {

constexpr u128 kMax = ~u128{0};
constexpr auto kU64Max = std::numeric_limits<std::uint64_t>::max();

// gtest cannot print __int128; compare decimal text so failures are readable.
std::string dec(u128 v) {
  return u128_to_string(v);
}
std::string dec(std::optional<u128> v) {
  return v ? u128_to_string(*v) : "none";
}
// For hot loops: formats only on failure (u128 division is slow in a Debug build).
::testing::AssertionResult same(std::optional<u128> got, std::optional<u128> want) {
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << dec(got) << ", want " << dec(want);
}

using Iv = IpSet::Interval;

TEST(IpSetTest, EmptySet) {
  IpSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.family(), IpFamily::v4);
  EXPECT_EQ(dec(set.size()), "0");
  EXPECT_EQ(set.size_saturating(), 0u);
  EXPECT_FALSE(set.contains(u128{0}));
  EXPECT_FALSE(set.intersects(0, kMax));
  EXPECT_EQ(dec(set.first_at_or_after(0)), "none");
  EXPECT_EQ(dec(set.next_fit(5)), "none");
  set.erase(0, kMax);  // erasing from nothing is fine
  EXPECT_TRUE(set.empty());
}

TEST(IpSetTest, MergesOverlappingAndAdjacent) {
  IpSet set;
  set.insert(1, 3);
  set.insert(5, 7);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{1, 3}, {5, 7}}));
  set.insert(4);  // bridges both neighbours
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{1, 7}}));
  set.insert(8, 8);  // adjacent on the right
  set.insert(0);     // adjacent on the left, at zero
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{0, 8}}));
  set.insert(20, 30);
  set.insert(40, 50);
  set.insert(10, 45);  // overlaps two, extends across a gap
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{0, 8}, {10, 50}}));
  set.insert(2, 5);  // already inside
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{0, 8}, {10, 50}}));
  EXPECT_EQ(dec(set.size()), "50");
  set.insert(9);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{0, 50}}));
  EXPECT_EQ(dec(set.size()), "51");
}

TEST(IpSetTest, EraseSplitsAndTrims) {
  IpSet set;
  set.insert(10, 20);
  set.erase(15);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{10, 14}, {16, 20}}));
  set.erase(10);
  set.erase(20);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{11, 14}, {16, 19}}));
  set.erase(13, 17);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{11, 12}, {18, 19}}));
  EXPECT_EQ(dec(set.size()), "4");
  set.erase(0, 11);
  set.erase(19, kMax);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{12, 12}, {18, 18}}));
  set.erase(12, 18);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(dec(set.size()), "0");
}

TEST(IpSetTest, ReversedIntervalIsIgnored) {
  IpSet set;
  set.insert(5, 4);
  EXPECT_TRUE(set.empty());
  set.insert(1, 9);
  set.erase(6, 3);
  EXPECT_EQ(dec(set.size()), "9");
  EXPECT_FALSE(set.intersects(9, 1));
}

TEST(IpSetTest, U128MaxEdges) {
  IpSet set(IpFamily::v6);
  set.insert(kMax);
  set.insert(kMax - 1);  // adjacent below max
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{kMax - 1, kMax}}));
  EXPECT_TRUE(set.contains(kMax));
  EXPECT_EQ(dec(set.first_at_or_after(kMax)), dec(kMax));
  EXPECT_EQ(dec(set.first_at_or_after(0)), dec(kMax - 1));
  set.insert(kMax - 5, kMax - 3);
  EXPECT_EQ(set.interval_count(), 2u);
  set.insert(kMax - 2, kMax);  // last == max: absorbs everything to the right
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{kMax - 5, kMax}}));
  set.erase(kMax);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{kMax - 5, kMax - 1}}));
  EXPECT_EQ(dec(set.first_at_or_after(kMax)), "none");
  EXPECT_EQ(dec(set.next_fit(kMax)), dec(kMax - 5));  // wraps
  set.erase(kMax - 3, kMax);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{kMax - 5, kMax - 4}}));
  EXPECT_EQ(dec(set.size()), "2");
  EXPECT_TRUE(set.intersects(0, kMax));
  EXPECT_FALSE(set.intersects(kMax - 3, kMax));
}

TEST(IpSetTest, FullIpv6SpaceSaturates) {
  auto all = IpRange::parse("::/0");
  ASSERT_TRUE(all.ok());
  IpSet set(IpFamily::v6);
  set.insert(*all);
  EXPECT_EQ(set.intervals(), (std::vector<Iv>{{0, kMax}}));
  EXPECT_EQ(dec(set.size()), dec(kMax));  // 2^128 saturates
  EXPECT_EQ(set.size_saturating(), kU64Max);
  EXPECT_TRUE(set.contains(kMax));
  EXPECT_TRUE(set.contains(u128{0}));

  set.erase(kMax);  // 2^128 - 1 is exact again
  EXPECT_EQ(dec(set.size()), dec(kMax));
  set.erase(0);
  EXPECT_EQ(dec(set.size()), dec(kMax - 1));
  set.insert(0);
  set.insert(kMax);
  EXPECT_EQ(dec(set.size()), dec(kMax));  // full again
  set.erase(u128{1} << 100, u128{1} << 100);
  EXPECT_EQ(set.interval_count(), 2u);
  EXPECT_EQ(dec(set.size()), dec(kMax));
  set.erase(0, kMax);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(dec(set.size()), "0");

  // Built from two halves, and by intersection and insert_all.
  set.insert(0, kMax / 2);
  set.insert(kMax / 2 + 1, kMax);
  EXPECT_EQ(dec(set.size()), dec(kMax));
  IpSet copy(IpFamily::v6);
  copy.insert_all(set);
  EXPECT_EQ(copy, set);
  EXPECT_EQ(dec(copy.size()), dec(kMax));
  EXPECT_EQ(dec(set.intersection(copy).size()), dec(kMax));
  IpSet half(IpFamily::v6);
  half.insert(0, kMax / 2);
  EXPECT_EQ(dec(set.intersection(half).size()), dec(kMax / 2 + 1));
  copy.erase_all(half);
  EXPECT_EQ(dec(copy.size()), dec(kMax / 2 + 1));
}

TEST(IpSetTest, Ipv4TopAddress) {
  IpSet set(IpFamily::v4);
  set.insert(*IpRange::parse("255.255.255.0/24"));
  auto top = *IpAddress::parse("255.255.255.255");
  EXPECT_TRUE(set.contains(top));
  EXPECT_EQ(set.size_saturating(), 256u);
  set.erase(*IpRange::parse("255.255.255.1-255.255.255.254"));
  EXPECT_EQ(dec(set.first_at_or_after(top.value())), "4294967295");
  EXPECT_EQ(dec(set.first_at_or_after(0xffffff01)), "4294967295");
  EXPECT_EQ(dec(set.next_fit(0xffffff01)), "4294967295");
  set.erase(top.value());
  EXPECT_EQ(dec(set.next_fit(0xffffff01)), dec(0xffffff00));  // wraps to the smallest
  auto ranges = set.ranges();
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].to_string(), "255.255.255.0");
  EXPECT_EQ(ranges[0].family(), IpFamily::v4);
}

TEST(IpSetTest, RangesCarryTheFamily) {
  IpSet set(IpFamily::v6);
  set.insert(*IpRange::parse("fd00::1-fd00::9"));
  set.insert(*IpRange::parse("fd00::b"));
  auto ranges = set.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].to_string(), "fd00::1-fd00::9");
  EXPECT_EQ(ranges[1].to_string(), "fd00::b");
  EXPECT_EQ(ranges[1].family(), IpFamily::v6);
}

TEST(IpSetTest, EqualityComparesFamilyAndMembers) {
  IpSet a(IpFamily::v4), b(IpFamily::v4), c(IpFamily::v6);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == c);  // empty sets of different families differ
  a.insert(1, 5);
  b.insert(1, 2);
  EXPECT_FALSE(a == b);
  b.insert(3, 5);  // merges to the same intervals
  EXPECT_EQ(a, b);
}

TEST(IpSetTest, AlgebraWithItself) {
  IpSet set;
  set.insert(1, 5);
  set.insert(9, 12);
  IpSet before = set;
  set.insert_all(set);
  EXPECT_EQ(set, before);
  EXPECT_EQ(set.intersection(set), before);
  set.erase_all(set);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(dec(set.size()), "0");
}

TEST(IpSetTest, Intersects) {
  IpSet set;
  set.insert(10, 20);
  set.insert(30, 40);
  EXPECT_TRUE(set.intersects(0, 10));
  EXPECT_TRUE(set.intersects(20, 29));
  EXPECT_FALSE(set.intersects(21, 29));
  EXPECT_TRUE(set.intersects(21, 30));
  EXPECT_TRUE(set.intersects(0, kMax));
  EXPECT_FALSE(set.intersects(41, kMax));
  EXPECT_FALSE(set.intersects(0, 9));
  EXPECT_TRUE(set.intersects(15, 15));
}

// ---- Randomized against a reference --------------------------------------------------------

// A universe of `kUniverse` values starting at `base`: at 0, and ending at u128 max, so that
// both ends of the u128 range get the same random workout.
constexpr std::uint32_t kUniverse = 4096;
using Ref = std::set<std::uint32_t>;

struct Model {
  u128 base;
  std::mt19937 rng;

  std::uint32_t pick() {
    return std::uniform_int_distribution<std::uint32_t>(0, kUniverse - 1)(rng);
  }
  // Mostly short intervals (so sets stay fragmented), sometimes long ones.
  std::pair<std::uint32_t, std::uint32_t> interval() {
    std::uint32_t a = pick();
    std::uint32_t len = (rng() % 4 == 0) ? pick() : rng() % 16;
    std::uint32_t b = std::min<std::uint32_t>(kUniverse - 1, a + len);
    return {a, b};
  }
  void random_pair(IpSet& set, Ref& ref, int n) {
    for (int k = 0; k < n; ++k) {
      auto [a, b] = interval();
      set.insert(base + a, base + b);
      for (auto v = a; v <= b; ++v) ref.insert(v);
    }
  }
};

// Structure and every query, exhaustively over the universe.
void check_matches(const IpSet& set, const Ref& ref, u128 base) {
  std::uint32_t count = 0;
  bool first_interval = true;
  u128 prev_last = 0;
  for (const auto& iv : set.intervals()) {
    ASSERT_LE(iv.first, iv.last);
    if (!first_interval) {
      ASSERT_TRUE(iv.first > prev_last + 1) << "overlapping or adjacent at " << dec(iv.first);
    }
    first_interval = false;
    prev_last = iv.last;
    for (u128 v = iv.first;; ++v) {
      ASSERT_TRUE(ref.count(static_cast<std::uint32_t>(v - base)));
      ++count;
      if (v == iv.last) break;
    }
  }
  ASSERT_EQ(count, ref.size());
  ASSERT_TRUE(same(set.size(), u128{ref.size()}));
  ASSERT_EQ(set.size_saturating(), ref.size());
  ASSERT_EQ(set.empty(), ref.empty());
  for (std::uint32_t v = 0; v < kUniverse; ++v) {
    ASSERT_EQ(set.contains(base + v), ref.count(v) == 1) << v;
    auto it = ref.lower_bound(v);
    std::optional<u128> want;
    if (it != ref.end()) want = base + *it;
    ASSERT_TRUE(same(set.first_at_or_after(base + v), want)) << v;
    if (!want && !ref.empty()) want = base + *ref.begin();
    ASSERT_TRUE(same(set.next_fit(base + v), want)) << v;
  }
}

void check_intersects(Model& m, const IpSet& set, const Ref& ref) {
  for (int k = 0; k < 32; ++k) {
    auto [a, b] = m.interval();
    auto it = ref.lower_bound(a);
    bool want = it != ref.end() && *it <= b;
    ASSERT_EQ(set.intersects(m.base + a, m.base + b), want) << a << "-" << b;
  }
}

void run_random(std::uint32_t seed, u128 base) {
  Model m{base, std::mt19937(seed)};
  IpSet set(IpFamily::v6);
  Ref ref;
  for (int step = 0; step < 600; ++step) {
    int op = static_cast<int>(m.rng() % 10);
    if (op < 4) {  // insert
      auto [a, b] = m.interval();
      set.insert(base + a, base + b);
      for (auto v = a; v <= b; ++v) ref.insert(v);
    } else if (op < 8) {  // erase
      auto [a, b] = m.interval();
      set.erase(base + a, base + b);
      for (auto v = a; v <= b; ++v) ref.erase(v);
    } else {  // algebra against a random other set
      IpSet other(IpFamily::v6);
      Ref other_ref;
      m.random_pair(other, other_ref, 1 + static_cast<int>(m.rng() % 8));
      int which = static_cast<int>(m.rng() % 3);
      if (which == 0) {
        set.insert_all(other);
        ref.insert(other_ref.begin(), other_ref.end());
      } else if (which == 1) {
        set.erase_all(other);
        for (auto v : other_ref) ref.erase(v);
      } else {
        IpSet both = set.intersection(other);
        Ref both_ref;
        for (auto v : ref)
          if (other_ref.count(v)) both_ref.insert(v);
        ASSERT_NO_FATAL_FAILURE(check_matches(both, both_ref, base));
        EXPECT_EQ(both, other.intersection(set));  // commutative
        set = both;
        ref = both_ref;
      }
    }
    if (step % 7 == 0 || step == 599) {
      ASSERT_NO_FATAL_FAILURE(check_matches(set, ref, base)) << "seed " << seed << " step " << step;
    } else {
      ASSERT_TRUE(same(set.size(), u128{ref.size()})) << "seed " << seed << " step " << step;
    }
    ASSERT_NO_FATAL_FAILURE(check_intersects(m, set, ref));
  }
}

TEST(IpSetRandomTest, MatchesReferenceAtZero) {
  for (std::uint32_t seed : {1u, 2u, 3u, 42u, 2024u}) {
    SCOPED_TRACE(seed);
    ASSERT_NO_FATAL_FAILURE(run_random(seed, 0));
  }
}

TEST(IpSetRandomTest, MatchesReferenceAtU128Max) {
  for (std::uint32_t seed : {7u, 8u, 99u}) {
    SCOPED_TRACE(seed);
    ASSERT_NO_FATAL_FAILURE(run_random(seed, kMax - (kUniverse - 1)));
  }
}

// ---- Scale ---------------------------------------------------------------------------------

// A /8 pool with a million single-address holes (as from a million reserved IPs): the set
// holds a million intervals and still answers from the map, not by walking addresses.
TEST(IpSetScaleTest, SlashEightWithAMillionHoles) {
  auto pool = *IpPrefix::parse("10.0.0.0/8");
  const u128 base = pool.network().value();
  constexpr std::uint32_t kHoles = 1'000'000;
  IpSet set(IpFamily::v4);
  set.insert(pool.network().value(), pool.last().value());
  for (std::uint32_t i = 0; i < kHoles; ++i) set.erase(base + 16 * u128{i} + 3);

  EXPECT_EQ(set.interval_count(), kHoles + 1);
  EXPECT_EQ(set.size_saturating(), (1u << 24) - kHoles);
  std::mt19937 rng(5);
  for (int k = 0; k < 10000; ++k) {
    std::uint32_t i = rng() % kHoles;
    u128 hole = base + 16 * u128{i} + 3;
    ASSERT_FALSE(set.contains(hole));
    ASSERT_TRUE(set.contains(hole + 1));
    ASSERT_TRUE(same(set.first_at_or_after(hole), hole + 1));
    ASSERT_TRUE(same(set.first_at_or_after(hole - 3), hole - 3));
    ASSERT_TRUE(set.intersects(hole, hole + 1));
    ASSERT_FALSE(set.intersects(hole, hole));
  }
  u128 last = pool.last().value();
  EXPECT_EQ(dec(set.first_at_or_after(last)), dec(last));
  EXPECT_EQ(dec(set.first_at_or_after(last + 1)), "none");
  EXPECT_EQ(dec(set.next_fit(last + 1)), dec(base));

  // Filling one hole merges two intervals; erasing a whole block of them trims in one call.
  set.insert(base + 3);
  EXPECT_EQ(set.interval_count(), kHoles);
  set.erase(base, base + 16 * u128{1000} - 1);
  EXPECT_EQ(set.interval_count(), kHoles - 999);
  EXPECT_EQ(dec(set.first_at_or_after(0)), dec(base + 16 * u128{1000}));
}

}  // namespace
}  // namespace ipfence::ipam
