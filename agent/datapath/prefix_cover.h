// Inclusive address ranges -> the fewest CIDR prefixes that cover exactly those addresses,
// for the guard's LPM tries (reserved and pool ranges arrive as ranges, tries hold prefixes).
#pragma once

#include <vector>

#include "ipam/ip_address.h"

namespace ipfence::datapath {

// The minimal list of prefixes whose union is exactly [range.first, range.last], in address
// order. Greedy from the low end, taking at each step the largest aligned block that still
// fits: any exact cover must split at the same points, so no cover is shorter.
// A /0 of the family comes out as one prefix. `range.first <= range.last` is required.
std::vector<ipam::IpPrefix> minimal_prefix_cover(const ipam::IpRange& range);

// Sorts the ranges and merges the ones that overlap or touch (per family), so that covering
// each result separately is minimal for the union as well.
std::vector<ipam::IpRange> merge_ranges(std::vector<ipam::IpRange> ranges);

// The minimal cover of the union of `ranges` (merge_ranges, then minimal_prefix_cover).
std::vector<ipam::IpPrefix> minimal_prefix_cover(const std::vector<ipam::IpRange>& ranges);

}  // namespace ipfence::datapath
