// Compile-time checks that the C++ compiler lays out every bpf/abi.h struct exactly as
// clang -target bpf does (the sizes and offsets below are the ones the BPF object uses).
// A failure here means abi.h changed without its padding being fixed: the kernel and the
// agent would disagree about map keys and values.
#include <cstddef>

#include "bpf/abi.h"

#define IPF_CHECK_SIZE(type, size) static_assert(sizeof(struct type) == (size), #type " size")
#define IPF_CHECK_OFFSET(type, field, offset) \
  static_assert(offsetof(struct type, field) == (offset), #type "." #field " offset")

IPF_CHECK_SIZE(ipf_lease_key, 20);
IPF_CHECK_OFFSET(ipf_lease_key, family, 0);
IPF_CHECK_OFFSET(ipf_lease_key, pad, 1);
IPF_CHECK_OFFSET(ipf_lease_key, addr, 4);

IPF_CHECK_SIZE(ipf_lease, 8);
IPF_CHECK_OFFSET(ipf_lease, mac, 0);
IPF_CHECK_OFFSET(ipf_lease, flags, 6);
IPF_CHECK_OFFSET(ipf_lease, pad, 7);

IPF_CHECK_SIZE(ipf_lpm_v4_key, 8);
IPF_CHECK_OFFSET(ipf_lpm_v4_key, prefixlen, 0);
IPF_CHECK_OFFSET(ipf_lpm_v4_key, addr, 4);

IPF_CHECK_SIZE(ipf_lpm_v6_key, 20);
IPF_CHECK_OFFSET(ipf_lpm_v6_key, prefixlen, 0);
IPF_CHECK_OFFSET(ipf_lpm_v6_key, addr, 4);

IPF_CHECK_SIZE(ipf_mac_key, 8);
IPF_CHECK_OFFSET(ipf_mac_key, mac, 0);
IPF_CHECK_OFFSET(ipf_mac_key, pad, 6);

IPF_CHECK_SIZE(ipf_iface_key, 16);
IPF_CHECK_OFFSET(ipf_iface_key, netns_cookie, 0);
IPF_CHECK_OFFSET(ipf_iface_key, ifindex, 8);
IPF_CHECK_OFFSET(ipf_iface_key, pad, 12);

IPF_CHECK_SIZE(ipf_iface_config, 4);
IPF_CHECK_OFFSET(ipf_iface_config, mode, 0);
IPF_CHECK_OFFSET(ipf_iface_config, reserved_policy, 1);
IPF_CHECK_OFFSET(ipf_iface_config, counter_slot, 2);

IPF_CHECK_SIZE(ipf_counter_key, 16);
IPF_CHECK_OFFSET(ipf_counter_key, netns_cookie, 0);
IPF_CHECK_OFFSET(ipf_counter_key, ifindex, 8);
IPF_CHECK_OFFSET(ipf_counter_key, reason, 12);
IPF_CHECK_OFFSET(ipf_counter_key, verdict, 13);
IPF_CHECK_OFFSET(ipf_counter_key, pad, 14);

IPF_CHECK_SIZE(ipf_counter, 16);
IPF_CHECK_OFFSET(ipf_counter, packets, 0);
IPF_CHECK_OFFSET(ipf_counter, bytes, 8);

IPF_CHECK_SIZE(ipf_iface_counters, 16 * IPF_REASON_COUNT * IPF_VERDICT_COUNT);
IPF_CHECK_OFFSET(ipf_iface_counters, by, 0);
static_assert(IPF_IFACE_COUNTER_SLOTS > 1 && IPF_IFACE_COUNTER_SLOTS <= 65536,
              "counter rows are numbered by ipf_iface_config.counter_slot, row 0 unused");

// The counters map's per-CPU values are read as arrays of 8-byte-aligned slots.
static_assert(sizeof(struct ipf_counter) % 8 == 0, "ipf_counter is a whole number of u64s");
static_assert(IPF_REASON_COUNT <= 256 && IPF_VERDICT_COUNT <= 256, "codes fit in __u8");
