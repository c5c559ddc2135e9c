// Address, prefix and range text. The parsers are hand-written rather than inet_pton: the
// rules (no spaces, no zones, no leading zeros in IPv4 octets or prefix lengths, "::" standing
// for at least one group) must not depend on libc quirks, and a manifest that one node accepts
// must not be refused by another.
#include "ipam/ip_address.h"

#include <algorithm>
#include <cstddef>

namespace ipfence::ipam {
namespace {

constexpr u128 kU128Max = ~u128{0};
// ::ffff:0:0/96, the IPv4-mapped block: printed in mixed notation (RFC 5952 section 5).
constexpr u128 kV4MappedPrefix = u128{0xffff} << 32;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decimal without sign or leading zeros ("0" itself is fine), at most `max`. Leading zeros are
// refused because some parsers read "010" as octal 8: the same text must mean one thing.
std::optional<unsigned> parse_decimal(std::string_view text, unsigned max) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return {};
  unsigned value = 0;
  for (char c : text) {
    if (!is_digit(c)) return {};
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > max) return {};
  return value;
}

// Exactly four dotted decimal octets.
std::optional<std::uint32_t> parse_v4(std::string_view text) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t dot = text.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return {};
    auto octet = parse_decimal(text.substr(0, dot), 255);
    if (!octet) return {};
    value = (value << 8) | *octet;
    text = (dot == std::string_view::npos) ? std::string_view{} : text.substr(dot + 1);
  }
  return value;
}

// RFC 4291 section 2.2 text: eight groups of 1-4 hex digits, at most one "::" standing for
// one or more zero groups, optionally ending in a dotted quad that fills the last two groups.
std::optional<u128> parse_v6(std::string_view text) {
  std::array<std::uint16_t, 8> groups{};
  int count = 0;      // groups written so far
  int gap = -1;       // index in `groups` where "::" stands, if any
  std::size_t i = 0;  // cursor in text
  if (text.starts_with("::")) {
    gap = 0;
    i = 2;
    if (i == text.size()) return u128{0};
  } else if (text.starts_with(":")) {
    return {};
  }
  while (true) {
    // One group, or a trailing dotted quad.
    std::size_t end = i;
    while (end < text.size() && text[end] != ':' && text[end] != '.') ++end;
    if (end < text.size() && text[end] == '.') {
      if (count > 6) return {};
      auto v4 = parse_v4(text.substr(i));
      if (!v4) return {};
      groups[count++] = static_cast<std::uint16_t>(*v4 >> 16);
      groups[count++] = static_cast<std::uint16_t>(*v4 & 0xffff);
      break;
    }
    if (end == i || end - i > 4 || count == 8) return {};
    unsigned group = 0;
    for (std::size_t k = i; k < end; ++k) {
      int digit = hex_value(text[k]);
      if (digit < 0) return {};
      group = group * 16 + static_cast<unsigned>(digit);
    }
    groups[count++] = static_cast<std::uint16_t>(group);
    if (end == text.size()) break;
    // text[end] is ':'. "::" marks the gap; a trailing single ':' is an error.
    i = end + 1;
    if (i < text.size() && text[i] == ':') {
      if (gap >= 0) return {};
      gap = count;
      ++i;
      if (i == text.size()) break;
    } else if (i == text.size()) {
      return {};
    }
  }
  if (gap < 0 && count != 8) return {};
  if (gap >= 0 && count > 7) return {};  // "::" must stand for at least one group
  std::array<std::uint16_t, 8> full{};
  if (gap < 0) {
    full = groups;
  } else {
    int tail = count - gap;
    std::copy_n(groups.begin(), gap, full.begin());
    std::copy_n(groups.begin() + gap, tail, full.begin() + (8 - tail));
  }
  u128 value = 0;
  for (std::uint16_t g : full) value = (value << 16) | g;
  return value;
}

std::string v4_to_string(std::uint32_t value) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += std::to_string((value >> shift) & 0xff);
    if (shift) out += '.';
  }
  return out;
}

// RFC 5952 section 4: lowercase, no leading zeros, the longest run of two or more zero groups
// (the first on a tie) as "::".
std::string v6_to_string(u128 value) {
  bool mapped = (value >> 32) == (kV4MappedPrefix >> 32);
  int group_count = mapped ? 6 : 8;
  std::array<std::uint16_t, 8> groups{};
  for (int k = 0; k < 8; ++k) groups[k] = static_cast<std::uint16_t>(value >> (16 * (7 - k)));
  int best = -1, best_len = 1;  // a single zero group is never shortened
  for (int k = 0; k < group_count;) {
    if (groups[k] != 0) {
      ++k;
      continue;
    }
    int run = k;
    while (k < group_count && groups[k] == 0) ++k;
    if (k - run > best_len) {
      best = run;
      best_len = k - run;
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int k = 0; k < group_count; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      int digit = (groups[k] >> shift) & 0xf;
      if (digit || started || shift == 0) {
        out += kHex[digit];
        started = true;
      }
    }
  }
  if (mapped) {
    if (out.back() != ':') out += ':';
    out += v4_to_string(static_cast<std::uint32_t>(value));
  }
  return out;
}

