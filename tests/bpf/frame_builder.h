// Builds Ethernet frames for the guard's packet tests: Ethernet with up to N VLAN tags, then
// IPv4, IPv6 (with optional extension headers), ARP or ICMPv6/NDP. Checksums are left zero:
// the guard does not look at them, and frames never leave the test.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "agent/datapath/mac.h"
#include "ipam/ip_address.h"

namespace ipfence::testing {

using Bytes = std::vector<std::uint8_t>;
using datapath::Mac;
using ipam::IpAddress;

inline constexpr std::uint16_t kEthIPv4 = 0x0800;
inline constexpr std::uint16_t kEthIPv6 = 0x86dd;
inline constexpr std::uint16_t kEthArp = 0x0806;
inline constexpr std::uint16_t kEthVlan = 0x8100;  // 802.1Q C-tag
inline constexpr std::uint16_t kEthQinQ = 0x88a8;  // 802.1ad S-tag
inline constexpr std::uint16_t kEthLldp = 0x88cc;
inline constexpr std::uint8_t kIcmpv6 = 58;
inline constexpr std::uint8_t kHopByHop = 0;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kNdpRouterSolicit = 133;
inline constexpr std::uint8_t kNdpNeighborSolicit = 135;
inline constexpr std::uint8_t kNdpNeighborAdvert = 136;

inline Mac mac(const char* text) {
  return Mac::parse(text).value();
}
inline IpAddress ip(const char* text) {
  return IpAddress::parse(text).value();
}

inline void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline void put(Bytes& b, const Bytes& more) {
  b.insert(b.end(), more.begin(), more.end());
}
inline void put_mac(Bytes& b, const Mac& m) {
  b.insert(b.end(), m.bytes.begin(), m.bytes.end());
}
inline void put_ip(Bytes& b, const IpAddress& a) {
  const auto bytes = a.to_bytes();
  b.insert(b.end(), bytes.begin(), bytes.begin() + (a.is_v4() ? 4 : 16));
}

// Layer 2: source MAC, and the TPIDs of the VLAN tags, outermost first.
struct L2 {
  Mac src;
  std::vector<std::uint16_t> tags;
  Mac dst = mac("ff:ff:ff:ff:ff:ff");
};

// Ethernet header, tags (VID 100 + i), ethertype, payload. The number of header bytes before
// the payload is 14 + 4 * tags.
inline Bytes ethernet(const L2& l2, std::uint16_t ethertype, const Bytes& payload) {
  Bytes b;
  put_mac(b, l2.dst);
  put_mac(b, l2.src);
  for (std::size_t i = 0; i < l2.tags.size(); ++i) {
    put16(b, l2.tags[i]);
    put16(b, static_cast<std::uint16_t>(100 + i));  // TCI: priority 0, VID 100+i
  }
  put16(b, ethertype);
  put(b, payload);
  return b;
}

inline std::size_t l2_size(const L2& l2) {
  return 14 + 4 * l2.tags.size();
}

// IPv4 header (IHL 5 + options/4) and payload.
inline Bytes ipv4(const IpAddress& src, const IpAddress& dst, const Bytes& payload = Bytes(8, 0),
                  const Bytes& options = {}, std::uint8_t proto = kUdp) {
  Bytes b;
  b.push_back(static_cast<std::uint8_t>(0x40 | (5 + options.size() / 4)));
  b.push_back(0);
  put16(b, static_cast<std::uint16_t>(20 + options.size() + payload.size()));
  put16(b, 0x1234);  // id
  put16(b, 0x4000);  // DF
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);  // checksum
  put_ip(b, src);
  put_ip(b, dst);
  put(b, options);
  put(b, payload);
  return b;
}

// IPv6 header; `next` is the first next-header value; `payload` holds any extension headers.
inline Bytes ipv6(const IpAddress& src, const IpAddress& dst, std::uint8_t next,
                  const Bytes& payload) {
  Bytes b = {0x60, 0, 0, 0};
  put16(b, static_cast<std::uint16_t>(payload.size()));
  b.push_back(next);
  b.push_back(255);  // hop limit (NDP requires 255)
  put_ip(b, src);
  put_ip(b, dst);
  put(b, payload);
  return b;
}

// An 8-byte Hop-by-Hop (or Destination Options) header with PadN, followed by `payload`.
inline Bytes ext_header(std::uint8_t next, const Bytes& payload) {
  Bytes b = {next, 0, 1, 4, 0, 0, 0, 0};
  put(b, payload);
  return b;
}

inline Bytes icmpv6(std::uint8_t type, const Bytes& body) {
  Bytes b = {type, 0, 0, 0};
  put(b, body);
  return b;
}

// Neighbor Solicitation / Advertisement body: 4 bytes reserved/flags, then the target.
inline Bytes ndp_body(const IpAddress& target, std::uint8_t flags = 0) {
  Bytes b = {flags, 0, 0, 0};
  put_ip(b, target);
  return b;
}

// Ethernet/IPv4 ARP (op 1 request, 2 reply).
inline Bytes arp(std::uint16_t op, const Mac& sha, const IpAddress& spa, const Mac& tha,
                 const IpAddress& tpa, std::uint16_t htype = 1) {
  Bytes b;
  put16(b, htype);
  put16(b, kEthIPv4);
  b.push_back(6);
  b.push_back(4);
  put16(b, op);
  put_mac(b, sha);
  put_ip(b, spa);
  put_mac(b, tha);
  put_ip(b, tpa);
  return b;
}

// Whole frames.
inline Bytes ipv4_frame(const L2& l2, const IpAddress& src, const IpAddress& dst = ip("10.1.0.1")) {
  return ethernet(l2, kEthIPv4, ipv4(src, dst));
}
inline Bytes ipv6_frame(const L2& l2, const IpAddress& src,
                        const IpAddress& dst = ip("fd00:1::1")) {
  return ethernet(l2, kEthIPv6, ipv6(src, dst, kUdp, Bytes(8, 0)));
}
inline Bytes arp_frame(const L2& l2, std::uint16_t op, const IpAddress& spa, const IpAddress& tpa) {
  return ethernet(l2, kEthArp, arp(op, l2.src, spa, mac("00:00:00:00:00:00"), tpa));
}
inline Bytes ndp_frame(const L2& l2, std::uint8_t type, const IpAddress& src,
                       const IpAddress& target) {
  return ethernet(l2, kEthIPv6, ipv6(src, ip("ff02::1"), kIcmpv6, icmpv6(type, ndp_body(target))));
}

}  // namespace ipfence::testing
