/* NDP for the conflict watcher: neighbour solicitations and advertisements (RFC 4861 4.3,
 * 4.4), which address and which MAC they claim, by the rules in watch_parse.h.
 *
 * Read with bpf_skb_load_bytes at plain offsets, in a global function, unlike the Ethernet and
 * ARP part. Why: the walk over extension headers and then over NDP options moves a packet
 * pointer by variable amounts in two loops; inlined into the program (twice, for the pull
 * retry) that gave the verifier more states than it accepts (E2BIG). Offsets that are plain
 * numbers prune well, a global function is verified once on its own, and the helper checks
 * every read against the frame (paged data included, so no pull is needed). The cost, a few
 * helper calls, is paid only by IPv6 frames, and all but the NS/NA among them stop after one.
 */
#ifndef IPFENCE_BPF_WATCH_NDP_H
#define IPFENCE_BPF_WATCH_NDP_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "parse.h"
#include "watch_parse.h"

#define IPF_NDP_NEIGHBOR_SOLICIT  135
#define IPF_NDP_OPT_SOURCE_LLADDR 1 /* RFC 4861 4.6.1, in NS */
#define IPF_NDP_OPT_TARGET_LLADDR 2 /* RFC 4861 4.6.1, in NA */
#define IPF_NDP_HOP_LIMIT	  255

/* RFC 4861 4.3/4.4: 4 bytes of ICMPv6 header, 4 reserved/flags, the 16-byte target. */
#define IPF_NDP_FIXED_LEN 24

/* NS and NA define one link-layer address option each; what else they may carry is SEND's
 * (RFC 3971: CGA, RSA Signature, Timestamp, Nonce) and the enhanced-DAD Nonce (RFC 7527):
 * at most 6 options in a well-formed message. After 8 the walk stops and the MAC found so far
 * (or the Ethernet source) stands. */
#define IPF_WATCH_MAX_NDP_OPTS 8

/* The IPv6 frame at cl->l3_off: returns IPF_WATCH_REPORT with *cl filled for an NS/NA,
 * else IPF_WATCH_IGNORE or IPF_WATCH_MALFORMED. cl->mac holds the Ethernet source on entry. */
__noinline int watch_parse_ndp(struct __sk_buff *skb, struct ipf_watch_claim *cl)
{
	struct ipv6hdr ip6;
	__u8 icmp[4]; /* RFC 4443 2.1: type, code, checksum */
	__u8 target[16];
	__u32 off, start, left, len;
	__u8 nexthdr, want;
	int found = 0;

	if (!cl) /* a global function's pointer argument may be NULL as far as the verifier knows */
		return IPF_WATCH_IGNORE;
	off = cl->l3_off;
	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
		return IPF_WATCH_MALFORMED;
	if (ip6.version != 6)
		return IPF_WATCH_MALFORMED;
	off += sizeof(ip6);
	start = off;
	nexthdr = ip6.nexthdr;
	for (int i = 0; i < IPF_MAX_IPV6_EXT_HDRS; i++) { /* bound: see parse.h */
		struct ipf_ipv6_ext ext;

		if (!watch_is_ipv6_ext(nexthdr))
			break;
		if (bpf_skb_load_bytes(skb, off, &ext, sizeof(ext)))
			return IPF_WATCH_MALFORMED;
		if (nexthdr == IPPROTO_AH)
			len = (ext.hdrlen + 2) * 4; /* RFC 4302: 4-octet units, minus 2 */
		else if (nexthdr == IPPROTO_FRAGMENT)
			len = 8;
		else
			len = (ext.hdrlen + 1) * 8; /* RFC 8200: 8-octet units, first 8 excluded */
		off += len;
		if (off > skb->len) /* cut inside this header */
			return IPF_WATCH_MALFORMED;
		nexthdr = ext.nexthdr;
	}
	if (watch_is_ipv6_ext(nexthdr))
		return IPF_WATCH_MALFORMED; /* longer than RFC 8200 allows */
	if (nexthdr != IPPROTO_ICMPV6)
		return IPF_WATCH_IGNORE;
	if (bpf_skb_load_bytes(skb, off, icmp, sizeof(icmp)))
		return IPF_WATCH_MALFORMED;
	if (icmp[0] != IPF_NDP_NEIGHBOR_SOLICIT && icmp[0] != IPF_NDP_NEIGHBOR_ADVERT)
		return IPF_WATCH_IGNORE;
	if (ip6.hop_limit != IPF_NDP_HOP_LIMIT || icmp[1] != 0)
		return IPF_WATCH_IGNORE;
	/* The payload must be all there (so no cut is taken for the end of the options) and long
	 * enough for the extension headers and the message's fixed part. Checked only now: other
	 * IPv6 traffic, a large TCP segment, may well carry another payload_len. */
	left = bpf_ntohs(ip6.payload_len);
	if (start + left > skb->len || off - start + IPF_NDP_FIXED_LEN > left)
		return IPF_WATCH_MALFORMED;
	left -= off - start + IPF_NDP_FIXED_LEN;
	if (bpf_skb_load_bytes(skb, off + 8, target, sizeof(target)))
		return IPF_WATCH_MALFORMED;
	off += IPF_NDP_FIXED_LEN;

	cl->family = IPF_FAMILY_V6;
	if (icmp[0] == IPF_NDP_NEIGHBOR_ADVERT) {
		cl->kind = IPF_WATCH_NDP_NA;
		want = IPF_NDP_OPT_TARGET_LLADDR;
		__builtin_memcpy(cl->addr, target, 16);
	} else {
		const __u32 *s = ip6.saddr.in6_u.u6_addr32;

		want = IPF_NDP_OPT_SOURCE_LLADDR;
		if ((s[0] | s[1] | s[2] | s[3]) == 0) {
			cl->kind = IPF_WATCH_NDP_DAD; /* RFC 4862 5.4.3 */
			__builtin_memcpy(cl->addr, target, 16);
		} else {
			cl->kind = IPF_WATCH_NDP_NS;
			__builtin_memcpy(cl->addr, ip6.saddr.in6_u.u6_addr8, 16);
		}
	}

	for (int i = 0; i < IPF_WATCH_MAX_NDP_OPTS; i++) {
		__u8 opt[8]; /* type, length in 8-byte units, then (for ours) the MAC */

		if (left == 0)
			break;
		if (left < sizeof(opt)) /* options are whole 8-byte units, at least one */
			return IPF_WATCH_MALFORMED;
		if (bpf_skb_load_bytes(skb, off, opt, sizeof(opt)))
			return IPF_WATCH_MALFORMED;
		len = opt[1] * 8;
		if (len == 0 || len > left)
			return IPF_WATCH_MALFORMED;
		if (opt[0] == want && !found) {
			__builtin_memcpy(cl->mac, opt + 2, 6);
			found = 1;
		}
		off += len;
		left -= len;
	}
	return IPF_WATCH_REPORT;
}

#endif /* IPFENCE_BPF_WATCH_NDP_H */
