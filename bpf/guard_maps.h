/* Maps of the guard program. All are pinned by name under the agent's pin dir, so that
 * enforcement goes on while the agent is down and a restarted agent adopts them. The
 * max_entries here are defaults: the agent sets its configured capacities before load.
 * Names are at most 15 characters (BPF_OBJ_NAME_LEN) and are part of the pin ABI.
 */
#ifndef IPFENCE_BPF_GUARD_MAPS_H
#define IPFENCE_BPF_GUARD_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"

/* Leases: who holds each address. key struct ipf_lease_key, value struct ipf_lease. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ipf_lease_key);
	__type(value, struct ipf_lease);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_leases SEC(".maps");

/* Reserved IPv4 ranges as minimal CIDR covers. key struct ipf_lpm_v4_key, value __u8 (1). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct ipf_lpm_v4_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_resv_v4 SEC(".maps");

/* Reserved IPv6 ranges as minimal CIDR covers. key struct ipf_lpm_v6_key, value __u8 (1). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct ipf_lpm_v6_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_resv_v6 SEC(".maps");

/* Managed IPv4 pool ranges as minimal CIDR covers. key struct ipf_lpm_v4_key, value __u8. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct ipf_lpm_v4_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_pool_v4 SEC(".maps");

/* Managed IPv6 pool ranges as minimal CIDR covers. key struct ipf_lpm_v6_key, value __u8. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct ipf_lpm_v6_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_pool_v6 SEC(".maps");

/* MACs of local pods. key struct ipf_mac_key, value __u8 (1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ipf_mac_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_pod_macs SEC(".maps");

/* The generation of the per-CPU caches (judge_cache.h, iface_cache.h): what was cached under
 * an older value is not used. Every writer of ipf_leases, the four tries and ipf_pod_macs
 * (the maps judge() reads) and of ipf_iface_cfg increments it after writing. key __u32 0,
 * value __u64. Pinned, so that a program still attached from an earlier agent run sees the
 * bumps of the current one. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_judge_gen SEC(".maps");

/* Mode and reserved policy per interface. key struct ipf_iface_key, value struct
 * ipf_iface_config. An interface without an entry runs with the rodata defaults. The keys in
 * the agent's own namespace are also its record of which masters it attached to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ipf_iface_key);
	__type(value, struct ipf_iface_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_iface_cfg SEC(".maps");

/* Counted frames per interface, reason and verdict, for interfaces without a row in
 * ipf_iface_ctr (no ipf_iface_cfg entry, or every row taken). key struct ipf_counter_key,
 * value struct ipf_counter per CPU. Keys appear only for interfaces that counted something;
 * the agent removes those of interfaces it detaches. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct ipf_counter_key);
	__type(value, struct ipf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_counters SEC(".maps");

/* Counted frames of interfaces that have a row (ipf_iface_config.counter_slot), per CPU:
 * an array, which the JIT inlines, where ipf_counters costs a hash lookup in the kernel per
 * counted frame (30 ns on the benchmark VM). The agent hands rows out and zeroes a row before
 * it reuses it. key __u32 row, value struct ipf_iface_counters. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IPF_IFACE_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, struct ipf_iface_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ipf_iface_ctr SEC(".maps");

#endif /* IPFENCE_BPF_GUARD_MAPS_H */
