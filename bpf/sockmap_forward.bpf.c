// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sk_skb stream verdict for TCP passthrough: every skb received on a socket in `sock_ops_map`
 * is redirected (egress) to the peer socket recorded in `conns`, looked up in `redirect_map`.
 *
 * Two maps, because of insertion order (KERNEL-NOTES 11): user space puts both sockets in the
 * program-less `redirect_map` first and only then in `sock_ops_map`, so a verdict never runs
 * before its redirect target exists.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "sockmap_forward.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} sock_ops_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} redirect_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_state);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BPFSTEER_MAX_ROUTES);
	__type(key, __u32);
	__type(value, struct route_stats);
} route_stats SEC(".maps");

SEC("sk_skb/stream_verdict")
int forward_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct conn_state *conn = bpf_map_lookup_elem(&conns, &cookie);
	if (!conn)
		return SK_PASS; /* not ours (or already leaving): let user space see it */

	__u32 route = conn->route;
	struct route_stats *stats = bpf_map_lookup_elem(&route_stats, &route);

	__sync_fetch_and_add(&conn->verdicts, 1);
	if (stats)
		stats->verdicts++;

	long verdict = bpf_sk_redirect_hash(skb, &redirect_map, &conn->peer_cookie, 0);
	if (verdict == SK_PASS) {
		__sync_fetch_and_add(&conn->redirected, skb->len);
		if (stats)
			stats->bytes[conn->direction & 1] += skb->len;
	} else if (stats) {
		stats->redirect_failed++;
	}
	return verdict;
}
