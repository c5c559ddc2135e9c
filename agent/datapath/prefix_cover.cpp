#include "agent/datapath/prefix_cover.h"

#include <algorithm>

namespace ipfence::datapath {
namespace {

using ipam::u128;

int family_bits(ipam::IpFamily family) {
  return family == ipam::IpFamily::v4 ? 32 : 128;
}

// All ones in the low `bits` bits (bits may be 128).
u128 low_mask(int bits) {
  return bits >= 128 ? ~u128{0} : (u128{1} << bits) - 1;
}

int trailing_zeros(u128 value, int width) {
  if (value == 0) return width;
  int n = 0;
  while ((value & 1) == 0) {
    value >>= 1;
    ++n;
  }
  return n;
}

}  // namespace

std::vector<ipam::IpPrefix> minimal_prefix_cover(const ipam::IpRange& range) {
  const ipam::IpFamily family = range.family();
  const int width = family_bits(family);
  std::vector<ipam::IpPrefix> out;
  u128 first = range.first.value();
  const u128 last = range.last.value();
  // Each step emits one block and either ends at `last` or moves `first` forward, and at most
  // 2 * width blocks are ever needed, so this terminates.
  while (first <= last) {
    int bits = trailing_zeros(first, width);       // the largest block aligned at `first`...
    while (first + low_mask(bits) > last) --bits;  // ...that does not pass `last`
    out.push_back({ipam::IpAddress(family, first), static_cast<std::uint8_t>(width - bits)});
    const u128 block_last = first + low_mask(bits);
    if (block_last == last) break;  // also avoids overflow when `last` is the family's top
    first = block_last + 1;
  }
  return out;
}

std::vector<ipam::IpRange> merge_ranges(std::vector<ipam::IpRange> ranges) {
  std::sort(ranges.begin(), ranges.end());  // by family, then first address
  std::vector<ipam::IpRange> out;
  for (const ipam::IpRange& r : ranges) {
    if (!out.empty() && out.back().family() == r.family()) {
      ipam::IpRange& prev = out.back();
      const u128 prev_last = prev.last.value();
      // Overlapping or adjacent; prev ending at the family's top swallows everything after.
      if (prev_last == ipam::family_max(r.family()) || r.first.value() <= prev_last + 1) {
        if (r.last > prev.last) prev.last = r.last;
        continue;
      }
    }
    out.push_back(r);
  }
  return out;
}

std::vector<ipam::IpPrefix> minimal_prefix_cover(const std::vector<ipam::IpRange>& ranges) {
  std::vector<ipam::IpPrefix> out;
  for (const ipam::IpRange& r : merge_ranges(ranges)) {
    std::vector<ipam::IpPrefix> cover = minimal_prefix_cover(r);
    out.insert(out.end(), cover.begin(), cover.end());
  }
  return out;
}

}  // namespace ipfence::datapath
