#include "ipam/id_text.h"

#include "ipam/hex_digits.h"

namespace ipfence::ipam {
namespace {

constexpr std::size_t kUuidLength = 36;
constexpr std::size_t kMinHexDigits = 32;  // shorter IDs are not worth a shape

using hex::append_bytes_of_digits;
using hex::kLowerDigits;
using hex::lower_digit_value;

bool is_lower_hex(std::string_view text) {
  for (char c : text)
    if (lower_digit_value(c) < 0) return false;
  return true;
}

void append_hex_of_bytes(std::string_view bytes, std::string& out) {
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kLowerDigits[b >> 4]);
    out.push_back(kLowerDigits[b & 0xf]);
  }
}

// 8-4-4-4-12 lowercase hex digits.
bool is_uuid(std::string_view text) {
  if (text.size() != kUuidLength) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : lower_digit_value(text[i]) < 0) return false;
  }
  return true;
}

void append_uuid_bytes(std::string_view uuid, std::string& out) {
  for (std::size_t i = 0; i < uuid.size();) {
    if (uuid[i] == '-') {
      ++i;
      continue;
    }
    append_bytes_of_digits(uuid.substr(i, 2), out);
    i += 2;
  }
}

std::string uuid_text(std::string_view bytes) {
  std::string out;
  out.reserve(kUuidLength);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    append_hex_of_bytes(bytes.substr(i, 1), out);
  }
  return out;
}

}  // namespace

IdShape pack_id(std::string_view text, std::string& out) {
  if (text.size() >= kMinHexDigits && text.size() % 2 == 0 && is_lower_hex(text)) {
    append_bytes_of_digits(text, out);
    return IdShape::hex;
  }
  if (is_uuid(text)) {
    append_uuid_bytes(text, out);
    return IdShape::uuid;
  }
  if (text.starts_with(kCniNetnsPrefix) && is_uuid(text.substr(kCniNetnsPrefix.size()))) {
    append_uuid_bytes(text.substr(kCniNetnsPrefix.size()), out);
    return IdShape::cni_netns;
  }
  out.append(text);
  return IdShape::text;
}

std::string unpack_id(IdShape shape, std::string_view packed) {
  switch (shape) {
    case IdShape::hex: {
      std::string out;
      out.reserve(packed.size() * 2);
      append_hex_of_bytes(packed, out);
      return out;
    }
    case IdShape::uuid:
      return uuid_text(packed);
    case IdShape::cni_netns:
      return std::string(kCniNetnsPrefix) + uuid_text(packed);
    case IdShape::text:
      break;
  }
  return std::string(packed);
}

}  // namespace ipfence::ipam
