// Where a node's next-fit starts in a pool it has not allocated from yet, when several nodes
// share one store (Allocator::Options::spread_cursors). If every node started at the pool's
// first free IP, all of them would race for that one IP, every loser would retry for the
// next one, and a hot pool would turn into a retry storm. Starting each node at its own
// point of the pool keeps their claims apart until the pool is nearly full.
//
// The point comes from a hash of the node and pool names: stable across restarts and
// machines (std::hash is neither), different per pool so that one node is not always at the
// start of every pool, and needing no coordination between nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "ipam/ip_set.h"

namespace ipfence::ipam {

// FNV-1a (64 bit) of node + '\0' + pool, then MurmurHash3's 64-bit finalizer.
std::uint64_t cursor_hash(std::string_view node, std::string_view pool);

// The member of `set` at 0-based position `index` in ascending order; nullopt when
// index >= set.size(). O(intervals).
std::optional<u128> nth_member(const IpSet& set, u128 index);

// The next-fit cursor ("the last IP handed out") that makes the next pick the member of
// `usable` at position `index mod usable.size()` (or the first free one after it). nullopt
// for an empty set, or when that member is the lowest address there is (next-fit then
// starts at the beginning anyway).
std::optional<u128> cursor_at(const IpSet& usable, u128 index);

// The position `fraction` (0..1) of the way through `usable`, for fixed offsets in tests.
u128 index_at_fraction(const IpSet& usable, double fraction);

}  // namespace ipfence::ipam
