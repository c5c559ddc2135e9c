// Lowercase hex digits, one definition for the code that packs IDs, keys and MACs as bytes
// (id_text.cpp, store/key_text.cpp, allocation_record.cpp): only lowercase is packed, so that
// the text comes back exactly as it was written.
#pragma once

namespace ipfence::hex {

inline constexpr char kLowerDigits[] = "0123456789abcdef";

// The value of a lowercase hex digit; -1 for anything else, upper case included.
constexpr int lower_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace ipfence::hex
