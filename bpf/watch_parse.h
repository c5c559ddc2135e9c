/* What the conflict watcher reads from a frame that arrived from the wire: the address an ARP
 * or NDP frame claims (or probes for), who claims it, which kind of frame it is, and the
 * outermost VLAN ID. The Ethernet, VLAN and ARP part is read here, in place, with the guard's
 * cursor (parse.h: cursor_take and its header structs, used as they are: nothing here changes
 * how the guard parses); ICMPv6 and IPv6 with extension headers go on to watch_ndp.h.
 *
 * Which address and which MAC (WatchEvent in agent/datapath/watch_event.h says the same):
 *   ARP request, reply, announcement: the sender IP; probe (sender 0.0.0.0): the target IP.
 *     MAC: the sender hardware address.
 *   NS: the IPv6 source; DAD (NS from ::): the target; NA: the target.
 *     MAC: the source (NS) or target (NA) link-layer address option, else the Ethernet source.
 *
 * The rule for frames the watcher does not report:
 *   - ignored (not counted): any ethertype but ARP and IPv6, IPv6 that is not ICMPv6 NS/NA,
 *     ARP that is not Ethernet/IPv4 or not a request/reply, a claim of 0.0.0.0 (a reply
 *     from 0.0.0.0, a probe for 0.0.0.0), and NS/NA with hop limit != 255 or code != 0:
 *     RFC 4861 7.1 has receivers discard those, so they claim nothing in anyone's cache;
 *   - malformed (counted): cut short anywhere the watcher must read to classify the frame (a
 *     VLAN tag, the ARP header and body, the IPv6 header, an extension header, the ICMPv6
 *     header), a third VLAN tag, IPv6 version != 6; and for NS/NA: a payload shorter than
 *     payload_len says or too short for what it holds, an extension header chain longer than
 *     RFC 8200 allows, an option of length 0 or running past the payload (RFC 4861 4.6).
 * Ethernet padding after an ARP body or an IPv6 payload is never read.
 */
#ifndef IPFENCE_BPF_WATCH_PARSE_H
#define IPFENCE_BPF_WATCH_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "parse.h"

#define IPF_ARPOP_REQUEST 1
#define IPF_ARPOP_REPLY	  2

enum ipf_watch_parse {
	IPF_WATCH_REPORT = 0,	 /* *cl holds a claim: look it up */
	IPF_WATCH_IGNORE = 1,	 /* not a frame the watcher reads: see the top of this file */
	IPF_WATCH_MALFORMED = 2, /* see the top of this file */
	IPF_WATCH_IPV6 = 3,	 /* IPv6 at the returned offset: for watch_parse_ndp() */
};

/* What a frame claims. Zeroed by the caller before parsing. */
struct ipf_watch_claim {
	__u8 addr[16]; /* network byte order; IPv4 in addr[0..3], the rest zero */
	__u8 mac[6];
	__u8 family;  /* IPF_FAMILY_V4 / IPF_FAMILY_V6 */
	__u8 kind;    /* enum ipf_watch_kind */
	__u16 vlan;   /* outermost VLAN ID found in the frame, 0 if none */
	__u16 l3_off; /* IPF_WATCH_IPV6: where the IPv6 header starts */
};

static __always_inline int watch_is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH || nexthdr == IPPROTO_FRAGMENT;
}

static __always_inline enum ipf_watch_parse watch_parse_arp(struct ipf_cursor *c,
							    struct ipf_watch_claim *cl)
{
	struct ipf_arp_hdr *arp = cursor_take(c, sizeof(*arp));
	struct ipf_arp_body *body;
	__u32 spa, tpa, claimed;

