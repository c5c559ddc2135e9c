#include "agent/datapath/watch_event.h"

namespace ipfence::datapath {

std::string_view watch_kind_name(WatchKind kind) {
  switch (kind) {
    case WatchKind::arp_request:
      return "arp_request";
    case WatchKind::arp_reply:
      return "arp_reply";
    case WatchKind::arp_probe:
      return "arp_probe";
    case WatchKind::arp_announcement:
      return "arp_announcement";
    case WatchKind::ndp_ns:
      return "ndp_ns";
    case WatchKind::ndp_na:
      return "ndp_na";
    case WatchKind::ndp_dad:
      return "ndp_dad";
  }
  return "unknown";
}

}  // namespace ipfence::datapath
