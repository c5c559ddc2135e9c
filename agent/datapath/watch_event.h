// What the conflict watcher (the TC ingress program on each master, bpf/watch.bpf.c) reports
// to user space about one ARP or NDP frame that arrived from the wire: who claims which
// address. The datapath decodes the ring-buffer record into this; the conflict classifier
// (agent/conflict/) decides what it means. Nothing here depends on the BPF layout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/datapath/mac.h"
#include "ipam/ip_address.h"

namespace ipfence::datapath {

// RFC 5227 (ARP) and RFC 4861/4862 (NDP) frame kinds the watcher tells apart.
enum class WatchKind : std::uint8_t {
  arp_request,       // ARP request from a host that has an address (sender IP != 0)
  arp_reply,         // ARP reply
  arp_probe,         // RFC 5227 2.1.1: ARP request with sender IP 0.0.0.0
  arp_announcement,  // RFC 5227 2.3: gratuitous ARP (sender IP == target IP)
  ndp_ns,            // neighbour solicitation from a host that has an address
  ndp_na,            // neighbour advertisement
  ndp_dad,           // RFC 4862 5.4.3: NS from :: (duplicate address detection)
};

inline constexpr std::size_t kWatchKindCount = 7;

// "arp_request", "arp_reply", "arp_probe", "arp_announcement", "ndp_ns", "ndp_na", "ndp_dad":
// the names metrics labels and logs use.
std::string_view watch_kind_name(WatchKind kind);

struct WatchEvent {
  // The master the frame arrived on (as configured: its name in the node's namespace).
  std::string master;
  std::uint32_t ifindex = 0;
  // The address claimed or probed for:
  //   arp_request / arp_reply / arp_announcement: the ARP sender IP;
  //   arp_probe: the ARP target IP (the address the prober wants);
  //   ndp_ns: the IPv6 source address; ndp_na: the target address; ndp_dad: the target.
  ipam::IpAddress ip;
  // Who claims it: the ARP sender hardware address; for NDP the link-layer address option
  // (source or target) when present, else the Ethernet source.
  Mac mac;
  WatchKind kind = WatchKind::arp_request;
  std::uint16_t vlan = 0;  // outermost 802.1Q VLAN ID, 0 when untagged
  // When the kernel saw the frame, on CLOCK_MONOTONIC (bpf_ktime_get_ns), for latency.
  std::chrono::nanoseconds seen_monotonic{0};
};

}  // namespace ipfence::datapath
