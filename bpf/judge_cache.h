/* A per-CPU cache of the guard's judgements: (claimed address, source MAC) -> reason.
 *
 * Why: judge() is one to four kernel map lookups, and each costs ~20-30 ns where function
 * returns are expensive (retpolines and the SRSO "safe RET" thunk: on the benchmark VM an
 * empty helper call, bpf_ktime_get_ns, adds 30 ns, a lease-hash hit 33 ns). Array lookups
 * are inlined by the JIT and cost ~1 ns, so a pod sending from its own address pays a slot
 * read and a compare instead of a hash lookup, and the node's own traffic skips the four
 * lookups that all miss.
 *
 * Correctness rests on one number, ipf_judge_gen (guard_maps.h): the agent increments it after
 * every write to a map judge() reads. A slot is used only if it was filled under the current
 * generation. The program reads the generation BEFORE judge() looks anything up, so a slot
 * filled from a map state that a later write changed carries the old generation and is never
 * used again. This relies on loads not being reordered with older loads (x86-64, TSO); a
 * weakly ordered CPU (arm64) would need a load-acquire of the generation here.
 *
 * Direct-mapped, indexed by the address only: one slot per address, so a spoofer that sends
 * one address from two MACs only evicts its own slot. A miss costs judge() plus one 40-byte
 * write. Per CPU and TC runs with migration disabled and bottom halves off, so a slot is
 * never written by two programs at once. Not pinned: a fresh load starts empty.
 */
#ifndef IPFENCE_BPF_JUDGE_CACHE_H
#define IPFENCE_BPF_JUDGE_CACHE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "guard_maps.h"
#include "parse.h"

/* Slots per CPU, a power of two: more than the pods of a node (110 by default in
 * Kubernetes) and the node's own addresses, 20 KiB per CPU. */
#define IPF_JUDGE_SLOTS_LOG2 9
#define IPF_JUDGE_SLOTS	     (1u << IPF_JUDGE_SLOTS_LOG2)

struct ipf_judge_slot {
	__u64 gen; /* ipf_judge_gen when filled; 0 with an empty claim: never matches */
	struct ipf_claim claim; /* 28 bytes, pads zero (parse_frame's claim is zeroed first) */
	__u8 reason;		/* what judge() returned for it */
	__u8 pad[3];
};

_Static_assert(sizeof(struct ipf_claim) == 28, "ipf_claim is compared as 7 words");
_Static_assert(sizeof(struct ipf_judge_slot) == 40, "ipf_judge_slot");

/* Judgements per CPU. key __u32 slot, value struct ipf_judge_slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IPF_JUDGE_SLOTS);
	__type(key, __u32);
	__type(value, struct ipf_judge_slot);
} ipf_judge_cache SEC(".maps");

/* Fibonacci hashing of the address words: IPv4 addresses of one pool differ in the low bits,
 * which the multiply spreads into the top bits kept. */
static __always_inline __u32 judge_slot_of(const struct ipf_claim *cl)
{
	const __u32 *w = (const __u32 *)cl->ip.addr;

	return ((w[0] ^ w[1] ^ w[2] ^ w[3]) * 0x9E3779B1u) >> (32 - IPF_JUDGE_SLOTS_LOG2);
}

static __always_inline int claim_equal(const struct ipf_claim *a, const struct ipf_claim *b)
{
	const __u32 *x = (const __u32 *)a;
	const __u32 *y = (const __u32 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
		(x[5] ^ y[5]) | (x[6] ^ y[6])) == 0;
}

#endif /* IPFENCE_BPF_JUDGE_CACHE_H */
