#include "ipam/store/key_text.h"

#include <algorithm>

#include "ipam/hex_digits.h"

namespace ipfence::store::key_text {
namespace {

constexpr std::size_t kMinRun = 32;     // shorter hex runs are not worth a marker
constexpr std::size_t kMaxPiece = 255;  // bytes in one packed piece (its length is one byte)

using hex::kLowerDigits;
using hex::lower_digit_value;

template <class NextA, class NextB>
std::strong_ordering compare_with(NextA next_a, NextB next_b) {
  for (;;) {
    const int a = next_a();
    const int b = next_b();
    if (a != b) return a <=> b;
    if (a < 0) return std::strong_ordering::equal;
  }
}

}  // namespace

bool encode(std::string_view text, std::string& out) {
  bool differs = false;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t run = 0;
    while (i + run < text.size() && lower_digit_value(text[i + run]) >= 0) ++run;
    if (run >= kMinRun) {
      for (std::size_t bytes = run / 2; bytes > 0;) {
        const std::size_t piece = std::min(bytes, kMaxPiece);
        out.push_back('\0');
        out.push_back(static_cast<char>(piece));
        hex::append_bytes_of_digits(text.substr(i, 2 * piece), out);
        i += 2 * piece;
        bytes -= piece;
      }
      if (run % 2 != 0) out.push_back(text[i++]);
      differs = true;
    } else if (run > 0) {
      out.append(text.substr(i, run));
      i += run;
    } else {
      if (text[i] == '\0') {
        out.push_back('\0');
        differs = true;
      }
      out.push_back(text[i++]);
    }
  }
  return differs;
}

int Cursor::next() {
  if (packed_left_ > 0) {
    const unsigned byte = *at_;
    if (!low_nibble_) {
      low_nibble_ = true;
      return kLowerDigits[byte >> 4];
    }
    low_nibble_ = false;
    ++at_;
    --packed_left_;
    return kLowerDigits[byte & 0xf];
  }
  if (at_ == end_) return -1;
  const unsigned char c = *at_++;
  if (c != 0) return c;
  const unsigned char piece = *at_++;
  if (piece == 0) return 0;  // a zero byte of the text
  packed_left_ = piece;
  return next();
}

std::string decode(std::string_view stored) {
  std::string text;
  text.reserve(stored.size() * 2);
  Cursor cursor(stored);
  for (int c = cursor.next(); c >= 0; c = cursor.next()) text.push_back(static_cast<char>(c));
  return text;
}

std::strong_ordering compare_stored(std::string_view a, std::string_view b) {
  Cursor ca(a);
  Cursor cb(b);
  return compare_with([&] { return ca.next(); }, [&] { return cb.next(); });
}

std::strong_ordering compare_stored_with_text(std::string_view stored, std::string_view text) {
  Cursor cursor(stored);
  std::size_t i = 0;
  return compare_with([&] { return cursor.next(); },
                      [&] { return i < text.size() ? static_cast<unsigned char>(text[i++]) : -1; });
}

}  // namespace ipfence::store::key_text
