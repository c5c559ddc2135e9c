// A fixed list of strings in one heap block: a LEB128 field count, then per field a LEB128
// length and the bytes. For records the view keeps per allocation or attachment, where a
// std::string per field (32 bytes, plus a heap block past 15 characters) costs more than
// the text itself. Read-only once built; reading field i walks i lengths.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string_view>
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
  PackedStrings(PackedStrings&&) noexcept = default;
  PackedStrings& operator=(PackedStrings&&) noexcept = default;

  std::size_t size() const;                      // number of fields
  std::string_view at(std::size_t field) const;  // "" past the end

 private:
  std::size_t bytes() const;       // of the whole block
  std::unique_ptr<char[]> block_;  // null: no fields
};

}  // namespace ipfence::ipam
