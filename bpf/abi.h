/* The only types shared by the BPF programs and user space: map keys and values, verdict and
 * reason codes. Structs and defines only; no helpers. Every field is a fixed-width uapi type
 * and every struct is padded by hand (pad fields are always written as zero), so that the
 * layout is the same for clang -target bpf and for the C++ compiler. The C++ side checks it
 * with static_asserts in agent/datapath/abi_checks.cpp.
 */
#ifndef IPFENCE_BPF_ABI_H
#define IPFENCE_BPF_ABI_H

#include <linux/types.h>

/* Address families as stored in keys (not AF_*: these are stable across platforms). */
#define IPF_FAMILY_V4 4
#define IPF_FAMILY_V6 6

/* Per-interface enforcement mode (ipf_iface_config.mode). */
enum ipf_mode {
	IPF_MODE_ENFORCE = 0, /* drop what the rules reject */
	IPF_MODE_MONITOR = 1, /* pass it, but count it as "monitored" */
};

/* What to do with a leased IP that is also reserved (ipf_iface_config.reserved_policy). */
enum ipf_reserved_policy {
	IPF_POLICY_GRANDFATHER = 0, /* the lease keeps working; counted as reserved_in_use */
	IPF_POLICY_DROP = 1,	    /* the reservation wins: dropped as reserved */
};

/* Why a frame was counted (ipf_counter_key.reason). Plain passes are not counted. */
enum ipf_reason {
	IPF_REASON_NONE = 0,
	IPF_REASON_RESERVED = 1,	/* source IP reserved, no grandfathered lease */
	IPF_REASON_UNALLOCATED = 2,	/* source IP in a managed pool, leased to nobody */
	IPF_REASON_MAC_MISMATCH = 3,	/* source IP leased, to another MAC */
	IPF_REASON_SPOOFED = 4,		/* pod MAC with a source the pod does not hold */
	IPF_REASON_MALFORMED = 5,	/* IPv4/IPv6/ARP frame too short or inconsistent */
	IPF_REASON_RESERVED_IN_USE = 6, /* grandfathered lease on a reserved IP: passed */
	IPF_REASON_COUNT = 7,
};

/* What happened to a counted frame (ipf_counter_key.verdict). */
enum ipf_verdict {
	IPF_VERDICT_PASSED = 0,	   /* passed by the rules (reserved_in_use) */
	IPF_VERDICT_DROPPED = 1,   /* dropped in enforce mode */
	IPF_VERDICT_MONITORED = 2, /* would have been dropped; passed in monitor mode */
	IPF_VERDICT_COUNT = 3,
};

/* ipf_lease.flags */
#define IPF_LEASE_F_RESERVED 0x1 /* the leased IP is inside a reserved range */

/* ipf_leases key: an address of either family. IPv4 uses addr[0..3], the rest is zero. */
struct ipf_lease_key {
	__u8 family; /* IPF_FAMILY_V4 or IPF_FAMILY_V6 */
	__u8 pad[3];
	__u8 addr[16]; /* network byte order */
};

/* ipf_leases value: the MAC of the pod that holds the address. */
struct ipf_lease {
	__u8 mac[6];
	__u8 flags; /* IPF_LEASE_F_* */
	__u8 pad;
};

/* ipf_resv_v4 / ipf_pool_v4 key (BPF_MAP_TYPE_LPM_TRIE layout: prefix length first). */
struct ipf_lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

/* ipf_resv_v6 / ipf_pool_v6 key. */
struct ipf_lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* ipf_pod_macs key: a MAC that belongs to a local pod. */
struct ipf_mac_key {
	__u8 mac[6];
	__u8 pad[2];
};

