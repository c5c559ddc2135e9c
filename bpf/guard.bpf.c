// SPDX-License-Identifier: GPL-2.0
/* The guard: TC egress on every macvlan master (in the node's network namespace) and on each
 * pod's macvlan interface (in the pod's). It drops frames whose source address is
 * reserved, unallocated, or not held by the pod that sends them (IPv4, IPv6, ARP, NDP), and
 * passes everything else, the node's own traffic included. It decides nothing by itself:
 * the agent fills the maps (guard_maps.h) and this program looks them up.
 *
 * Decision order for a frame that claims a source address (parse.h says which one):
 *   1. leased:     MAC equal -> pass (if the lease is flagged reserved: reserved_in_use
 *                  under policy grandfather, reserved under policy drop);
 *                  MAC differs -> mac_mismatch
 *   2. not leased: reserved -> reserved; in a pool -> unallocated;
 *                  source MAC is a pod's -> spoofed; else pass.
 * Whether a leased IP is also reserved is precomputed by the agent into the lease's flags, so
 * judging a pod's own traffic costs one hash lookup; and judgements are cached per CPU
 * (judge_cache.h), so a repeated (address, MAC) costs an array read instead.
 *
 * Mode, reserved policy and counters are per interface, keyed by (netns cookie, ifindex)
 * (netns_cookie.h says why and how); the key is computed only for frames that are counted,
 * and its settings are cached per CPU too (iface_cache.h), with the counters in an array row,
 * so that a drop costs no kernel call either.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "guard_maps.h"
#include "iface_cache.h"
#include "judge_cache.h"
#include "netns_cookie.h"
#include "parse.h"

/* The same sizes agent/datapath/abi_checks.cpp asserts on the C++ side. */
_Static_assert(sizeof(struct ipf_lease_key) == 20, "ipf_lease_key");
_Static_assert(sizeof(struct ipf_lease) == 8, "ipf_lease");
_Static_assert(sizeof(struct ipf_lpm_v4_key) == 8, "ipf_lpm_v4_key");
_Static_assert(sizeof(struct ipf_lpm_v6_key) == 20, "ipf_lpm_v6_key");
_Static_assert(sizeof(struct ipf_mac_key) == 8, "ipf_mac_key");
_Static_assert(sizeof(struct ipf_iface_key) == 16, "ipf_iface_key");
_Static_assert(sizeof(struct ipf_iface_config) == 4, "ipf_iface_config");
_Static_assert(sizeof(struct ipf_counter_key) == 16, "ipf_counter_key");
_Static_assert(sizeof(struct ipf_counter) == 16, "ipf_counter");
_Static_assert(sizeof(struct ipf_iface_counters) == 336, "ipf_iface_counters");

/* Mode and reserved policy for interfaces without an ipf_iface_cfg entry. Set by the agent
 * between open and load. */
const volatile __u8 ipf_default_mode = IPF_MODE_ENFORCE;
const volatile __u8 ipf_default_policy = IPF_POLICY_GRANDFATHER;

/* Set only by bench_guard: every frame misses the judge and interface caches (and fills their
 * slots), to measure what a frame costs whose judgement is not cached yet (the first of its
 * address on a CPU, or the first after a map sync). Otherwise the verifier drops the test on
 * the rodata constant. */
const volatile __u8 ipf_judge_cache_miss = 0;

/* Enough linear bytes for Ethernet, two tags, IPv6 and the extension headers of any
 * ordinary packet; pulled only when the linear part was too short to judge. */
#define IPF_PULL_LEN 512

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		(a[5] ^ b[5])) == 0;
}

static __always_inline int in_prefixes(const struct ipf_lease_key *ip, void *v4, void *v6)
{
	if (ip->family == IPF_FAMILY_V4) {
		struct ipf_lpm_v4_key key = {.prefixlen = 32};

		__builtin_memcpy(key.addr, ip->addr, 4);
		return bpf_map_lookup_elem(v4, &key) != NULL;
	}
	struct ipf_lpm_v6_key key = {.prefixlen = 128};

	__builtin_memcpy(key.addr, ip->addr, 16);
	return bpf_map_lookup_elem(v6, &key) != NULL;
}

