// B-trees with 1 KiB nodes, for the view's per-pod containers (cluster_state.h). absl's
// btree_map and btree_set aim at 256-byte nodes: 3 slots of a 64-byte allocation, so that with
// each node's header, malloc's rounding and the inner nodes a slot cost 74 bytes. With 1 KiB
// nodes it is 67 (for a 40-byte attachment slot, 46 -> 41), measured with 65,536 sequential
// inserts: -0.8 MB for the two containers of the agent at 65,536 pods (a test program's
// figure; the agent's RSS fell 1.2 MB with this and the 40-byte attachment slot together). A
// lookup searches more keys per node and visits fewer nodes.
//
// absl's public aliases fix the node size, so these are built from the same internal
// parameters as absl::btree_map and absl::btree_set (absl/container/btree_map.h), with
// another size: everything else (interface, iterators, invalidation rules) is theirs.
#pragma once

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

#include <functional>
#include <memory>
#include <utility>

namespace ipfence::ipam {

inline constexpr int kWideBtreeNodeBytes = 1024;

template <class Key, class Value, class Compare = std::less<Key>>
class WideBtreeMap : public absl::container_internal::btree_map_container<
                         absl::container_internal::btree<absl::container_internal::map_params<
                             Key, Value, Compare, std::allocator<std::pair<const Key, Value>>,
                             kWideBtreeNodeBytes, /*IsMulti=*/false>>> {
  using Base = typename WideBtreeMap::btree_map_container;

 public:
  using Base::Base;
};

template <class Key, class Compare = std::less<Key>>
class WideBtreeSet
    : public absl::container_internal::btree_set_container<
          absl::container_internal::btree<absl::container_internal::set_params<
              Key, Compare, std::allocator<Key>, kWideBtreeNodeBytes, /*IsMulti=*/false>>> {
  using Base = typename WideBtreeSet::btree_set_container;

 public:
  using Base::Base;
};

}  // namespace ipfence::ipam
