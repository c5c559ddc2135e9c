#include "agent/datapath/watch_record.h"

#include <cstring>
#include <string>

#include "bpf/abi.h"

namespace ipfence::datapath {

Result<WatchEvent> decode_watch_record(const void* data, std::size_t size) {
  // The kernel rounds a record's length up to 8 bytes in the buffer but reports the size
  // reserved, which is exactly sizeof(ipf_watch_event) for every record the program writes.
  if (size != sizeof(ipf_watch_event)) {
    return make_error(ErrorCode::corrupt, "watch record of " + std::to_string(size) +
                                              " bytes, expected " +
                                              std::to_string(sizeof(ipf_watch_event)));
  }
  ipf_watch_event rec;
  std::memcpy(&rec, data, sizeof(rec));
  if (rec.kind >= IPF_WATCH_KIND_COUNT) {
    return make_error(ErrorCode::corrupt,
                      "watch record of unknown kind " + std::to_string(static_cast<int>(rec.kind)));
  }
  WatchEvent ev;
  switch (rec.family) {
    case IPF_FAMILY_V4:
      ev.ip = ipam::IpAddress::from_bytes(ipam::IpFamily::v4, rec.addr);
      break;
    case IPF_FAMILY_V6:
      ev.ip = ipam::IpAddress::from_bytes(ipam::IpFamily::v6, rec.addr);
      break;
    default:
      return make_error(ErrorCode::corrupt, "watch record of unknown address family " +
                                                std::to_string(static_cast<int>(rec.family)));
  }
  ev.ifindex = rec.ifindex;
  std::memcpy(ev.mac.bytes.data(), rec.mac, ev.mac.bytes.size());
  ev.kind = static_cast<WatchKind>(rec.kind);  // same values: watch_abi_checks.cpp
  ev.vlan = rec.vlan;
  ev.seen_monotonic = std::chrono::nanoseconds(rec.ktime_ns);
  return ev;
}

}  // namespace ipfence::datapath
