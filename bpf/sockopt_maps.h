/* Maps of the pod socket-option guard (sockopt_guard.bpf.c).
 *
 * Pinned by name next to the guard's maps, for the same reason: the program stays attached to
 * the pods' cgroup through a pinned link while the agent is down, and a restarted agent adopts
 * both maps (the guarded namespaces, the counts) and swaps in its own program. Names are at
 * most 15 characters (BPF_OBJ_NAME_LEN) and are part of the pin ABI.
 */
#ifndef IPFENCE_BPF_SOCKOPT_MAPS_H
#define IPFENCE_BPF_SOCKOPT_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"

/* The pod network namespaces whose sockets are judged: the agent adds a pod's namespace when
 * it attaches the pod-side guard and removes it when it detaches it. key __u64 netns cookie,
 * value struct ipf_sockopt_netns. One entry per pod, so the lease capacity is plenty. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ipf_sockopt_netns);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_sockopt_ns SEC(".maps");

/* Refusals. key __u32 slot (abi.h IPF_SOCKOPT_CTR_COUNT), value __u64 per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IPF_SOCKOPT_CTR_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_sockopt_cnt SEC(".maps");

#endif /* IPFENCE_BPF_SOCKOPT_MAPS_H */
