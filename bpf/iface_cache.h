/* A per-CPU cache of the guard's interface settings: (netns cookie, ifindex) -> mode, reserved
 * policy and counter row, as ipf_iface_cfg holds them (or the defaults, for an interface
 * without an entry).
 *
 * Why: every counted frame needs its interface's settings, and ipf_iface_cfg is a hash, one
 * kernel call of ~30 ns on the benchmark VM (judge_cache.h says why calls are dear there).
 * With the settings cached and the counters in an array row (ipf_iface_ctr), a drop reads two
 * cache slots and one array row, all inlined by the JIT.
 *
 * Correctness is the judge cache's: a slot is used only if it was filled under the current
 * ipf_judge_gen, which the agent increments after every ipf_iface_cfg write, and the program
 * reads the generation before it looks ipf_iface_cfg up. So a mode switched to enforce, or a
 * row handed to another interface, takes effect with the next frame. Direct-mapped by the
 * key's hash: two interfaces sharing a slot only evict each other. Not pinned.
 */
#ifndef IPFENCE_BPF_IFACE_CACHE_H
#define IPFENCE_BPF_IFACE_CACHE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "guard_maps.h"

/* Slots per CPU, a power of two: one CPU sends on few interfaces at once. 1.5 KiB per CPU. */
#define IPF_IFACE_CACHE_SLOTS_LOG2 6
#define IPF_IFACE_CACHE_SLOTS	   (1u << IPF_IFACE_CACHE_SLOTS_LOG2)

struct ipf_iface_slot {
	__u64 gen;	    /* ipf_judge_gen when filled; never matches while netns_cookie is 0 */
	__u64 netns_cookie; /* the key, as struct ipf_iface_key */
	__u32 ifindex;
	struct ipf_iface_config cfg; /* the entry, or the defaults when there is none */
};

_Static_assert(sizeof(struct ipf_iface_slot) == 24, "ipf_iface_slot");

/* Settings per CPU. key __u32 slot, value struct ipf_iface_slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IPF_IFACE_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct ipf_iface_slot);
} ipf_iface_cache SEC(".maps");

static __always_inline __u32 iface_slot_of(const struct ipf_iface_key *where)
{
	__u32 mixed =
	    where->ifindex ^ (__u32)where->netns_cookie ^ (__u32)(where->netns_cookie >> 32);

	return (mixed * 0x9E3779B1u) >> (32 - IPF_IFACE_CACHE_SLOTS_LOG2);
}

#endif /* IPFENCE_BPF_IFACE_CACHE_H */