/* ipf_iface_cfg key: one interface the guard is attached to, a master in the node's network
 * namespace or a pod's interface in the pod's. The namespace is part of the key because an
 * ifindex is only unique within one: a pod's eth0 is commonly ifindex 2, as the node's first
 * NIC is. netns_cookie is the namespace's cookie (SO_NETNS_COOKIE; bpf/netns_cookie.h).
 * (Before this key, ipf_iface_cfg was keyed by a bare __u32 ifindex and ipf_counter_key was
 * {ifindex, reason, verdict}, 8 bytes; agent/datapath/guard_upgrade.cpp replaces such pins.) */
struct ipf_iface_key {
	__u64 netns_cookie;
	__u32 ifindex;
	__u32 pad;
};

/* ipf_iface_cfg value. */
struct ipf_iface_config {
	__u8 mode;	      /* enum ipf_mode */
	__u8 reserved_policy; /* enum ipf_reserved_policy */
	/* The interface's row in ipf_iface_ctr, 1..IPF_IFACE_COUNTER_SLOTS-1; 0: none, its frames
	 * are counted in ipf_counters. These two bytes were padding (always zero) before rows
	 * existed, so an entry written by an older agent reads as "no row" and still counts. */
	__u16 counter_slot;
};

/* Rows of ipf_iface_ctr (row 0 is never used: it means "no row"). More than the interfaces
 * of a node (110 pods by default in Kubernetes, plus the masters); interfaces beyond that
 * count in ipf_counters, more slowly. */
#define IPF_IFACE_COUNTER_SLOTS 256

/* ipf_counters key: one counter per (interface, reason, verdict); the interface as in
 * struct ipf_iface_key. */
struct ipf_counter_key {
	__u64 netns_cookie;
	__u32 ifindex;
	__u8 reason;  /* enum ipf_reason */
	__u8 verdict; /* enum ipf_verdict */
	__u8 pad[2];
};

/* ipf_counters value (per CPU; user space sums over CPUs). */
struct ipf_counter {
	__u64 packets;
	__u64 bytes; /* skb->len: the frame from the Ethernet header on */
};

/* ipf_iface_ctr value: every counter of one interface, by [reason][verdict] (per CPU; user
 * space sums over CPUs). Combinations the program never counts stay zero. */
struct ipf_iface_counters {
	struct ipf_counter by[IPF_REASON_COUNT][IPF_VERDICT_COUNT];
};

/* ======================== Conflict watcher (bpf/watch.bpf.c) ========================
 * Its ring-buffer record, dedup keys and counters. The watcher's maps are described in
 * bpf/watch_maps.h; the C++ side checks this layout in agent/datapath/watch_abi_checks.cpp.
 */

/* What an event reports (ipf_watch_event.kind), RFC 5227 for ARP and RFC 4861/4862 for NDP.
 * The values are those of the C++ enum WatchKind (agent/datapath/watch_event.h). */
enum ipf_watch_kind {
	IPF_WATCH_ARP_REQUEST = 0,	/* sender IP set and != target IP: claims the sender IP */
	IPF_WATCH_ARP_REPLY = 1,	/* claims the sender IP */
	IPF_WATCH_ARP_PROBE = 2,	/* request from 0.0.0.0: wants the target IP */
	IPF_WATCH_ARP_ANNOUNCEMENT = 3, /* sender IP == target IP: claims it */
	IPF_WATCH_NDP_NS = 4,		/* neighbour solicitation: claims its IPv6 source */
	IPF_WATCH_NDP_NA = 5,		/* neighbour advertisement: claims its target */
	IPF_WATCH_NDP_DAD = 6,		/* solicitation from :: (DAD): wants its target */
	IPF_WATCH_KIND_COUNT = 7,
};

/* Slots of ipf_watch_cnt, a per-CPU array of __u64 (user space sums over CPUs). A frame
 * that is neither ARP nor NS/NA is not counted at all. */