/* Returns the reason to count, or IPF_REASON_NONE for a plain pass. */
static __always_inline __u8 judge(const struct ipf_claim *cl)
{
	struct ipf_lease *lease = bpf_map_lookup_elem(&ipf_leases, &cl->ip);

	if (lease) {
		if (!mac_equal(lease->mac, cl->mac.mac))
			return IPF_REASON_MAC_MISMATCH;
		if (lease->flags & IPF_LEASE_F_RESERVED)
			return IPF_REASON_RESERVED_IN_USE;
		return IPF_REASON_NONE;
	}
	if (in_prefixes(&cl->ip, &ipf_resv_v4, &ipf_resv_v6))
		return IPF_REASON_RESERVED;
	if (in_prefixes(&cl->ip, &ipf_pool_v4, &ipf_pool_v6))
		return IPF_REASON_UNALLOCATED;
	if (bpf_map_lookup_elem(&ipf_pod_macs, &cl->mac))
		return IPF_REASON_SPOOFED;
	return IPF_REASON_NONE;
}

/* judge(), remembered per CPU (judge_cache.h says why and when a slot may be used). */
static __always_inline __u8 judge_cached(const struct ipf_claim *cl)
{
	__u32 zero = 0;
	__u32 idx = judge_slot_of(cl);
	__u64 *genp = bpf_map_lookup_elem(&ipf_judge_gen, &zero);
	struct ipf_judge_slot *slot = bpf_map_lookup_elem(&ipf_judge_cache, &idx);
	__u64 gen;
	__u8 reason;

	if (!genp || !slot) /* never: both are arrays and the keys are in range */
		return judge(cl);
	gen = *(volatile __u64 *)genp; /* before judge() reads any map: see judge_cache.h */
	if (!ipf_judge_cache_miss && slot->gen == gen && claim_equal(&slot->claim, cl))
		return slot->reason;
	reason = judge(cl);
	slot->gen = gen;
	__builtin_memcpy(&slot->claim, cl, sizeof(*cl));
	slot->reason = reason;
	return reason;
}

/* The interface's settings (iface_cache.h): from this CPU's cache, else from ipf_iface_cfg
 * (or the defaults when it has no entry), remembered for the next frame. */
static __always_inline struct ipf_iface_config iface_settings(const struct ipf_iface_key *where)
{
	const struct ipf_iface_config defaults = {
	    .mode = ipf_default_mode, .reserved_policy = ipf_default_policy, .counter_slot = 0};
	__u32 zero = 0;
	__u32 idx = iface_slot_of(where);
	__u64 *genp = bpf_map_lookup_elem(&ipf_judge_gen, &zero);
	struct ipf_iface_slot *slot = bpf_map_lookup_elem(&ipf_iface_cache, &idx);
	struct ipf_iface_config *cfg;
	__u64 gen;

	if (!genp || !slot) { /* never: both are arrays and the keys are in range */
		cfg = bpf_map_lookup_elem(&ipf_iface_cfg, where);
		return cfg ? *cfg : defaults;
	}
	gen = *(volatile __u64 *)genp; /* before ipf_iface_cfg is read: see iface_cache.h */
	if (!ipf_judge_cache_miss && slot->gen == gen &&
	    slot->netns_cookie == where->netns_cookie && slot->ifindex == where->ifindex)
		return slot->cfg;
	cfg = bpf_map_lookup_elem(&ipf_iface_cfg, where);
	slot->gen = gen;
	slot->netns_cookie = where->netns_cookie;
	slot->ifindex = where->ifindex;
	slot->cfg = cfg ? *cfg : defaults;
	return slot->cfg;
}

