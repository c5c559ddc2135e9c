// A fixed list of strings in one heap block: a LEB128 field count, then per field a LEB128
// length and the bytes. For records the view keeps per allocation or attachment, where a
// std::string per field (32 bytes, plus a heap block past 15 characters) costs more than
// the text itself. Read-only once built; reading field i walks i lengths.
//
// Copies share the block (a reference count at its start), so that a record can point at
// another record's strings instead of holding them twice: an attachment whose content is
// exactly its allocation's keeps the allocation's block (attachment_record.h).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

namespace ipfence::ipam {

class PackedStrings {
 public:
  PackedStrings() = default;  // no fields
  explicit PackedStrings(const std::vector<std::string_view>& fields);
  PackedStrings(std::initializer_list<std::string_view> fields)
      : PackedStrings(std::vector<std::string_view>(fields)) {}
  PackedStrings(const PackedStrings& other);
  PackedStrings& operator=(const PackedStrings& other);
  PackedStrings(PackedStrings&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  PackedStrings& operator=(PackedStrings&& other) noexcept;
  ~PackedStrings();

  std::size_t size() const;                      // number of fields
  std::string_view at(std::size_t field) const;  // "" past the end
  // Whether both hold the same block (not merely equal fields).
  bool shares_block_with(const PackedStrings& other) const {
    return block_ != nullptr && block_ == other.block_;
  }

 private:
  const char* fields() const;  // after the reference count
  char* block_ = nullptr;      // null: no fields
};

}  // namespace ipfence::ipam
