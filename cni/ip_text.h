// Syntax checks for the addresses the plugin passes along (args.cni.ips, the agent's reply).
// The plugin only needs "is this an IPv4/IPv6 address or CIDR", which inet_pton answers; the
// agent does the real arithmetic with ipam/ip_address.h.
#pragma once

#include <optional>
#include <string_view>

namespace ipfence::cni {

// 4 or 6 when `text` is a bare IPv4/IPv6 address, else nullopt.
std::optional<int> ip_family(std::string_view text);

// 4 or 6 when `text` is "address/len" with len within the family's width, else nullopt.
std::optional<int> cidr_family(std::string_view text);

}  // namespace ipfence::cni
