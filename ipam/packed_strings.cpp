#include "ipam/packed_strings.h"

#include <cstdint>
#include <cstring>
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

PackedStrings::PackedStrings(const std::vector<std::string_view>& fields) {
  if (fields.empty()) return;
  std::string block;
  put_varint(block, fields.size());
  for (std::string_view field : fields) {
    put_varint(block, field.size());
    block.append(field);
  }
  block_ = std::make_unique_for_overwrite<char[]>(block.size());
  std::memcpy(block_.get(), block.data(), block.size());
}

PackedStrings::PackedStrings(const PackedStrings& other) {
  if (!other.block_) return;
  const std::size_t size = other.bytes();
  block_ = std::make_unique_for_overwrite<char[]>(size);
  std::memcpy(block_.get(), other.block_.get(), size);
}

PackedStrings& PackedStrings::operator=(const PackedStrings& other) {
  if (this != &other) *this = PackedStrings(other);
  return *this;
}

std::size_t PackedStrings::size() const {
  if (!block_) return 0;
  const char* at = block_.get();
  return get_varint(at);
}

std::string_view PackedStrings::at(std::size_t field) const {
  if (!block_) return {};
  const char* at = block_.get();
  const std::size_t count = get_varint(at);
  if (field >= count) return {};
  for (std::size_t i = 0; i < field; ++i) at += get_varint(at);
  const std::size_t size = get_varint(at);
  return {at, size};
}

std::size_t PackedStrings::bytes() const {
  const char* at = block_.get();
  const std::size_t count = get_varint(at);
  for (std::size_t i = 0; i < count; ++i) at += get_varint(at);
  return static_cast<std::size_t>(at - block_.get());
}

}  // namespace ipfence::ipam
