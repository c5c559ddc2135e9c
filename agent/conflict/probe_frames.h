// The frames of an active conflict probe, built byte by byte (they go out on an AF_PACKET
// socket, so nothing below us fills in any field):
//   IPv4: an RFC 5227 2.1.1 ARP probe: broadcast ARP request, sender IP 0.0.0.0, target
//         hardware address zero, target IP the candidate;
//   IPv6: an RFC 4862 5.4.2 DAD neighbour solicitation: from :: to the candidate's
//         solicited-node multicast group, hop limit 255, no source link-layer option (a
//         solicitation from :: must not carry one, RFC 4861 4.3).
// Both are what the guard lets through from the node (probe and DAD sources pass), and what
// any host that has the address answers: an ARP reply, or a neighbour advertisement to
// all-nodes; a host probing for it at the same time sends the same probe back.
#pragma once

#include <cstdint>
#include <vector>

#include "agent/datapath/mac.h"
#include "ipam/ip_address.h"

namespace ipfence::agent {

std::vector<std::uint8_t> arp_probe_frame(const datapath::Mac& source,
                                          const ipam::IpAddress& target);
std::vector<std::uint8_t> dad_probe_frame(const datapath::Mac& source,
                                          const ipam::IpAddress& target);
// The one that fits the address's family.
std::vector<std::uint8_t> probe_frame(const datapath::Mac& source, const ipam::IpAddress& target);

}  // namespace ipfence::agent
