// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sk_reuseport selector for the BpfSteer transport: pick the listener of the worker pinned to the CPU that
 * received the SYN. Unlike the classic-BPF program, which returns a group *index* (listen() order, reshuffled
 * when a member closes), this one selects by explicit key from a REUSEPORT_SOCKARRAY that user space fills with
 * worker index -> listener, so the mapping does not depend on group order.
 *
 * Attached as SELECT_OR_MIGRATE: when a member closes, the kernel also calls it for the connections waiting in
 * that member's queue (md->migrating_sk set) and migrates them, whatever net.ipv4.tcp_migrate_req says.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "reuseport_select.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* worker index -> that worker's listen socket (closed sockets leave the map by themselves). */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, BPFSTEER_MAX_WORKERS);
	__type(key, __u32);
	__type(value, __u64);
} workers SEC(".maps");

/* CPU -> worker index + 1; 0 means "no worker on this CPU". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPFSTEER_MAX_CPUS);
	__type(key, __u32);
	__type(value, __u32);
} cpu_to_worker SEC(".maps");

/* Per CPU: how connections were placed, so placement is measured rather than assumed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reuseport_select_stats);
} stats SEC(".maps");

SEC("sk_reuseport/migrate")
int select_by_cpu(struct sk_reuseport_md *md)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct reuseport_select_stats *s = bpf_map_lookup_elem(&stats, &zero);
	__u32 *slot = bpf_map_lookup_elem(&cpu_to_worker, &cpu);
	bool migrating = md->migrating_sk != NULL;
	bool placed = false;

	if (slot && *slot) {
		__u32 index = *slot - 1;
		placed = bpf_sk_select_reuseport(md, &workers, &index, 0) == 0;
	}
	/* Not placed (no worker on this CPU, or its listener is gone): SK_PASS without a selection lets the kernel hash
	 * among the members left (preferring SO_INCOMING_CPU); for a migration it picks a live listener. */
	if (s) {
		if (migrating)
			s->migrated++;
		else if (placed)
			s->selected++;
		else
			s->fallback++;
	}
	return SK_PASS;
}
