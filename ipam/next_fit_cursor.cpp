#include "ipam/next_fit_cursor.h"

#include <algorithm>

namespace ipfence::ipam {

std::uint64_t cursor_hash(std::string_view node, std::string_view pool) {
  constexpr std::uint64_t kOffsetBasis = 14695981039346656037ull;
  constexpr std::uint64_t kPrime = 1099511628211ull;
  std::uint64_t hash = kOffsetBasis;
  auto add = [&](std::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= kPrime;
    }
  };
  add(node);
  add(std::string_view("\0", 1));
  add(pool);
  // FNV's last steps barely spread names that differ in their last character ("node1",
  // "node2" land a few IPs apart modulo a pool size); MurmurHash3's finalizer mixes them.
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdull;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ull;
  hash ^= hash >> 33;
  return hash;
}

std::optional<u128> nth_member(const IpSet& set, u128 index) {
  for (const auto& interval : set.intervals()) {
    const u128 count = interval.last - interval.first + 1;  // wraps to 0 only for all of v6
    if (count == 0 || index < count) return interval.first + index;
    index -= count;
  }
  return std::nullopt;
}

std::optional<u128> cursor_at(const IpSet& usable, u128 index) {
  const u128 size = usable.size();
  if (size == 0) return std::nullopt;
  auto member = nth_member(usable, index % size);
  if (!member || *member == 0) return std::nullopt;
  return *member - 1;
}

u128 index_at_fraction(const IpSet& usable, double fraction) {
  const u128 size = usable.size();
  if (size == 0) return 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const auto index = static_cast<u128>(static_cast<long double>(size) * fraction);
  return std::min(index, size - 1);
}

}  // namespace ipfence::ipam
