#include "agent/datapath/mac.h"

#include <cstdio>

namespace ipfence::datapath {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Mac> Mac::parse(std::string_view text) {
  auto invalid = [&] {
    return make_error(ErrorCode::invalid_argument,
                      "invalid MAC address '" + std::string(text) + "'");
  };
  // "aa:bb:cc:dd:ee:ff": 6 pairs and 5 separators, all of the same kind.
  if (text.size() != 17) return invalid();
  const char sep = text[2];
  if (sep != ':' && sep != '-') return invalid();
  Mac mac;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != sep) return invalid();
    const int hi = hex_digit(text[at]);
    const int lo = hex_digit(text[at + 1]);
    if (hi < 0 || lo < 0) return invalid();
    mac.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string Mac::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

}  // namespace ipfence::datapath
