// IPv4/IPv6 addresses, prefixes and ranges as 128-bit integers, so that one IP set and one
// allocator serve both families. Parsing never throws; errors name the offending text.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipam/result.h"

namespace ipfence::ipam {

using u128 = unsigned __int128;

enum class IpFamily : std::uint8_t { v4 = 4, v6 = 6 };

// "IPv4" / "IPv6", as in Spiderpool's messages.
std::string_view family_name(IpFamily family);
// The largest value an address of this family can hold (2^32-1 or 2^128-1).
u128 family_max(IpFamily family);

class IpAddress {
 public:
  IpAddress() = default;
  IpAddress(IpFamily family, u128 value) : family_(family), value_(value) {}
  static IpAddress v4(std::uint32_t host_order) { return {IpFamily::v4, host_order}; }

  // Accepts dotted-quad IPv4 or any RFC 4291 IPv6 text (with "::", embedded IPv4).
  // Rejects surrounding space, zones ("%eth0"), leading zeros in IPv4 octets and prefixes.
  static Result<IpAddress> parse(std::string_view text);

  IpFamily family() const { return family_; }
  bool is_v4() const { return family_ == IpFamily::v4; }
  u128 value() const { return value_; }  // IPv4 lives in the low 32 bits

  // Canonical text: dotted quad, or RFC 5952 for IPv6 (lowercase, longest zero run as "::").
  std::string to_string() const;
  // Network byte order; IPv4 uses the first 4 bytes.
  std::array<std::uint8_t, 16> to_bytes() const;
  static IpAddress from_bytes(IpFamily family, const std::uint8_t* bytes);

  // Orders by family, then value: every IPv4 address sorts before every IPv6 address.
  auto operator<=>(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::v4;
  u128 value_ = 0;
};

struct IpPrefix {
  IpAddress address;  // as written; network() masks the host bits
  std::uint8_t length = 0;

  // "10.6.0.0/16", "fd00::/64". Host bits may be set ("10.6.0.1/16" is accepted, as the
  // CNI result's address form); network() clears them.
  static Result<IpPrefix> parse(std::string_view text);

  IpFamily family() const { return address.family(); }
  IpAddress network() const;
  IpAddress last() const;  // broadcast-style last address of the prefix
  bool contains(const IpAddress& ip) const;
  std::string to_string() const;  // "network/length" of network()
  auto operator<=>(const IpPrefix&) const = default;
};

// An inclusive range first..last of one family.
struct IpRange {
  IpAddress first;
  IpAddress last;

  // Accepts a single IP, "a-b" with a <= b of one family, or a CIDR (all its addresses).
  // When `family` is set, the text must be of that family. Errors follow Spiderpool:
  //   invalid IP range format in IPv4 '10.0.0.9-10.0.0.1'
  static Result<IpRange> parse(std::string_view text, std::optional<IpFamily> family = {});

  IpFamily family() const { return first.family(); }
  u128 size() const { return last.value() - first.value() + 1; }  // 0 means 2^128
  bool contains(const IpAddress& ip) const { return ip >= first && ip <= last; }
  // "a" for a single address, else "a-b".
  std::string to_string() const;
  auto operator<=>(const IpRange&) const = default;
};

// Decimal text of a 128-bit count (for messages and JSON).
std::string u128_to_string(u128 value);

}  // namespace ipfence::ipam
