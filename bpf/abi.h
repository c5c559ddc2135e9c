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

/* Per-master enforcement mode (ipf_iface_config.mode). */
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

/* ipf_iface_cfg value, keyed by the master's ifindex (__u32). */
struct ipf_iface_config {
	__u8 mode;	      /* enum ipf_mode */
	__u8 reserved_policy; /* enum ipf_reserved_policy */
	__u8 pad[2];
};

/* ipf_counters key: one counter per (master, reason, verdict). */
struct ipf_counter_key {
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

#endif /* IPFENCE_BPF_ABI_H */
