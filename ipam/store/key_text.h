// How KeyIndex keeps a key: its text, except that a run of 32 or more lowercase hex digits (a
// runtime's container ID, as in "attachments/<64 hex>/eth0") is kept as bytes, two digits a
// byte. At 65,536 pods that is 32 bytes of every attachment key, 2 MB of each process's index.
//
// Stored form: bytes of the text as they are, but a zero byte is written 0x00 0x00 and a packed
// piece of a run is 0x00, n (1..255), then n bytes. A run of odd length keeps its last digit as
// text. Stored forms compare, through decode_cursor, exactly as the texts they came from.
#pragma once

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>

namespace ipfence::store::key_text {

// Appends the stored form of `text` to `out`; false when it is the text itself (nothing packed,
// no zero byte), so that such keys are compared and read without decoding.
bool encode(std::string_view text, std::string& out);

// The text of a stored form that encode() returned true for.
std::string decode(std::string_view stored);

// The text of a stored form, character by character; -1 after the last.
class Cursor {
 public:
  explicit Cursor(std::string_view stored)
      : at_(reinterpret_cast<const unsigned char*>(stored.data())), end_(at_ + stored.size()) {}
  int next();

 private:
  const unsigned char* at_;
  const unsigned char* end_;
  std::size_t packed_left_ = 0;  // bytes left in the packed piece at at_
  bool low_nibble_ = false;      // the next digit is the low half of *at_
};

// The order of the texts (as std::string_view orders them: bytes unsigned).
std::strong_ordering compare_stored(std::string_view a, std::string_view b);
std::strong_ordering compare_stored_with_text(std::string_view stored, std::string_view text);

}  // namespace ipfence::store::key_text
