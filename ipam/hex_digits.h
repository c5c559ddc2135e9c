// Lowercase hex digits, one definition for the code that packs IDs, keys and MACs as bytes
// (id_text.cpp, store/key_text.cpp, allocation_record.cpp): only lowercase is packed, so that
// the text comes back exactly as it was written.
#pragma once

#include <string>
#include <string_view>

namespace ipfence::hex {

inline constexpr char kLowerDigits[] = "0123456789abcdef";

// The value of a lowercase hex digit; -1 for anything else, upper case included.
constexpr int lower_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Appends the bytes that pairs of lowercase digits spell ("0a1b" -> 0x0a 0x1b); an odd last
// digit is left out. The digits must be lowercase hex (lower_digit_value >= 0).
inline void append_bytes_of_digits(std::string_view digits, std::string& out) {
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(
        static_cast<char>(lower_digit_value(digits[i]) * 16 + lower_digit_value(digits[i + 1])));
}

}  // namespace ipfence::hex
