// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sk_skb stream verdict for TCP passthrough: every skb received on a socket in `sock_ops_map`
 * is redirected (egress) to the peer socket recorded in `conns`, looked up in `redirect_map`.
 *
 * Two maps, because of insertion order (docs/design.md, "Sockmap: insertion order"): user space
 * puts both sockets in the program-less `redirect_map` first and only then in `sock_ops_map`, so a
 * verdict never runs before its redirect target exists.
 *
 * Built twice (build/Bpf.targets): sockmap_forward.bpf.o has `forward_verdict`; with
 * -DBPFSTEER_REDIRECT_CPU, sockmap_forward_cpu.bpf.o adds `forward_verdict_cpu`, which calls the
 * bpf_sk_skb_set_redirect_cpu kfunc (not in mainline) to ask for the route's CPU. The kfunc extern is
 * in the second object only: libbpf resolves every kfunc extern at load, even for a program with
 * autoload off, and when vmlinux BTF lacks it searches module BTF, which needs CAP_SYS_ADMIN; the
 * plain object must load with CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON alone (CAP_PERFMON for the BTF
 * reads of measure_written and cut_seen_head).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "sockmap_forward.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

#ifdef BPFSTEER_REDIRECT_CPU
extern int bpf_sk_skb_set_redirect_cpu(struct __sk_buff *skb, int cpu) __ksym __weak;
#endif

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
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct conn_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct budget);
} budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BPFSTEER_MAX_ROUTES);
	__type(key, __u32);
	__type(value, struct route_stats);
} route_stats SEC(".maps");

/* Why a park started (conn_slot.park_reason; ParkReason in C#). */
#define PARK_HIGH_MARK 1
#define PARK_BUDGET 2
#define PARK_PEER_FULL 3

/*
 * Publishes this direction's backlog as its share of the process budget. The share is acct_k - acct_u: the verdict
 * writes only acct_k, user space only acct_u, and each adds its own change to budget.used, so used is always the sum
 * of the shares without a lock or an atomic exchange (the BPF ISA this object is built for has only atomic add). A
 * measurement racing the other writer can leave one share off by that writer's change until the next measurement.
 */
static __always_inline void account(struct conn_slot *slot, struct budget *b, __u64 backlog)
{
	__u64 next = backlog + slot->acct_u;
	__u64 delta = next - slot->acct_k;
	slot->acct_k = next;
	if (b && delta)
		__sync_fetch_and_add(&b->used, delta);
	if (backlog > slot->backlog_peak)
		slot->backlog_peak = backlog;
}

/* Verdict runs on one socket are serialized (socket lock), so plain stores to `parked` cannot race. */
static __always_inline int park(struct conn_slot *slot, struct route_stats *stats, __u32 len)
{
	__sync_fetch_and_add(&slot->passed, len);
	if (stats)
		stats->passed += len;
	return SK_PASS;
}

/*
 * Bytes the peer's send queue has taken from this direction's redirects (see conn_slot.written), and how many more
 * bytes its send buffer can take now (sk_sndbuf - sk_wmem_queued, in truesize). Returns the room, or -1 when the
 * peer could not be read.
 */
static __always_inline __s64 measure_peer(struct conn_state *conn, struct conn_slot *slot)
{
	__s64 room = -1;
	struct bpf_sock *peer = bpf_map_lookup_elem(&redirect_map, &conn->peer_cookie);
	if (!peer)
		return room;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(peer);
	if (tp) {
		__u64 queued = tp->bytes_acked + (__u32)(tp->write_seq - tp->snd_una);
		__u64 written = queued - slot->peer_base - slot->consumed;
		/* Never above `redirected` (unsigned arithmetic below); a negative difference reads as huge. */
		if ((__s64)written >= 0 && written <= slot->redirected)
			slot->written = written;
		room = (__s64)tp->inet_conn.icsk_inet.sk.sk_sndbuf - tp->inet_conn.icsk_inet.sk.sk_wmem_queued;
	}
	bpf_sk_release(peer);
	return room;
}

