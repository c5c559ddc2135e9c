// minimal_prefix_cover against brute force: on an 8-bit window of the address space every
// range's cover is checked for exactness and compared with the true minimum (a DP over all
// aligned blocks); then family edges (whole space, top address, 2^64 boundary) and merging.
#include "agent/datapath/prefix_cover.h"

#include <gtest/gtest.h>

#include <vector>

namespace ipfence::datapath {
namespace {

using ipam::IpAddress;
using ipam::IpFamily;
using ipam::IpPrefix;
using ipam::IpRange;
using ipam::u128;

IpRange v4_range(std::uint32_t first, std::uint32_t last) {
  return {IpAddress::v4(first), IpAddress::v4(last)};
}

IpRange parse_range(const char* text) {
  return IpRange::parse(text).value();
}

std::vector<std::string> texts(const std::vector<IpPrefix>& prefixes) {
  std::vector<std::string> out;
  for (const IpPrefix& p : prefixes) out.push_back(p.to_string());
  return out;
}

// Fewest aligned blocks that partition [a, b] within an 8-bit space (exact covers never
// overlap usefully: CIDR blocks are nested or disjoint).
int brute_force_min(int a, int b) {
  std::vector<int> best(258, 1 << 20);
  best[b + 1] = 0;
  for (int start = b; start >= a; --start) {
    for (int bits = 0; bits <= 8; ++bits) {
      const int size = 1 << bits;
      if (start % size != 0 || start + size - 1 > b) continue;
      best[start] = std::min(best[start], 1 + best[start + size]);
    }
  }
  return best[a];
}

TEST(PrefixCover, MatchesBruteForceOnEveryRangeOfAnEightBitWindow) {
  // The window sits at 10.1.2.0/24 so that prefix lengths 24..32 are exercised.
  const std::uint32_t base = (10u << 24) | (1u << 16) | (2u << 8);
  for (int a = 0; a < 256; ++a) {
    for (int b = a; b < 256; ++b) {
      const std::vector<IpPrefix> cover = minimal_prefix_cover(v4_range(base + a, base + b));
      // Exact: blocks in order, each inside the range, contiguous, from first to last.
      u128 next = base + a;
      for (const IpPrefix& p : cover) {
        ASSERT_EQ(p.network().value(), next) << a << "-" << b;
        ASSERT_EQ(p.address, p.network()) << "host bits set in " << p.to_string();
        next = p.last().value() + 1;
      }
      ASSERT_EQ(next, base + b + 1u) << a << "-" << b;
      ASSERT_EQ(static_cast<int>(cover.size()), brute_force_min(a, b)) << a << "-" << b;
    }
  }
}

TEST(PrefixCover, KnownCovers) {
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("10.0.0.1-10.0.0.6"))),
            (std::vector<std::string>{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}));
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("10.6.0.0/16"))),
            std::vector<std::string>{"10.6.0.0/16"});
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("192.168.1.7"))),
            std::vector<std::string>{"192.168.1.7/32"});
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("fd00::1-fd00::3"))),
            (std::vector<std::string>{"fd00::1/128", "fd00::2/127"}));
}

TEST(PrefixCover, FamilyEdges) {
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("0.0.0.0-255.255.255.255"))),
            std::vector<std::string>{"0.0.0.0/0"});
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))),
            std::vector<std::string>{"::/0"});
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("255.255.255.254-255.255.255.255"))),
            std::vector<std::string>{"255.255.255.254/31"});
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))),
            std::vector<std::string>{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"});
  // Across the 2^64 boundary: ::ffff:ffff:ffff:ffff and 0:0:0:1:: as the two halves.
  EXPECT_EQ(texts(minimal_prefix_cover(parse_range("::ffff:ffff:ffff:ffff-0:0:0:1::"))),
            (std::vector<std::string>{"::ffff:ffff:ffff:ffff/128", "0:0:0:1::/128"}));
  // 1..2^128-2: the worst case, 2 * 127 blocks.
  EXPECT_EQ(minimal_prefix_cover(parse_range("::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")).size(),
            254u);
  EXPECT_EQ(minimal_prefix_cover(parse_range("0.0.0.1-255.255.255.254")).size(), 62u);
}

TEST(PrefixCover, MergesOverlappingAndAdjacentRangesBeforeCovering) {
  const std::vector<IpRange> ranges = {
      parse_range("10.0.0.4-10.0.0.7"), parse_range("fd00::/127"), parse_range("10.0.0.0-10.0.0.3"),
      parse_range("10.0.0.6-10.0.0.9"), parse_range("10.0.0.20"),  parse_range("fd00::2/127")};
  EXPECT_EQ(texts(minimal_prefix_cover(ranges)),
            (std::vector<std::string>{"10.0.0.0/29", "10.0.0.8/31", "10.0.0.20/32", "fd00::/126"}));
  const std::vector<IpRange> merged = merge_ranges(ranges);
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[0].to_string(), "10.0.0.0-10.0.0.9");
  // A range ending at the family's top swallows what follows, without overflowing.
  EXPECT_EQ(merge_ranges({parse_range("255.255.255.0/24"), parse_range("255.255.255.255")}).size(),
            1u);
  EXPECT_TRUE(minimal_prefix_cover(std::vector<IpRange>{}).empty());
}

}  // namespace
}  // namespace ipfence::datapath
