/* Which network namespace the interface a TC program runs on belongs to, as its netns cookie:
 * the number SO_NETNS_COOKIE gives a socket made in that namespace, so user space can name
 * the same namespace. The guard keys its per-interface config and counters by (this cookie,
 * ifindex), because an ifindex alone is ambiguous: every namespace numbers its interfaces
 * from 1, so a pod's eth0 is commonly ifindex 2, as the node's first NIC is.
 *
 * Not bpf_get_netns_cookie(skb): on TC it answers for skb->sk, the socket that made the
 * frame, or for init_net when there is none. Measured on Linux 6.18: on a macvlan master's
 * egress, a pod's ping gave the pod's namespace (its socket rides along through the macvlan
 * device), and the kernel's own ARP gave init_net, while the master is in neither. The guard
 * needs the namespace of the device, skb->dev's, which it reads through the kernel's
 * sk_buff: bpf_cast_to_kern_ctx (a kfunc since Linux 6.2) and CO-RE, so the offsets come
 * from the running kernel's BTF. BPF_PROG_TEST_RUN runs on the loopback device of the
 * caller's namespace, so tests get that namespace's cookie.
 */
#ifndef IPFENCE_BPF_NETNS_COOKIE_H
#define IPFENCE_BPF_NETNS_COOKIE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* CO-RE views of the kernel structs on the way: only the fields read. The ___ipf suffix is
 * dropped when libbpf matches them against vmlinux BTF. */
struct net___ipf {
	__u64 net_cookie;
} __attribute__((preserve_access_index));

struct net_device___ipf {
	struct {
		struct net___ipf *net;
	} nd_net; /* possible_net_t */
} __attribute__((preserve_access_index));

struct sk_buff___ipf {
	struct net_device___ipf *dev;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* The cookie of skb->dev's namespace. The loads are BTF-checked (faulting reads become 0),
 * and TC always has a device, so this is never 0 in practice. */
static __always_inline __u64 ipf_dev_netns_cookie(struct __sk_buff *skb)
{
	struct sk_buff___ipf *kskb = bpf_cast_to_kern_ctx(skb);

	return kskb->dev->nd_net.net->net_cookie;
}

#endif /* IPFENCE_BPF_NETNS_COOKIE_H */