	if (!arp)
		return IPF_WATCH_MALFORMED;
	if (arp->hrd != bpf_htons(IPF_ARPHRD_ETHER) || arp->pro != bpf_htons(ETH_P_IP) ||
	    arp->hln != ETH_ALEN || arp->pln != 4)
		return IPF_WATCH_IGNORE;
	body = cursor_take(c, sizeof(*body));
	if (!body)
		return IPF_WATCH_MALFORMED;
	__builtin_memcpy(&spa, body->spa, 4);
	__builtin_memcpy(&tpa, body->tpa, 4);
	if (arp->op == bpf_htons(IPF_ARPOP_REQUEST)) {
		if (spa == 0) {
			cl->kind = IPF_WATCH_ARP_PROBE; /* RFC 5227 2.1.1 */
			claimed = tpa;
		} else {
			cl->kind = spa == tpa ? IPF_WATCH_ARP_ANNOUNCEMENT : IPF_WATCH_ARP_REQUEST;
			claimed = spa;
		}
	} else if (arp->op == bpf_htons(IPF_ARPOP_REPLY)) {
		/* A gratuitous reply (sender == target) announces just as a request does. */
		cl->kind = spa == tpa ? IPF_WATCH_ARP_ANNOUNCEMENT : IPF_WATCH_ARP_REPLY;
		claimed = spa;
	} else {
		return IPF_WATCH_IGNORE; /* RARP, InARP...: they claim no IPv4 neighbour */
	}
	if (claimed == 0)
		return IPF_WATCH_IGNORE;
	cl->family = IPF_FAMILY_V4;
	__builtin_memcpy(cl->addr, &claimed, 4);
	__builtin_memcpy(cl->mac, body->sha, ETH_ALEN);
	return IPF_WATCH_REPORT;
}

/* Parses the Ethernet header, up to two VLAN tags and ARP in data..data_end into *cl (which
 * keeps the Ethernet source as its MAC for NDP). For IPv6 it returns IPF_WATCH_IPV6 with
 * cl->l3_off set. */
static __always_inline enum ipf_watch_parse watch_parse_frame(void *data, void *data_end,
							      struct ipf_watch_claim *cl)
{
	struct ipf_cursor c = {.pos = data, .end = data_end};
	struct ethhdr *eth = cursor_take(&c, sizeof(*eth));
	__u16 off = sizeof(*eth);
	__be16 proto;

	if (!eth)
		return IPF_WATCH_MALFORMED;
	__builtin_memcpy(cl->mac, eth->h_source, ETH_ALEN);
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < IPF_MAX_VLAN_TAGS; i++) { /* bound: see parse.h */
		struct ipf_vlan_hdr *vlan;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = cursor_take(&c, sizeof(*vlan));
		if (!vlan)
			return IPF_WATCH_MALFORMED;
		if (i == 0)
			cl->vlan = bpf_ntohs(vlan->tci) & 0x0fff;
		proto = vlan->proto;
		off += sizeof(*vlan);
	}
	switch (proto) {
	case bpf_htons(ETH_P_ARP):
		return watch_parse_arp(&c, cl);
	case bpf_htons(ETH_P_IPV6): {
		struct ipv6hdr *ip6 = cursor_take(&c, sizeof(*ip6));

		/* Most IPv6 is neither ICMPv6 nor behind extension headers: settled here, without
		 * watch_parse_ndp()'s call and copies. Anything else (a short header included) is
		 * its to judge. */
		if (ip6 && ip6->version == 6 && ip6->nexthdr != IPPROTO_ICMPV6 &&
		    !watch_is_ipv6_ext(ip6->nexthdr))
			return IPF_WATCH_IGNORE;
		cl->l3_off = off;
		return IPF_WATCH_IPV6;
	}
	case bpf_htons(ETH_P_8021Q):
	case bpf_htons(ETH_P_8021AD):
		return IPF_WATCH_MALFORMED; /* a third tag: see IPF_MAX_VLAN_TAGS */
	default:
		return IPF_WATCH_IGNORE;
	}
}

#endif /* IPFENCE_BPF_WATCH_PARSE_H */