// Bits below the prefix length.
u128 host_mask(IpFamily family, std::uint8_t length) {
  int bits = (family == IpFamily::v4 ? 32 : 128) - length;
  if (bits <= 0) return 0;
  return bits >= 128 ? kU128Max : (u128{1} << bits) - 1;
}

Error range_error(std::string_view text, IpFamily family) {
  return make_error(ErrorCode::invalid_argument, "invalid IP range format in " +
                                                     std::string(family_name(family)) + " '" +
                                                     std::string(text) + "'");
}

}  // namespace

std::string_view family_name(IpFamily family) {
  return family == IpFamily::v4 ? "IPv4" : "IPv6";
}

u128 family_max(IpFamily family) {
  return family == IpFamily::v4 ? 0xffffffffu : kU128Max;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  // The dotted quad must be checked first: "1.2.3.4" has no ':' and IPv6 text always has one.
  if (text.find(':') == std::string_view::npos) {
    if (auto v4 = parse_v4(text)) return IpAddress::v4(*v4);
  } else if (auto v6 = parse_v6(text)) {
    return IpAddress(IpFamily::v6, *v6);
  }
  return make_error(ErrorCode::invalid_argument, "invalid IP address '" + std::string(text) + "'");
}

std::string IpAddress::to_string() const {
  return is_v4() ? v4_to_string(static_cast<std::uint32_t>(value_)) : v6_to_string(value_);
}

std::array<std::uint8_t, 16> IpAddress::to_bytes() const {
  std::array<std::uint8_t, 16> bytes{};
  int n = is_v4() ? 4 : 16;
  for (int k = 0; k < n; ++k) bytes[k] = static_cast<std::uint8_t>(value_ >> (8 * (n - 1 - k)));
  return bytes;
}

IpAddress IpAddress::from_bytes(IpFamily family, const std::uint8_t* bytes) {
  int n = family == IpFamily::v4 ? 4 : 16;
  u128 value = 0;
  for (int k = 0; k < n; ++k) value = (value << 8) | bytes[k];
  return {family, value};
}

Result<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorCode::invalid_argument, "invalid CIDR '" + std::string(text) + "'");
  };
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad();
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return bad();
  auto length = parse_decimal(text.substr(slash + 1), address->is_v4() ? 32u : 128u);
  if (!length) return bad();
  return IpPrefix{*address, static_cast<std::uint8_t>(*length)};
}

IpAddress IpPrefix::network() const {
  return {family(), address.value() & ~host_mask(family(), length)};
}

IpAddress IpPrefix::last() const {
  return {family(), address.value() | host_mask(family(), length)};
}

bool IpPrefix::contains(const IpAddress& ip) const {
  return ip.family() == family() && ip >= network() && ip <= last();
}

std::string IpPrefix::to_string() const {
  return network().to_string() + "/" + std::to_string(length);
}

Result<IpRange> IpRange::parse(std::string_view text, std::optional<IpFamily> family) {
  // Spiderpool names the pool's family when it has one; otherwise guess from the text, which
  // agrees with the parsed family for every valid address (IPv6 text always has a ':').
  IpFamily error_family =
      family.value_or(text.find(':') != std::string_view::npos ? IpFamily::v6 : IpFamily::v4);
  auto bad = [&] { return range_error(text, error_family); };

  IpRange range;
  if (text.find('/') != std::string_view::npos) {
    auto prefix = IpPrefix::parse(text);
    if (!prefix) return bad();
    range = {prefix->network(), prefix->last()};
  } else {
    std::size_t dash = text.find('-');
    auto first = IpAddress::parse(text.substr(0, dash));
    if (!first) return bad();
    range = {*first, *first};
    if (dash != std::string_view::npos) {
      auto last = IpAddress::parse(text.substr(dash + 1));  // a second '-' fails here
      if (!last || last->family() != first->family() || *last < *first) return bad();
      range.last = *last;
    }
  }
  if (family && range.family() != *family) return bad();
  return range;
}

std::string IpRange::to_string() const {
  if (first == last) return first.to_string();
  return first.to_string() + "-" + last.to_string();
}

std::string u128_to_string(u128 value) {
  if (value == 0) return "0";
  std::string out;
  while (value != 0) {
    out += static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace ipfence::ipam
