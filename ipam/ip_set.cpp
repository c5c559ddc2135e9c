// Interval map over u128. Two details decide correctness here:
//  - Bounds arithmetic never computes last + 1 or first - 1 without checking for the ends of
//    the u128 range, where it would wrap.
//  - The member count is kept modulo 2^128 (exact for every set but the full IPv6 space,
//    whose 2^128 members wrap to 0); since a non-empty set with count 0 mod 2^128 can only be
//    that full space, size_ then saturates. This keeps size() O(1) without an O(n) recount.
#include "ipam/ip_set.h"

#include <iterator>
#include <limits>

namespace ipfence::ipam {
namespace {

constexpr u128 kU128Max = ~u128{0};

// Members of [first, last] modulo 2^128: [0, max] gives 0, which the modular count expects.
u128 span(u128 first, u128 last) {
  return last - first + 1;
}

// The exact count modulo 2^128, from the stored (saturating) size.
u128 modular_count(u128 size, bool saturated) {
  return saturated ? 0 : size;
}

// Back to the stored form: a non-empty set whose count is 0 mod 2^128 has 2^128 members.
void store_count(u128 count, bool non_empty, u128& size, bool& saturated) {
  saturated = count == 0 && non_empty;
  size = saturated ? kU128Max : count;
}

}  // namespace

void IpSet::insert(u128 first, u128 last) {
  if (first > last) return;  // an empty interval: nothing to add
  u128 count = modular_count(size_, saturated_);

  // Start from the interval that touches or overlaps `first` from the left, if any.
  auto it = intervals_.upper_bound(first);
  if (it != intervals_.begin()) {
    auto prev = std::prev(it);
    if (first == 0 || prev->second >= first - 1) it = prev;
  }
  u128 new_first = first;
  u128 new_last = last;
  // Swallow every interval that overlaps [first, last] or is adjacent to it on the right.
  while (it != intervals_.end() && (last == kU128Max || it->first <= last + 1)) {
    if (it->first < new_first) new_first = it->first;
    if (it->second > new_last) new_last = it->second;
    count -= span(it->first, it->second);
    it = intervals_.erase(it);
  }
  intervals_.emplace_hint(it, new_first, new_last);
  count += span(new_first, new_last);

  store_count(count, true, size_, saturated_);
}

void IpSet::erase(u128 first, u128 last) {
  if (first > last || intervals_.empty()) return;
  u128 count = modular_count(size_, saturated_);

  auto it = intervals_.upper_bound(first);
  if (it != intervals_.begin() && std::prev(it)->second >= first) --it;
  while (it != intervals_.end() && it->first <= last) {
    u128 a = it->first;
    u128 b = it->second;
    count -= span(a, b);
    it = intervals_.erase(it);
    // Keep the parts that stick out on either side (a < first implies first > 0, and
    // b > last implies last < max, so neither bound below wraps).
    // emplace_hint's result, not the old `it`: a B-tree insert invalidates iterators.
    if (a < first) {
      it = std::next(intervals_.emplace_hint(it, a, first - 1));
      count += span(a, first - 1);
    }
    if (b > last) {
      it = intervals_.emplace_hint(it, last + 1, b);
      count += span(last + 1, b);
      break;  // intervals are disjoint: nothing further can overlap
    }
  }

  store_count(count, !intervals_.empty(), size_, saturated_);
}

bool IpSet::contains(u128 value) const {
  auto it = intervals_.upper_bound(value);
  if (it == intervals_.begin()) return false;
  return std::prev(it)->second >= value;
}

bool IpSet::intersects(u128 first, u128 last) const {
  if (first > last) return false;
  // The last interval starting at or before `last` is the only candidate: every earlier one
  // ends before it starts.
  auto it = intervals_.upper_bound(last);
  if (it == intervals_.begin()) return false;
  return std::prev(it)->second >= first;
}

void IpSet::insert_all(const IpSet& other) {
  if (&other == this) return;
  for (const auto& [first, last] : other.intervals_) insert(first, last);
}

void IpSet::erase_all(const IpSet& other) {
  if (&other == this) {
    intervals_.clear();
    size_ = 0;
    saturated_ = false;
    return;
  }
  for (const auto& [first, last] : other.intervals_) erase(first, last);
}

IpSet IpSet::intersection(const IpSet& other) const {
  IpSet result(family_);
  u128 count = 0;
  for (const auto& [first, last] : other.intervals_) {
    // Pieces come out in ascending order and stay non-adjacent (each pair is split by a gap
    // of this set or of `other`), so they can be appended at the end directly.
    auto it = intervals_.upper_bound(first);
    if (it != intervals_.begin() && std::prev(it)->second >= first) --it;
    for (; it != intervals_.end() && it->first <= last; ++it) {
      u128 a = it->first > first ? it->first : first;
      u128 b = it->second < last ? it->second : last;
      result.intervals_.emplace_hint(result.intervals_.end(), a, b);
      count += span(a, b);
    }
  }
  store_count(count, !result.intervals_.empty(), result.size_, result.saturated_);
  return result;
}

std::uint64_t IpSet::size_saturating() const {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  return size_ > kMax ? kMax : static_cast<std::uint64_t>(size_);
}

std::optional<u128> IpSet::first_at_or_after(u128 cursor) const {
  auto it = intervals_.upper_bound(cursor);
  if (it != intervals_.begin() && std::prev(it)->second >= cursor) return cursor;
  if (it == intervals_.end()) return std::nullopt;
  return it->first;
}

std::optional<u128> IpSet::next_fit(u128 cursor) const {
  if (auto found = first_at_or_after(cursor)) return found;
  if (intervals_.empty()) return std::nullopt;
  return intervals_.begin()->first;
}

std::vector<IpSet::Interval> IpSet::intervals() const {
  std::vector<Interval> out;
  out.reserve(intervals_.size());
  for (const auto& [first, last] : intervals_) out.push_back({first, last});
  return out;
}

std::vector<IpRange> IpSet::ranges() const {
  std::vector<IpRange> out;
  out.reserve(intervals_.size());
  for (const auto& [first, last] : intervals_)
    out.push_back({IpAddress(family_, first), IpAddress(family_, last)});
  return out;
}

bool IpSet::operator==(const IpSet& other) const {
  return family_ == other.family_ && intervals_ == other.intervals_;
}

}  // namespace ipfence::ipam