/*
 * A retransmitted segment that overlaps bytes already received is queued by TCP whole: readers are expected to
 * skip copied_seq - seq bytes of it (tcp_recvmsg, tcp_read_sock do), but tcp_read_skb hands the whole skb to
 * the verdict, so without this the overlapping head is forwarded a second time (measured: one 65,483-byte skb
 * in about 1 of 30 both-ways runs under parking, where zero windows make the senders retransmit). The verdict
 * tracks the next unseen sequence number itself and cuts the already-seen head off (4095 bytes per helper
 * call, the limit of bpf_skb_adjust_room for sk_skb). Needs the skb's TCP_SKB_CB (bpf_cast_to_kern_ctx) and a
 * BTF read, hence CAP_PERFMON, like measure_written.
 */
#define TRIM_STEP 4095
#define TRIM_MAX_STEPS 512

static __always_inline int cut_seen_head(struct __sk_buff *skb, struct conn_slot *slot, __u64 *cookie)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	__u32 seq = ((struct tcp_skb_cb *)kskb->cb)->seq;
	__u32 len = skb->len;

	if (!slot->seq_known) {
		/* First run after insertion: everything before the source's copied_seq was read by user space. */
		__u32 next = seq;
		struct bpf_sock *self = bpf_map_lookup_elem(&redirect_map, cookie);
		if (self) {
			struct tcp_sock *tp = bpf_skc_to_tcp_sock(self);
			if (tp)
				next = tp->copied_seq;
			bpf_sk_release(self);
		}
		slot->next_seq = next;
		slot->seq_known = 1;
	}
	__s32 overlap = (__s32)(slot->next_seq - seq);
	if (overlap <= 0) {
		slot->next_seq = seq + len;
		return 0;
	}
	__sync_fetch_and_add(&slot->overlaps, 1);
	if ((__u32)overlap >= len) {
		/* Nothing new in it (TCP drops such segments before they are queued; kept for safety). */
		__sync_fetch_and_add(&slot->trimmed, len);
		return 1;
	}
	__u32 left = overlap;
	for (int i = 0; i < TRIM_MAX_STEPS && left > 0; i++) {
		__u32 step = left > TRIM_STEP ? TRIM_STEP : left;
		if (bpf_skb_adjust_room(skb, -(__s32)step, 0, 0))
			break;
		left -= step;
	}
	__sync_fetch_and_add(&slot->trimmed, overlap - left);
	if (left > 0) {
		__sync_fetch_and_add(&slot->trim_failed, 1);
		return -1;
	}
	slot->next_seq = seq + len;
	return 0;
}

