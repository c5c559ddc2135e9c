// A set of addresses of ONE family, kept as sorted, disjoint, non-adjacent closed intervals.
// Every operation costs O(log n) in the number of intervals (plus the intervals it merges or
// splits), never O(addresses): a /8 pool with a million reserved ranges is an ordinary case.
#pragma once

#include <absl/container/btree_map.h>

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "ipam/ip_address.h"

namespace ipfence::ipam {

class IpSet {
 public:
  struct Interval {
    u128 first;
    u128 last;  // inclusive
    bool operator==(const Interval&) const = default;
  };

  explicit IpSet(IpFamily family = IpFamily::v4) : family_(family) {}

  IpFamily family() const { return family_; }

  // Values are raw u128 (IpAddress::value()); callers keep families apart.
  void insert(u128 first, u128 last);
  void insert(u128 value) { insert(value, value); }
  void insert(const IpRange& range) { insert(range.first.value(), range.last.value()); }
  void erase(u128 first, u128 last);
  void erase(u128 value) { erase(value, value); }
  void erase(const IpRange& range) { erase(range.first.value(), range.last.value()); }

  bool contains(u128 value) const;
  bool contains(const IpAddress& ip) const { return contains(ip.value()); }
  // True when any member lies in [first, last].
  bool intersects(u128 first, u128 last) const;

  // Set algebra: O(m log(n+m)) for an argument of m intervals.
  void insert_all(const IpSet& other);
  void erase_all(const IpSet& other);
  IpSet intersection(const IpSet& other) const;

  bool empty() const { return intervals_.empty(); }
  std::size_t interval_count() const { return intervals_.size(); }
  // Number of addresses. An IPv6 /0 has 2^128 members, one more than u128 holds: size()
  // saturates at the maximum u128 and size_saturating() at the maximum uint64.
  u128 size() const { return size_; }
  std::uint64_t size_saturating() const;

  // The smallest member >= cursor, if any.
  std::optional<u128> first_at_or_after(u128 cursor) const;
  // Next-fit: the smallest member >= cursor, else wrap to the smallest member.
  std::optional<u128> next_fit(u128 cursor) const;

  std::vector<Interval> intervals() const;
  std::vector<IpRange> ranges() const;  // as IpRange of this set's family
  bool operator==(const IpSet& other) const;

 private:
  IpFamily family_;
  // first -> last, disjoint and non-adjacent. A B-tree rather than std::map: with a million
  // intervals (a /8 with a million reserved ranges) a red-black tree's pointer chase misses
  // the cache on every level; btree nodes hold many keys per cache line (bench/allocator).
  absl::btree_map<u128, u128> intervals_;
  u128 size_ = 0;           // kept up to date by insert/erase (saturating)
  bool saturated_ = false;  // size_ overflowed: recompute on erase
};

}  // namespace ipfence::ipam
