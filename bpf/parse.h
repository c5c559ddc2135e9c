/* Cursor-based frame parser for the guard: finds the address a frame claims as its source.
 * Every read goes through cursor_take(), which checks the bytes are there first, so a short
 * or hostile frame can never make the program read past data_end. Every loop has a fixed
 * bound, and the comment at the bound says why that bound is enough.
 *
 * The rule for frames the parser cannot judge:
 *   - shorter than an Ethernet header, a VLAN tag cut off, or more than two VLAN tags:
 *     malformed;
 *   - IPv4 / IPv6 / ARP frame too short for its header (IPv4 options included), a wrong
 *     version nibble, IPv4 IHL < 5, a cut-off IPv6 extension header or ICMPv6 header, or an
 *     IPv6 extension header chain longer than RFC 8200 allows: malformed;
 *   - any other ethertype, and ARP that is not Ethernet/IPv4: passed (not judged).
 * Malformed frames are dropped in enforce mode and counted (reason malformed).
 */
#ifndef IPFENCE_BPF_PARSE_H
#define IPFENCE_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"

/* 802.1Q (C-tag) and 802.1ad (S-tag): QinQ stacks one S-tag on one C-tag, so two tags are
 * the most a frame we enforce carries. A third tag would hide the payload from us. */
#define IPF_MAX_VLAN_TAGS 2

/* RFC 8200 4.1: each extension header occurs at most once, except Destination Options
 * (twice): Hop-by-Hop, Destination, Routing, Fragment, AH, Destination = 6. */
#define IPF_MAX_IPV6_EXT_HDRS 6

#define IPF_ARPHRD_ETHER	1
#define IPF_NDP_NEIGHBOR_ADVERT 136

enum ipf_parse_result {
	IPF_PARSE_JUDGE = 0,	 /* claim holds an address to judge */
	IPF_PARSE_PASS = 1,	 /* nothing to judge: unknown ethertype, unspecified source... */
	IPF_PARSE_MALFORMED = 2, /* see the rule at the top of this file */
};

/* What the frame claims: the address (as a lease key) and the source MAC (as a MAC key). */
struct ipf_claim {
	struct ipf_lease_key ip;
	struct ipf_mac_key mac;
};

struct ipf_cursor {
	void *pos;
	void *end;
};

struct ipf_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Ethernet/IPv4 ARP after the 8-byte fixed header. */
struct ipf_arp_body {
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
};

struct ipf_arp_hdr {
	__be16 hrd;
	__be16 pro;
	__u8 hln;
	__u8 pln;
	__be16 op;
};

/* Generic IPv6 extension header start (Hop-by-Hop, Routing, Destination, Fragment, AH). */
struct ipf_ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

/* Returns a pointer to the next `len` bytes and advances, or NULL if the frame ends first. */
static __always_inline void *cursor_take(struct ipf_cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

static __always_inline int ipf_ipv6_claims_nothing(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	/* Unspecified (::, DAD) or link-local (fe80::/10): outside any pool. */
	if ((w[0] | w[1] | w[2] | w[3]) == 0)
		return 1;
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static __always_inline enum ipf_parse_result parse_ipv4(struct ipf_cursor *c, struct ipf_claim *cl)
{
	struct iphdr *iph = cursor_take(c, sizeof(*iph));

	if (!iph || iph->version != 4 || iph->ihl < 5)
		return IPF_PARSE_MALFORMED;
	/* Options must be there too: a header cut inside its options is truncated. */
	if (iph->ihl > 5 && !cursor_take(c, (iph->ihl - 5) * 4))
		return IPF_PARSE_MALFORMED;
	if (iph->saddr == 0) /* 0.0.0.0 (DHCP discover): claims no address */
		return IPF_PARSE_PASS;
	cl->ip.family = IPF_FAMILY_V4;
	__builtin_memcpy(cl->ip.addr, &iph->saddr, 4);
	return IPF_PARSE_JUDGE;
}

static __always_inline enum ipf_parse_result parse_arp(struct ipf_cursor *c, struct ipf_claim *cl)
{
	struct ipf_arp_hdr *arp = cursor_take(c, sizeof(*arp));
	struct ipf_arp_body *body;

	if (!arp)
		return IPF_PARSE_MALFORMED;
	/* Only Ethernet/IPv4 ARP fills IPv4 neighbour tables; anything else is not ours. */
	if (arp->hrd != bpf_htons(IPF_ARPHRD_ETHER) || arp->pro != bpf_htons(ETH_P_IP) ||
	    arp->hln != ETH_ALEN || arp->pln != 4)
		return IPF_PARSE_PASS;
	body = cursor_take(c, sizeof(*body));
	if (!body)
		return IPF_PARSE_MALFORMED;
	/* Judged by the sender IP; requests, replies and gratuitous ARP alike. A probe
	 * (sender 0.0.0.0, RFC 5227) claims nothing. */
	if ((body->spa[0] | body->spa[1] | body->spa[2] | body->spa[3]) == 0)
		return IPF_PARSE_PASS;
	cl->ip.family = IPF_FAMILY_V4;
	__builtin_memcpy(cl->ip.addr, body->spa, 4);
	return IPF_PARSE_JUDGE;
}

/* Walks the extension headers to the upper-layer header; returns its protocol number, or
 * -1 if the chain is cut off or too long. */
static __always_inline int ipv6_skip_ext(struct ipf_cursor *c, __u8 nexthdr)
{
#pragma unroll
	for (int i = 0; i < IPF_MAX_IPV6_EXT_HDRS; i++) {
		struct ipf_ipv6_ext *ext;
		__u32 len;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			ext = cursor_take(c, sizeof(*ext));
			if (!ext)
				return -1;
			len = (ext->hdrlen + 1) * 8; /* RFC 8200: 8-octet units, first 8 excluded */
			break;
		case IPPROTO_AH:
			ext = cursor_take(c, sizeof(*ext));
			if (!ext)
				return -1;
			len = (ext->hdrlen + 2) * 4; /* RFC 4302: 4-octet units, minus 2 */
			break;
		case IPPROTO_FRAGMENT:
			ext = cursor_take(c, sizeof(*ext));
			if (!ext)
				return -1;
			len = 8;
			break;
		default:
			return nexthdr;
		}
		nexthdr = ext->nexthdr;
		if (!cursor_take(c, len - sizeof(*ext)))
			return -1;
	}
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_FRAGMENT:
		return -1; /* longer than RFC 8200 allows */
	}
	return nexthdr;
}

