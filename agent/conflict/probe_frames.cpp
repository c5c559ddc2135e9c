#include "agent/conflict/probe_frames.h"

#include <array>

namespace ipfence::agent {
namespace {

constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr std::uint8_t kIcmpv6 = 58;
constexpr std::uint8_t kNeighbourSolicitation = 135;
constexpr std::uint8_t kNdpHopLimit = 255;  // RFC 4861: anything else is dropped as off-link

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

template <typename Bytes>
void put(std::vector<std::uint8_t>& out, const Bytes& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void ethernet(std::vector<std::uint8_t>& out, const std::array<std::uint8_t, 6>& dst,
              const datapath::Mac& src, std::uint16_t type) {
  put(out, dst);
  put(out, src.bytes);
  put16(out, type);
}

// The Internet checksum over the IPv6 pseudo-header and the ICMPv6 message (RFC 4443 2.3).
std::uint16_t icmpv6_checksum(const std::array<std::uint8_t, 16>& src,
                              const std::array<std::uint8_t, 16>& dst, const std::uint8_t* message,
                              std::size_t length) {
  std::uint32_t sum = 0;
  auto add = [&](const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
      sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
  };
  add(src.data(), src.size());
  add(dst.data(), dst.size());
  sum += static_cast<std::uint32_t>(length);
  sum += kIcmpv6;
  add(message, length);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace

std::vector<std::uint8_t> arp_probe_frame(const datapath::Mac& source,
                                          const ipam::IpAddress& target) {
  std::vector<std::uint8_t> out;
  out.reserve(42);
  ethernet(out, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, source, kEtherTypeArp);
  put16(out, 1);       // hardware type: Ethernet
  put16(out, 0x0800);  // protocol type: IPv4
  out.push_back(6);    // hardware address length
  out.push_back(4);    // protocol address length
  put16(out, 1);       // request
  put(out, source.bytes);
  put(out, std::array<std::uint8_t, 4>{});  // sender IP 0.0.0.0: "I do not have it yet"
  put(out, std::array<std::uint8_t, 6>{});  // target hardware address: unknown, zero
  const auto bytes = target.to_bytes();
  out.insert(out.end(), bytes.begin(), bytes.begin() + 4);
  return out;
}

std::vector<std::uint8_t> dad_probe_frame(const datapath::Mac& source,
                                          const ipam::IpAddress& target) {
  const auto t = target.to_bytes();
  // Solicited-node multicast ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX (RFC 4291 2.7.1).
  std::array<std::uint8_t, 16> group{0xff, 0x02, 0, 0,    0,    0,     0,     0,
                                     0,    0,    0, 0x01, 0xff, t[13], t[14], t[15]};
  const std::array<std::uint8_t, 16> unspecified{};
  std::vector<std::uint8_t> out;
  out.reserve(78);
  ethernet(out, {0x33, 0x33, 0xff, t[13], t[14], t[15]}, source, kEtherTypeIpv6);
  constexpr std::uint16_t kPayload = 24;                 // ICMPv6 header 4 + reserved 4 + target 16
  put(out, std::array<std::uint8_t, 4>{0x60, 0, 0, 0});  // version 6, no class or flow
  put16(out, kPayload);
  out.push_back(kIcmpv6);
  out.push_back(kNdpHopLimit);
  put(out, unspecified);
  put(out, group);
  const std::size_t icmp = out.size();
  out.push_back(kNeighbourSolicitation);
  out.push_back(0);                         // code
  put16(out, 0);                            // checksum, filled below
  put(out, std::array<std::uint8_t, 4>{});  // reserved
  out.insert(out.end(), t.begin(), t.begin() + 16);
  const std::uint16_t sum = icmpv6_checksum(unspecified, group, out.data() + icmp, kPayload);
  out[icmp + 2] = static_cast<std::uint8_t>(sum >> 8);
  out[icmp + 3] = static_cast<std::uint8_t>(sum);
  return out;
}

std::vector<std::uint8_t> probe_frame(const datapath::Mac& source, const ipam::IpAddress& target) {
  return target.is_v4() ? arp_probe_frame(source, target) : dad_probe_frame(source, target);
}

}  // namespace ipfence::agent