/* Per-CPU counters, and TC runs with migration disabled: no atomics needed. */
static __always_inline void count(const struct ipf_iface_key *where, __u16 row, __u8 reason,
				  __u8 verdict, __u32 len)
{
	if (row != 0) {
		__u32 at = row;
		__u32 cell = (__u32)reason * IPF_VERDICT_COUNT + verdict;
		struct ipf_iface_counters *rc = bpf_map_lookup_elem(&ipf_iface_ctr, &at);

		/* The bound is checked on the register that indexes: without the barrier, clang
		 * may test a copy, and the verifier would not know the index is in range. */
		asm volatile("" : "+r"(cell));
		if (rc && cell < IPF_REASON_COUNT * IPF_VERDICT_COUNT) {
			struct ipf_counter *c = &rc->by[0][0] + cell;

			c->packets += 1;
			c->bytes += len;
			return;
		}
		/* else a row past the array: counted in the hash below */
	}

	struct ipf_counter_key key = {.netns_cookie = where->netns_cookie,
				      .ifindex = where->ifindex,
				      .reason = reason,
				      .verdict = verdict};
	struct ipf_counter *c = bpf_map_lookup_elem(&ipf_counters, &key);
	struct ipf_counter first = {.packets = 1, .bytes = len};

	if (!c) {
		if (bpf_map_update_elem(&ipf_counters, &key, &first, BPF_NOEXIST) == 0)
			return;
		/* Another CPU created the key between our lookup and update. */
		c = bpf_map_lookup_elem(&ipf_counters, &key);
		if (!c)
			return; /* map full: the frame is still judged, only not counted */
	}
	c->packets += 1;
	c->bytes += len;
}

/* Applies the interface's mode and policy to a counted reason; returns the TC verdict. */
static __always_inline int settle(struct __sk_buff *skb, __u8 reason)
{
	struct ipf_iface_key where = {.netns_cookie = ipf_dev_netns_cookie(skb),
				      .ifindex = skb->ifindex};
	struct ipf_iface_config cfg = iface_settings(&where);

	if (reason == IPF_REASON_RESERVED_IN_USE) {
		if (cfg.reserved_policy != IPF_POLICY_DROP) {
			count(&where, cfg.counter_slot, reason, IPF_VERDICT_PASSED, skb->len);
			return TC_ACT_OK;
		}
		reason = IPF_REASON_RESERVED;
	}
	if (cfg.mode == IPF_MODE_MONITOR) {
		count(&where, cfg.counter_slot, reason, IPF_VERDICT_MONITORED, skb->len);
		return TC_ACT_OK;
	}
	count(&where, cfg.counter_slot, reason, IPF_VERDICT_DROPPED, skb->len);
	return TC_ACT_SHOT;
}

SEC("tc")
int ipf_guard(struct __sk_buff *skb)
{
	struct ipf_claim claim = {};
	enum ipf_parse_result parsed;
	__u8 reason;

	parsed = parse_frame((void *)(long)skb->data, (void *)(long)skb->data_end, &claim);
	/* Headers may sit partly in paged data (rare on egress): make them linear and parse
	 * again before calling the frame malformed. */
	if (parsed == IPF_PARSE_MALFORMED && skb->data_end - skb->data < skb->len) {
		__u32 want = skb->len < IPF_PULL_LEN ? skb->len : IPF_PULL_LEN;

		if (bpf_skb_pull_data(skb, want) == 0) {
			__builtin_memset(&claim, 0, sizeof(claim));
			parsed = parse_frame((void *)(long)skb->data, (void *)(long)skb->data_end,
					     &claim);
		}
	}
	if (parsed == IPF_PARSE_PASS)
		return TC_ACT_OK;
	reason = parsed == IPF_PARSE_MALFORMED ? IPF_REASON_MALFORMED : judge_cached(&claim);
	if (reason == IPF_REASON_NONE)
		return TC_ACT_OK;
	return settle(skb, reason);
}

char LICENSE[] SEC("license") = "GPL";
