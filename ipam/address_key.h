// An address value (u128) as a B-tree key with 8-byte alignment. unsigned __int128 is 16-byte
// aligned, so a (u128, 40-byte value) slot pads to 64 bytes; two uint64 halves make it 56
// (65,536 allocations: -0.5 MB). It converts both ways implicitly, so that code reads and
// writes u128; it has no operators of its own, so `key < value` means u128's (no ambiguity).
#pragma once

#include <cstdint>

#include "ipam/ip_address.h"

namespace ipfence::ipam {

class AddressKey {
 public:
  AddressKey() = default;
  // Implicit both ways on purpose: a u128 in another layout.
  AddressKey(u128 value)  // NOLINT(google-explicit-constructor)
      : low_(static_cast<std::uint64_t>(value)), high_(static_cast<std::uint64_t>(value >> 64)) {}
  operator u128() const { return (u128{high_} << 64) | low_; }  // NOLINT(google-explicit-*)

 private:
  friend struct AddressKeyOrder;
  std::uint64_t low_ = 0;
  std::uint64_t high_ = 0;
};
static_assert(sizeof(AddressKey) == 16 && alignof(AddressKey) == 8);

// Orders AddressKeys as their u128 values, without building them.
struct AddressKeyOrder {
  bool operator()(const AddressKey& a, const AddressKey& b) const {
    return a.high_ != b.high_ ? a.high_ < b.high_ : a.low_ < b.low_;
  }
};

}  // namespace ipfence::ipam
