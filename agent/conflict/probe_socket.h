// Sends conflict probes (probe_frames.h) out of a master: one AF_PACKET socket that receives
// nothing (protocol 0) and writes whole Ethernet frames to the interface named per call, in
// the agent's network namespace, with the interface's own MAC as the source.
#pragma once

#include <mutex>
#include <string>

#include "agent/unique_fd.h"
#include "ipam/ip_address.h"
#include "ipam/result.h"

namespace ipfence::agent {

class ProbeSocket {
 public:
  // Needs CAP_NET_RAW.
  static Result<ProbeSocket> open();

  // One ARP probe (IPv4) or DAD solicitation (IPv6) for `target` on `ifname`. Any thread.
  Status send_probe(const std::string& ifname, const ipam::IpAddress& target);

 private:
  explicit ProbeSocket(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ipfence::agent