static __always_inline enum ipf_parse_result parse_ipv6(struct ipf_cursor *c, struct ipf_claim *cl)
{
	struct ipv6hdr *ip6 = cursor_take(c, sizeof(*ip6));
	const __u8 *claimed;
	int proto;

	if (!ip6 || ip6->version != 6)
		return IPF_PARSE_MALFORMED;
	claimed = ip6->saddr.in6_u.u6_addr8;
	proto = ipv6_skip_ext(c, ip6->nexthdr);
	if (proto < 0)
		return IPF_PARSE_MALFORMED;
	if (proto == IPPROTO_ICMPV6) {
		__u8 *icmp = cursor_take(c, 4); /* RFC 4443 2.1: type, code, checksum */

		if (!icmp)
			return IPF_PARSE_MALFORMED;
		if (icmp[0] == IPF_NDP_NEIGHBOR_ADVERT) {
			/* An advertisement claims its target (it is often sent from a link-local
			 * source). RFC 4861 4.4: 4 bytes of flags, then the 16-byte target. */
			if (!cursor_take(c, 4))
				return IPF_PARSE_MALFORMED;
			claimed = cursor_take(c, 16);
			if (!claimed)
				return IPF_PARSE_MALFORMED;
		}
	}
	if (ipf_ipv6_claims_nothing(claimed))
		return IPF_PARSE_PASS;
	cl->ip.family = IPF_FAMILY_V6;
	__builtin_memcpy(cl->ip.addr, claimed, 16);
	return IPF_PARSE_JUDGE;
}

/* Parses data..data_end into *cl. */
static __always_inline enum ipf_parse_result parse_frame(void *data, void *data_end,
							 struct ipf_claim *cl)
{
	struct ipf_cursor c = {.pos = data, .end = data_end};
	struct ethhdr *eth = cursor_take(&c, sizeof(*eth));
	__be16 proto;

	if (!eth)
		return IPF_PARSE_MALFORMED;
	__builtin_memcpy(cl->mac.mac, eth->h_source, ETH_ALEN);
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < IPF_MAX_VLAN_TAGS; i++) {
		struct ipf_vlan_hdr *vlan;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = cursor_take(&c, sizeof(*vlan));
		if (!vlan)
			return IPF_PARSE_MALFORMED;
		proto = vlan->proto;
	}
	switch (proto) {
	case bpf_htons(ETH_P_IP):
		return parse_ipv4(&c, cl);
	case bpf_htons(ETH_P_IPV6):
		return parse_ipv6(&c, cl);
	case bpf_htons(ETH_P_ARP):
		return parse_arp(&c, cl);
	case bpf_htons(ETH_P_8021Q):
	case bpf_htons(ETH_P_8021AD):
		return IPF_PARSE_MALFORMED; /* a third tag: see IPF_MAX_VLAN_TAGS */
	default:
		return IPF_PARSE_PASS;
	}
}

#endif /* IPFENCE_BPF_PARSE_H */
