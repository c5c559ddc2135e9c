// SPDX-License-Identifier: GPL-2.0
/* A second baseline for bench_guard: one lookup in a hash map shaped like ipf_leases (same
 * key, value and size), keyed by the IPv4 source of an untagged frame, and nothing else. The
 * guard's pass path cannot cost less than this; the benchmark prints both so that a slow
 * machine is not mistaken for a slow guard. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"

/* Filled by the benchmark. key struct ipf_lease_key, value struct ipf_lease. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ipf_lease_key);
	__type(value, struct ipf_lease);
} floor_leases SEC(".maps");

SEC("tc")
int ipf_lookup_floor(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ipf_lease_key key = {.family = IPF_FAMILY_V4};

	if (data + 34 > data_end) /* Ethernet + IPv4 header */
		return TC_ACT_OK;
	__builtin_memcpy(key.addr, data + 26, 4); /* IPv4 source */
	return bpf_map_lookup_elem(&floor_leases, &key) ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
