// SPDX-License-Identifier: GPL-2.0
/* The baseline for benchmarks: a TC program that passes every frame and does nothing else,
 * so that bench_guard can subtract the cost of BPF_PROG_TEST_RUN itself. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int ipf_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
