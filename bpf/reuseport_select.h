/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between reuseport_select.bpf.c and the transport (Internal/EbpfReuseportSelector.cs). */
#ifndef BPFSTEER_REUSEPORT_SELECT_H
#define BPFSTEER_REUSEPORT_SELECT_H

#define BPFSTEER_MAX_WORKERS 256
#define BPFSTEER_MAX_CPUS 1024

struct reuseport_select_stats {
	__u64 selected; /* new connection placed on the worker of the receiving CPU */
	__u64 fallback; /* new connection, no worker (left) for that CPU: kernel hash selection */
	__u64 migrated; /* a closing member's queued connection or request, handed to a live member */
};

#endif
