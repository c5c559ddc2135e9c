// SPDX-License-Identifier: GPL-2.0
/* Baselines for bench_guard's drop paths. A drop needs its interface's mode and a counter.
 * Looked up in a hash shaped like ipf_iface_cfg and a per-CPU hash shaped like ipf_counters,
 * as the guard did before it cached interface settings per CPU (bpf/iface_cache.h) and
 * counted in array rows, these two cost what ipf_drop_floor measures: still the price of a
 * drop whose interface settings are not cached yet. ipf_call_floor makes one helper call that
 * does nothing useful, to show what a call into the kernel costs on the machine at hand. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"

/* Filled by the benchmark with one entry. key struct ipf_iface_key, value struct
 * ipf_iface_config. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ipf_iface_key);
	__type(value, struct ipf_iface_config);
} floor_cfg SEC(".maps");

/* Filled by the benchmark with one entry. key struct ipf_counter_key, value struct
 * ipf_counter per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct ipf_counter_key);
	__type(value, struct ipf_counter);
} floor_counters SEC(".maps");

SEC("tc")
int ipf_drop_floor(struct __sk_buff *skb)
{
	struct ipf_iface_key where = {.netns_cookie = 1, .ifindex = skb->ifindex};
	struct ipf_counter_key key = {.netns_cookie = 1,
				      .ifindex = skb->ifindex,
				      .reason = IPF_REASON_RESERVED,
				      .verdict = IPF_VERDICT_DROPPED};
	struct ipf_iface_config *cfg = bpf_map_lookup_elem(&floor_cfg, &where);
	struct ipf_counter *c = bpf_map_lookup_elem(&floor_counters, &key);

	if (c) {
		c->packets += 1;
		c->bytes += skb->len;
	}
	return cfg && cfg->mode == IPF_MODE_MONITOR ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int ipf_call_floor(struct __sk_buff *skb)
{
	return bpf_ktime_get_ns() == 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
