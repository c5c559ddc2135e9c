#include "ipam/packed_strings.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

namespace ipfence::ipam {
namespace {

void put_varint(std::string& out, std::size_t value) {
  do {
    const auto low = static_cast<std::uint8_t>(value & 0x7f);
    value >>= 7;
    out.push_back(static_cast<char>(low | (value != 0 ? 0x80 : 0)));
  } while (value != 0);
}

std::size_t get_varint(const char*& at) {
  std::size_t value = 0;
  for (unsigned shift = 0;; shift += 7) {
    const auto byte = static_cast<std::uint8_t>(*at++);
    value |= static_cast<std::size_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
}

}  // namespace

// The block starts with the reference count; new[] aligns it for any fundamental type.
using RefCount = std::atomic<std::uint32_t>;
static_assert(sizeof(RefCount) == 4 && RefCount::is_always_lock_free);

PackedStrings::PackedStrings(const std::vector<std::string_view>& fields) {
  if (fields.empty()) return;
  std::string encoded;
  put_varint(encoded, fields.size());
  for (std::string_view field : fields) {
    put_varint(encoded, field.size());
    encoded.append(field);
  }
  block_ = new char[sizeof(RefCount) + encoded.size()];
  new (block_) RefCount(1);
  std::memcpy(block_ + sizeof(RefCount), encoded.data(), encoded.size());
}

PackedStrings::PackedStrings(const PackedStrings& other) : block_(other.block_) {
  if (block_ != nullptr)
    std::launder(reinterpret_cast<RefCount*>(block_))->fetch_add(1, std::memory_order_relaxed);
}

PackedStrings& PackedStrings::operator=(const PackedStrings& other) {
  if (this != &other) *this = PackedStrings(other);
  return *this;
}

PackedStrings& PackedStrings::operator=(PackedStrings&& other) noexcept {
  if (this != &other) {
    PackedStrings old(std::move(*this));
    block_ = std::exchange(other.block_, nullptr);
  }
  return *this;
}

PackedStrings::~PackedStrings() {
  if (block_ == nullptr) return;
  auto* count = std::launder(reinterpret_cast<RefCount*>(block_));
  if (count->fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  count->~RefCount();
  delete[] block_;
}

const char* PackedStrings::fields() const {
  return block_ + sizeof(RefCount);
}

std::size_t PackedStrings::size() const {
  if (!block_) return 0;
  const char* at = fields();
  return get_varint(at);
}

std::string_view PackedStrings::at(std::size_t field) const {
  if (!block_) return {};
  const char* at = fields();
  const std::size_t count = get_varint(at);
  if (field >= count) return {};
  for (std::size_t i = 0; i < field; ++i) at += get_varint(at);
  const std::size_t size = get_varint(at);
  return {at, size};
}

}  // namespace ipfence::ipam
