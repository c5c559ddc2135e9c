// SPDX-License-Identifier: GPL-2.0
/* The conflict watcher: TC ingress on every macvlan master. It reads the ARP and NDP frames
 * that arrive from the wire (watch_parse.h says which address and MAC each one claims) and
 * tells user space, through a ring buffer, about claims on addresses the agent manages: those
 * inside a pool or a reserved set (the guard's tries, shared: watch_maps.h). The agent decides
 * what a claim means (a conflict with a pod, a squatter, a probe, an expected reserved user).
 *
 * It only observes: every frame leaves with TC_ACT_UNSPEC, unchanged, so the next filter on the
 * hook (if any) still runs and the frame goes on as if the watcher were not there.
 *
 * Dedup, so that a chatty host or a flood costs user space little: an (address, MAC) pair is
 * reported again only after ipf_watch_dedup_ns, except that a claim with another MAC than the
 * address's last event is reported at once (a second host on the address is the news); probes
 * and claims of a pair are deduplicated apart. One LRU entry per address holds all of it
 * (abi.h struct ipf_watch_last), so a repeat costs one lookup. A reservation in the ring
 * buffer that fails (full) is counted as lost and leaves the dedup state alone, so the next
 * frame of the pair tries again.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "watch_maps.h"
#include "watch_ndp.h"
#include "watch_parse.h"

/* The same sizes agent/datapath/watch_abi_checks.cpp asserts on the C++ side. */
_Static_assert(sizeof(struct ipf_watch_event) == 40, "ipf_watch_event");
_Static_assert(sizeof(struct ipf_watch_ip_key) == 20, "ipf_watch_ip_key");
_Static_assert(sizeof(struct ipf_watch_last) == 24, "ipf_watch_last");

/* How long an (address, MAC) pair stays quiet after an event. Set by the agent between open
 * and load; 0 reports every frame. */
const volatile __u64 ipf_watch_dedup_ns = 10ULL * 1000 * 1000 * 1000;

/* Enough linear bytes for Ethernet, two tags and ARP; pulled only when the linear part was
 * too short to read them (NDP is read with bpf_skb_load_bytes, which needs no pull). */
#define IPF_WATCH_PULL_LEN 64

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&ipf_watch_cnt, &slot);

	if (v)
		*v += 1; /* per-CPU slot, TC runs with migration disabled: no atomics needed */
}

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		(a[5] ^ b[5])) == 0;
}

/* Whether the claimed address is one the agent manages: in a pool or a reserved set. */
static __always_inline int in_scope(const struct ipf_watch_claim *cl)
{
	if (cl->family == IPF_FAMILY_V4) {
		struct ipf_lpm_v4_key key = {.prefixlen = 32};

		__builtin_memcpy(key.addr, cl->addr, 4);
		return bpf_map_lookup_elem(&ipf_pool_v4, &key) ||
		       bpf_map_lookup_elem(&ipf_resv_v4, &key);
	}
	struct ipf_lpm_v6_key key = {.prefixlen = 128};

	__builtin_memcpy(key.addr, cl->addr, 16);
	return bpf_map_lookup_elem(&ipf_pool_v6, &key) || bpf_map_lookup_elem(&ipf_resv_v6, &key);
}

static __always_inline void report(struct __sk_buff *skb, const struct ipf_watch_claim *cl)
{
	const int probe = cl->kind == IPF_WATCH_ARP_PROBE || cl->kind == IPF_WATCH_NDP_DAD;
	struct ipf_watch_ip_key ip = {.family = cl->family};
	struct ipf_watch_last *last;
	struct ipf_watch_event *ev;
	__u64 now = bpf_ktime_get_ns();
	__u64 *when = NULL;

	__builtin_memcpy(ip.addr, cl->addr, 16);
	last = bpf_map_lookup_elem(&ipf_watch_seen, &ip);
	/* Same MAC as the address's last event: a repeat unless the interval is over. Another
	 * MAC (or a first sighting): reported at once. */
	if (last && mac_equal(last->mac, cl->mac)) {
		when = probe ? &last->probe_ns : &last->claim_ns;
		if (*when && now - *when < ipf_watch_dedup_ns) {
			count(IPF_WATCH_CTR_SUPPRESSED);
			return;
		}
	}

	ev = bpf_ringbuf_reserve(&ipf_watch_rb, sizeof(*ev), 0);
	if (!ev) {
		count(IPF_WATCH_CTR_LOST);
		return;
	}
	ev->ktime_ns = now;
	ev->ifindex = skb->ifindex;
	ev->vlan = cl->vlan;
	ev->kind = cl->kind;
	ev->family = cl->family;
	__builtin_memcpy(ev->addr, cl->addr, 16);
	__builtin_memcpy(ev->mac, cl->mac, ETH_ALEN);
	ev->pad[0] = 0;
	ev->pad[1] = 0;
	/* Default wakeup: the reader is woken only when it has caught up, so a burst costs one. */
	bpf_ringbuf_submit(ev, 0);

	if (when) {
		/* In place: no update call. Two CPUs racing on one address, or an LRU entry
		 * recycled under us, cost at worst one event too many or too few. */
		*when = now;
	} else {
		struct ipf_watch_last fresh = {};

		__builtin_memcpy(fresh.mac, cl->mac, ETH_ALEN);
		if (probe)
			fresh.probe_ns = now;
		else
			fresh.claim_ns = now;
		bpf_map_update_elem(&ipf_watch_seen, &ip, &fresh, BPF_ANY);
	}
	count(IPF_WATCH_CTR_SENT);
	count(IPF_WATCH_CTR_KIND_SENT + cl->kind);
}

SEC("tc")
int ipf_watch(struct __sk_buff *skb)
{
	struct ipf_watch_claim claim = {};
	enum ipf_watch_parse parsed;

	parsed = watch_parse_frame((void *)(long)skb->data, (void *)(long)skb->data_end, &claim);
	/* Headers partly in paged data: make them linear (the bytes stay as they are) and read
	 * again before calling the frame malformed. */
	if (parsed == IPF_WATCH_MALFORMED && skb->data_end - skb->data < skb->len) {
		__u32 want = skb->len < IPF_WATCH_PULL_LEN ? skb->len : IPF_WATCH_PULL_LEN;

		if (bpf_skb_pull_data(skb, want) == 0) {
			__builtin_memset(&claim, 0, sizeof(claim));
			parsed = watch_parse_frame((void *)(long)skb->data,
						   (void *)(long)skb->data_end, &claim);
		}
	}
	if (parsed == IPF_WATCH_IPV6)
		parsed = watch_parse_ndp(skb, &claim);
	if (parsed == IPF_WATCH_IGNORE)
		return TC_ACT_UNSPEC;
	if (parsed == IPF_WATCH_MALFORMED) {
		count(IPF_WATCH_CTR_MALFORMED);
		return TC_ACT_UNSPEC;
	}
	/* On a real ingress path the kernel has already moved the outer tag out of the frame
	 * (skb_vlan_untag before the TC hook); the frame itself then shows only inner tags. */
	if (skb->vlan_present)
		claim.vlan = skb->vlan_tci & 0x0fff;
	if (!in_scope(&claim)) {
		count(IPF_WATCH_CTR_OUT_OF_SCOPE);
		return TC_ACT_UNSPEC;
	}
	report(skb, &claim);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
