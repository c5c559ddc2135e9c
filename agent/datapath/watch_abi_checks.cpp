// Compile-time checks that the C++ compiler lays out the conflict watcher's bpf/abi.h structs
// exactly as clang -target bpf does (bpf/watch.bpf.c asserts the same sizes), and that its
// kind codes are the C++ WatchKind's, so a record decodes by a plain cast.
#include <cstddef>

#include "agent/datapath/watch_event.h"
#include "bpf/abi.h"

#define IPF_CHECK_SIZE(type, size) static_assert(sizeof(struct type) == (size), #type " size")
#define IPF_CHECK_OFFSET(type, field, offset) \
  static_assert(offsetof(struct type, field) == (offset), #type "." #field " offset")

IPF_CHECK_SIZE(ipf_watch_event, 40);
IPF_CHECK_OFFSET(ipf_watch_event, ktime_ns, 0);
IPF_CHECK_OFFSET(ipf_watch_event, ifindex, 8);
IPF_CHECK_OFFSET(ipf_watch_event, vlan, 12);
IPF_CHECK_OFFSET(ipf_watch_event, kind, 14);
IPF_CHECK_OFFSET(ipf_watch_event, family, 15);
IPF_CHECK_OFFSET(ipf_watch_event, addr, 16);
IPF_CHECK_OFFSET(ipf_watch_event, mac, 32);
IPF_CHECK_OFFSET(ipf_watch_event, pad, 38);
// Ring-buffer records are 8-byte aligned: no tail padding the kernel would not copy.
static_assert(sizeof(struct ipf_watch_event) % 8 == 0, "ipf_watch_event is whole u64s");

IPF_CHECK_SIZE(ipf_watch_ip_key, 20);
IPF_CHECK_OFFSET(ipf_watch_ip_key, addr, 0);
IPF_CHECK_OFFSET(ipf_watch_ip_key, family, 16);
IPF_CHECK_OFFSET(ipf_watch_ip_key, pad, 17);

IPF_CHECK_SIZE(ipf_watch_last, 24);
IPF_CHECK_OFFSET(ipf_watch_last, mac, 0);
IPF_CHECK_OFFSET(ipf_watch_last, pad, 6);
IPF_CHECK_OFFSET(ipf_watch_last, claim_ns, 8);
IPF_CHECK_OFFSET(ipf_watch_last, probe_ns, 16);

namespace {

using ipfence::datapath::WatchKind;

constexpr bool same(WatchKind kind, int code) {
  return static_cast<int>(kind) == code;
}

static_assert(same(WatchKind::arp_request, IPF_WATCH_ARP_REQUEST));
static_assert(same(WatchKind::arp_reply, IPF_WATCH_ARP_REPLY));
static_assert(same(WatchKind::arp_probe, IPF_WATCH_ARP_PROBE));
static_assert(same(WatchKind::arp_announcement, IPF_WATCH_ARP_ANNOUNCEMENT));
static_assert(same(WatchKind::ndp_ns, IPF_WATCH_NDP_NS));
static_assert(same(WatchKind::ndp_na, IPF_WATCH_NDP_NA));
static_assert(same(WatchKind::ndp_dad, IPF_WATCH_NDP_DAD));
static_assert(ipfence::datapath::kWatchKindCount == IPF_WATCH_KIND_COUNT);
static_assert(int{IPF_WATCH_CTR_COUNT} == int{IPF_WATCH_CTR_KIND_SENT} + int{IPF_WATCH_KIND_COUNT});

}  // namespace
