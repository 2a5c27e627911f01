/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Structs shared by sockmap_forward.bpf.c and Yarp.SockmapForwarder (C# mirrors them; a test checks the sizes). */
#ifndef BPFSTEER_SOCKMAP_FORWARD_H
#define BPFSTEER_SOCKMAP_FORWARD_H

#define BPFSTEER_MAX_ROUTES 256
#define BPFSTEER_MAX_CPUS 256
#define BPFSTEER_NO_CPU 0xffffffffu

/*
 * Per socket in the map, keyed by the socket's own cookie; written once by user space before the socket
 * enters any map, deleted by user space when it leaves: close() does not delete HASH entries
 * (docs/design.md, "Sockmap: leaving the maps").
 */
struct conn_state {
	__u64 peer_cookie;   /* cookie of the socket this one's bytes are redirected to */
	__u32 slot;          /* index of this direction's counters in `slots` */
	__u32 route;         /* route index, for the per-route counters */
	__u32 direction;     /* 0 = client to backend, 1 = backend to client */
	__u32 cpu;           /* the route's CPU for the redirect-cpu kfunc, or BPFSTEER_NO_CPU */
};

/*
 * One direction of one connection (source socket -> peer), in an mmap-able ARRAY so user space reads the
 * counters and writes its fields with plain atomic memory operations: no syscall, and no whole-value
 * update that would overwrite the program's concurrent increments.
 *
 * Bounded queue (docs/design.md, "Sockmap: back-pressure and the queue bound"): `redirected - written` is
 * what sits in the peer's psock backlog, memory the kernel does not charge or bound. `written` is measured by
 * the verdict itself from the peer's tcp_sock (bytes_acked + write_seq - snd_una, the same sum user space gets
 * from TCP_INFO + SIOCOUTQ), minus the base at pairing and the bytes user space wrote itself (`consumed`), so
 * the bound never waits for user space. When the backlog reaches `high_mark` (or the peer's send buffer or the
 * process budget has no room, see forward()) the verdict parks: it returns SK_PASS, so skbs queue on the
 * source socket itself (charged to it; TCP flow control shrinks the window). User space waits until the peer
 * has taken every redirected byte, reads the parked bytes, writes them to the peer and counts them in
 * `consumed`. The verdict resumes redirecting only when consumed == passed, so no redirected byte can overtake
 * a parked one.
 */
struct conn_slot {
	__u64 redirected;    /* K: bytes redirected to the peer */
	__u64 passed;        /* K: bytes passed to the source socket while parked */
	__u64 verdicts;      /* K: verdict runs */
	__u64 parks;         /* K: times parking started */
	__u64 written;       /* K: of `redirected`, bytes the peer's send queue has taken (measured at each verdict) */
	__u64 consumed;      /* U: of `passed`, bytes user space has read and written to the peer */
	__u64 high_mark;     /* U: park when redirected - written >= high_mark; 0 = no per-connection bound (no high-mark or peer-full park) */
	__u64 peer_base;     /* U: the peer's tcpi_bytes_acked + SIOCOUTQ at pairing */
	__u32 parked;        /* K: 1 while parking */
	__u32 last_cpu;      /* K: CPU of the latest verdict run */
	__u64 trimmed;       /* K: retransmitted bytes cut from skb heads (already forwarded once) */
	__u32 next_seq;      /* K: TCP sequence number of the next byte not yet seen by the verdict */
	__u32 seq_known;     /* K: 1 once next_seq is set (first verdict run) */
	__u32 overlaps;      /* K: skbs that began before next_seq (a retransmission overlapping seen bytes) */
	__u32 trim_failed;   /* K: overlaps that could not be cut: the connection must be reset, not corrupted */
	__u64 acct_k;        /* K: with acct_u, this direction's share of budget.used: acct_k - acct_u (see account()) */
	__u64 acct_u;        /* U */
	__u64 backlog_peak;  /* K: the largest backlog (redirected - written) measured */
	__u32 park_reason;   /* K: why the latest park started: 1 = high mark, 2 = process budget, 3 = peer's send buffer full */
	__u32 budget_parks;  /* K: parks started because of the process budget */
	__u32 peer_full_parks; /* K: parks started because the peer's send buffer could not take the backlog and the skb */
	__u32 high_mark_parks; /* K: parks started because the backlog reached high_mark */
};

/*
 * The process-wide budget (one element of the mmap-able `budget` array): the sum over every direction of every
 * connection of its backlog, the bytes redirected but not yet taken by the destination's send queue. This memory is
 * charged to no socket and no memcg, so the kernel's own limits (tcp_mem, SO_SNDBUF, memcg) do not see it.
 */
struct budget {
	__u64 used;          /* K+U: the sum of every slot's share, acct_k - acct_u */
	__u64 peak;          /* K: the largest `used` seen by a verdict */
	__u64 limit;         /* U: a verdict parks its direction while used + skb length > limit; 0 = no budget */
	__u64 parks;         /* K: parks started because of the budget */
};

/* Per route and per CPU (a PERCPU_ARRAY indexed by route). */
struct route_stats {
	__u64 bytes[2];      /* redirected, by direction */
	__u64 verdicts[2];   /* verdict runs on this CPU, by direction */
	__u64 passed;        /* bytes parked (either direction) */
	__u64 redirect_failed; /* redirects refused (the peer had left the map): the skb was dropped */
};

#endif