enum ipf_watch_counter {
	IPF_WATCH_CTR_SENT = 0,		/* events written to the ring buffer */
	IPF_WATCH_CTR_SUPPRESSED = 1,	/* same (IP, MAC) reported less than the interval ago */
	IPF_WATCH_CTR_LOST = 2,		/* ring buffer full: the event is gone, the frame not */
	IPF_WATCH_CTR_MALFORMED = 3,	/* cut short or inconsistent where the watcher reads */
	IPF_WATCH_CTR_OUT_OF_SCOPE = 4, /* claims an address outside every pool and reserved set */
	IPF_WATCH_CTR_KIND_SENT = 5,	/* + enum ipf_watch_kind: events sent of that kind */
	IPF_WATCH_CTR_COUNT = IPF_WATCH_CTR_KIND_SENT + IPF_WATCH_KIND_COUNT,
};

/* One ring-buffer record (ipf_watch_rb): who claims (or probes for) which address. */
struct ipf_watch_event {
	__u64 ktime_ns; /* bpf_ktime_get_ns() when the frame was seen: CLOCK_MONOTONIC */
	__u32 ifindex;	/* the interface it arrived on */
	__u16 vlan;	/* outermost 802.1Q/802.1ad VLAN ID, 0 when untagged */
	__u8 kind;	/* enum ipf_watch_kind */
	__u8 family;	/* IPF_FAMILY_V4 or IPF_FAMILY_V6 */
	__u8 addr[16];	/* network byte order; IPv4 in addr[0..3], the rest zero */
	__u8 mac[6];	/* the claimant's MAC */
	__u8 pad[2];
};

/* ipf_watch_seen key: an address of either family. */
struct ipf_watch_ip_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

/* ipf_watch_seen value: the MAC the address's last event named, and when the last event for
 * (address, that MAC) was sent, apart for probes (ARP probe, DAD) and claims (any other kind),
 * so a host that probes and then announces is reported for both. 0: none yet. Dedup by
 * (address, MAC) needs no more: a pair whose MAC is not the address's last is a MAC change,
 * reported at once anyway. */
struct ipf_watch_last {
	__u8 mac[6];
	__u8 pad[2];
	__u64 claim_ns; /* bpf_ktime_get_ns() of the last claim event */
	__u64 probe_ns; /* bpf_ktime_get_ns() of the last probe event */
};

/* ======================== Pod socket-option guard (bpf/sockopt_guard.bpf.c) ==================
 * A cgroup/setsockopt program on the pods' cgroup that refuses the socket options which let a
 * pod's frames skip the TC egress hook of its own interface (and so the pod-side guard). The
 * C++ side checks this layout in agent/datapath/sockopt_abi_checks.cpp.
 */

/* Which option a refusal was about: the column of ipf_sockopt_cnt. */
enum ipf_sockopt_option {
	IPF_SOCKOPT_PACKET_QDISC_BYPASS = 0, /* SOL_PACKET PACKET_QDISC_BYPASS, turned on */
	IPF_SOCKOPT_XDP = 1,		     /* any SOL_XDP option: AF_XDP umem and rings */
	IPF_SOCKOPT_OPTION_COUNT = 2,
};

/* Slots of ipf_sockopt_cnt, a per-CPU array of __u64 (user space sums over CPUs):
 * verdict * IPF_SOCKOPT_OPTION_COUNT + option, verdict IPF_VERDICT_DROPPED (refused with
 * EPERM) or IPF_VERDICT_MONITORED (counted, let through); the IPF_VERDICT_PASSED row stays 0. */
#define IPF_SOCKOPT_CTR_COUNT 6 /* IPF_VERDICT_COUNT * IPF_SOCKOPT_OPTION_COUNT */

/* ipf_sockopt_ns value: one guarded pod network namespace (key: its netns cookie, __u64, the
 * number SO_NETNS_COOKIE gives). Sockets in namespaces that are not in the map pass. */
struct ipf_sockopt_netns {
	__u8 mode; /* enum ipf_mode: enforce refuses, monitor counts and lets the option through */
	__u8 pad[7];
};

#endif /* IPFENCE_BPF_ABI_H */
