/* Maps of the conflict watcher (watch.bpf.c).
 *
 * Its own maps (ipf_watch_*) are pinned by name next to the guard's, for the same reason: the
 * ingress filter outlives the agent, and a restarted agent adopts the ring buffer (with the
 * events written while it was down), the dedup state and the counters. Names are at most 15
 * characters (BPF_OBJ_NAME_LEN) and are part of the pin ABI. max_entries here are defaults:
 * the agent sets its configured sizes before load.
 *
 * Which addresses matter is the guard's knowledge: the four prefix tries below are declared
 * with the layout of guard_maps.h but are never created by this object. User space hands it
 * the guard's maps (bpf_map__reuse_fd, from the guard's pins or its fds) before load, so the
 * watcher sees every sync of the guard at once and no copy can drift. They carry no pinning
 * attribute: libbpf's pin reuse would refuse the guard's maps whenever their configured
 * capacity differs from the numbers here.
 */
#ifndef IPFENCE_BPF_WATCH_MAPS_H
#define IPFENCE_BPF_WATCH_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"

/* Events for user space. Records are struct ipf_watch_event. Size in bytes, a power of 2. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_watch_rb SEC(".maps");

/* Dedup: per address, the MAC of its last event and when the last probe and claim events for
 * (address, that MAC) were sent. key struct ipf_watch_ip_key, value struct ipf_watch_last.
 * LRU: a flood of new addresses evicts the least recently seen instead of failing; keyed by
 * address, not by (address, MAC), so a flood of new MACs for one address takes one entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ipf_watch_ip_key);
	__type(value, struct ipf_watch_last);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_watch_seen SEC(".maps");

/* Counters. key __u32 enum ipf_watch_counter, value __u64 per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IPF_WATCH_CTR_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_watch_cnt SEC(".maps");

/* The guard's tries (guard_maps.h), reused by fd: pool and reserved prefixes per family.
 * key struct ipf_lpm_v4_key / ipf_lpm_v6_key, value __u8. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct ipf_lpm_v4_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ipf_pool_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct ipf_lpm_v6_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ipf_pool_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct ipf_lpm_v4_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ipf_resv_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct ipf_lpm_v6_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ipf_resv_v6 SEC(".maps");

#endif /* IPFENCE_BPF_WATCH_MAPS_H */
