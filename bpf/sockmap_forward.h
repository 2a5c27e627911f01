/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Structs shared by sockmap_forward.bpf.c and Yarp.SockmapForwarder (C# mirrors them; a test checks the sizes). */
#ifndef BPFSTEER_SOCKMAP_FORWARD_H
#define BPFSTEER_SOCKMAP_FORWARD_H

#define BPFSTEER_MAX_ROUTES 256
#define BPFSTEER_MAX_CPUS 256

/* Per socket in the map, keyed by the socket's own cookie. */
struct conn_state {
	__u64 peer_cookie;   /* cookie of the socket this one's bytes are redirected to */
	__u64 redirected;    /* bytes this socket received and redirected to its peer */
	__u64 verdicts;      /* verdict program runs on this socket */
	__u32 route;         /* route index, for the per-route counters */
	__u32 direction;     /* 0 = client to backend, 1 = backend to client */
};

/* Per route and per CPU (a PERCPU_ARRAY indexed by route). */
struct route_stats {
	__u64 bytes[2];      /* by direction */
	__u64 verdicts;      /* verdict runs on this CPU */
	__u64 redirect_failed;
};

#endif
