// An unsigned integer of a few bytes, kept in 2-byte pieces: a struct made of them has 2-byte
// alignment, so nothing pads between its fields. The file store's index holds one entry per
// key (key_index.h); with its revisions and version in 6 bytes each and its value's place in
// 12, an entry is 30 bytes instead of 40 (131,072 keys: 1.3 MB less).
#pragma once

#include <array>
#include <cstdint>

namespace ipfence::store {

template <unsigned Bytes>
class PackedUint {
  static_assert(Bytes % 2 == 0 && Bytes >= 2 && Bytes <= 8);

 public:
  static constexpr std::uint64_t kMax =
      Bytes == 8 ? UINT64_MAX : (std::uint64_t{1} << (8 * Bytes)) - 1;

  PackedUint() = default;
  // `value` must be at most kMax: callers check (the higher bits would be lost).
  explicit PackedUint(std::uint64_t value) {
    for (auto& part : parts_) {
      part = static_cast<std::uint16_t>(value);
      value >>= 16;
    }
  }
  std::uint64_t get() const {
    std::uint64_t value = 0;
    for (unsigned i = Bytes / 2; i-- > 0;) value = (value << 16) | parts_[i];
    return value;
  }

 private:
  std::array<std::uint16_t, Bytes / 2> parts_{};
};

}  // namespace ipfence::store
