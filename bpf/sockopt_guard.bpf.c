// SPDX-License-Identifier: GPL-2.0
/* The pod socket-option guard: a cgroup/setsockopt program on the cgroup that holds the pods
 * (the agent's --pod-cgroup). It closes the holes in the pod-side TC guard that CAP_NET_RAW
 * (which containers get by default) opens:
 *
 *   - setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, non-zero) on a packet socket: its frames
 *     then go through dev_direct_xmit, which skips the qdisc layer and with it the TC egress
 *     hook of the pod's interface, so a bridge-mode sibling on the same master gets frames the
 *     pod's guard never saw;
 *   - every SOL_XDP option: an AF_XDP socket needs them for its umem and rings before it can
 *     be bound, and in copy mode (the only one macvlan has) xsk_generic_xmit sends through
 *     __dev_direct_xmit, the same bypass.
 *
 * Both are refused with EPERM, but only for sockets whose network namespace is a pod
 * namespace the agent guards (ipf_sockopt_ns, by netns cookie): the node's own tools and pods
 * the agent does not guard keep them. Turning the bypass off is always allowed. A namespace in
 * monitor mode gets the option and the attempt is counted. Everything else passes to the
 * kernel unchanged.
 *
 * The kernel's rules for this hook (Documentation/bpf/prog_cgroup_sockopt.rst): return 0 is
 * EPERM for the caller, 1 lets the next program and then the kernel handle the call. ctx->optlen
 * must not be set to -1 here: on setsockopt that means "handled, skip the kernel", which would
 * turn every option into a silent no-op. The program sees at most PAGE_SIZE bytes of optval;
 * for a longer one it sets optlen to 0, which tells the kernel to use the caller's buffer as it
 * is (older kernels answer EFAULT if the program leaves a longer optlen in place).
 *
 * What the kernel then applies is the copy this program read, not the caller's memory again,
 * so the value cannot change between the check and its use.
 */
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <bpf/bpf_helpers.h>

#include "abi.h"
#include "sockopt_maps.h"

/* Socket levels from include/linux/socket.h (not in the uapi headers). */
#define IPF_SOL_PACKET 263
#define IPF_SOL_XDP    283

/* The smallest page size: the most of optval the program is shown. */
#define IPF_PAGE_SIZE 4096

_Static_assert(sizeof(struct ipf_sockopt_netns) == 8, "ipf_sockopt_netns");
_Static_assert(IPF_SOCKOPT_CTR_COUNT == IPF_VERDICT_COUNT * IPF_SOCKOPT_OPTION_COUNT, "slots");

static __always_inline void count(__u32 option, __u32 verdict)
{
	__u32 slot = verdict * IPF_SOCKOPT_OPTION_COUNT + option;
	__u64 *n = bpf_map_lookup_elem(&ipf_sockopt_cnt, &slot);

	if (n)
		*n += 1;
}

static __always_inline int pass(struct bpf_sockopt *ctx)
{
	if (ctx->optlen > IPF_PAGE_SIZE)
		ctx->optlen = 0; /* the caller's buffer, as it is */
	return 1;
}

SEC("cgroup/setsockopt")
int ipf_sockopt_guard(struct bpf_sockopt *ctx)
{
	__u32 option;

	if (ctx->level == IPF_SOL_PACKET && ctx->optname == PACKET_QDISC_BYPASS)
		option = IPF_SOCKOPT_PACKET_QDISC_BYPASS;
	else if (ctx->level == IPF_SOL_XDP)
		option = IPF_SOCKOPT_XDP;
	else
		return pass(ctx);

	__u64 cookie = bpf_get_netns_cookie(ctx);
	struct ipf_sockopt_netns *netns = bpf_map_lookup_elem(&ipf_sockopt_ns, &cookie);

	if (!netns)
		return pass(ctx);

	if (option == IPF_SOCKOPT_PACKET_QDISC_BYPASS) {
		/* The kernel takes exactly an int and refuses anything shorter with EINVAL; the
		 * first int is what it would apply. One that cannot be read is refused. */
		if (ctx->optlen < (int)sizeof(int))
			return pass(ctx);
		int *value = ctx->optval;

		if ((void *)(value + 1) <= ctx->optval_end && *value == 0)
			return pass(ctx);
	}

	if (netns->mode == IPF_MODE_MONITOR) {
		count(option, IPF_VERDICT_MONITORED);
		return pass(ctx);
	}
	count(option, IPF_VERDICT_DROPPED);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