static __always_inline int forward(struct __sk_buff *skb, bool steer)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct conn_state *conn = bpf_map_lookup_elem(&conns, &cookie);
	if (!conn)
		return SK_PASS; /* not ours (or already leaving): let user space see it */

	__u32 key = conn->slot;
	struct conn_slot *slot = bpf_map_lookup_elem(&slots, &key);
	if (!slot)
		return SK_PASS;
	__u32 route = conn->route;
	struct route_stats *stats = bpf_map_lookup_elem(&route_stats, &route);
	__u32 dir = conn->direction & 1;
	__u32 len = skb->len;

	__sync_fetch_and_add(&slot->verdicts, 1);
	/*
	 * A zero-length skb is the FIN (docs/design.md, "Sockmap: FIN and EPIPE"). Redirected, the peer's
	 * backlog "sends" 0 bytes, takes it as a hard error (EPIPE) and clears the peer psock's TX state: from
	 * then on every skb the peer's own verdict parks (SK_PASS) is dropped or stranded. The FIN carries no
	 * byte and user space propagates it with shutdown() ("Sockmap: half-close barrier"), so drop it here.
	 */
	if (len == 0)
		return SK_DROP;
	/* A head that could not be cut left a hole: nothing after it may reach the peer (user space resets both sides). */
	if (slot->trim_failed)
		return SK_DROP;
	int cut = cut_seen_head(skb, slot, &cookie);
	if (cut) /* 1: the whole skb was seen before; -1: its seen head could not be cut (user space resets) */
		return SK_DROP;
	len = skb->len;
	slot->last_cpu = bpf_get_smp_processor_id();
	if (stats)
		stats->verdicts[dir]++;

	if (slot->parked) {
		/* Resume only once user space has written every parked byte: order is kept. */
		if (slot->consumed != slot->passed)
			return park(slot, stats, len);
		slot->parked = 0;
	}
	__u32 zero = 0;
	struct budget *b = bpf_map_lookup_elem(&budget, &zero);
	/*
	 * The three bounds (see "Sockmap: back-pressure and the queue bound" in docs/design.md). Every one parks
	 * (SK_PASS): the bytes then wait on the source socket, charged to its receive buffer, and its closing window
	 * stops the sender, which is the only back-pressure the kernel offers for a redirect.
	 * - peer full: redirect only what the peer's send buffer can take now (with 1/8 for skb overhead). The backlog
	 *   worker then never meets a full send buffer, whose retry waits a whole jiffy, and a slow reader holds its
	 *   bytes in charged memory instead of in the backlog.
	 * - high mark: this direction's backlog (redirected, not yet in the peer's send queue) when the worker falls
	 *   behind, e.g. because the sender's CPU is busy.
	 * - budget: the sum of every direction's backlog in the process.
	 * A direction without a high mark (MaxQueuedBytes = 0, reachable only through the API, for measurements) has
	 * neither of the first two: only the budget bounds it.
	 */
	__s64 room = measure_peer(conn, slot);
	__u64 backlog = slot->redirected - slot->written;
	account(slot, b, backlog);
	__u32 reason = 0;
	if (slot->high_mark && room >= 0 && (__s64)(backlog + backlog / 8 + len) > room)
		reason = PARK_PEER_FULL;
	else if (slot->high_mark && backlog >= slot->high_mark)
		reason = PARK_HIGH_MARK;
	else if (b && b->limit && b->used + len > b->limit)
		reason = PARK_BUDGET;
	if (reason) {
		slot->parked = 1;
		slot->park_reason = reason;
		__sync_fetch_and_add(&slot->parks, 1);
		if (reason == PARK_BUDGET) {
			__sync_fetch_and_add(&slot->budget_parks, 1);
			if (b)
				__sync_fetch_and_add(&b->parks, 1);
		} else if (reason == PARK_PEER_FULL) {
			__sync_fetch_and_add(&slot->peer_full_parks, 1);
		} else {
			__sync_fetch_and_add(&slot->high_mark_parks, 1);
		}
		return park(slot, stats, len);
	}

#ifdef BPFSTEER_REDIRECT_CPU
	if (steer && conn->cpu != BPFSTEER_NO_CPU && bpf_sk_skb_set_redirect_cpu)
		bpf_sk_skb_set_redirect_cpu(skb, (int)conn->cpu);
#endif

	long verdict = bpf_sk_redirect_hash(skb, &redirect_map, &conn->peer_cookie, 0);
	if (verdict == SK_PASS) {
		__sync_fetch_and_add(&slot->redirected, len);
		slot->acct_k += len;
		if (b) {
			__sync_fetch_and_add(&b->used, len);
			if (b->used > b->peak)
				b->peak = b->used;
		}
		if (backlog + len > slot->backlog_peak)
			slot->backlog_peak = backlog + len;
		if (stats)
			stats->bytes[dir] += len;
	} else if (stats) {
		stats->redirect_failed++;
	}
	return verdict;
}

SEC("sk_skb/stream_verdict")
int forward_verdict(struct __sk_buff *skb)
{
	return forward(skb, false);
}

#ifdef BPFSTEER_REDIRECT_CPU
SEC("sk_skb/stream_verdict")
int forward_verdict_cpu(struct __sk_buff *skb)
{
	return forward(skb, true);
}
#endif
