#!/usr/bin/env python3
"""Turns the samples of benchmarks/forwarder/run.sh into the raw JSON of benchmarks/README.md and a Markdown table.

Usage: summarize.py SAMPLES.tsv MODE NOTES.txt OUT.json OUT.md
SAMPLES.tsv lines: placement, subject, metric, value (one line per repetition).
"""
import json
import statistics
import sys
from collections import defaultdict

samples_path, mode, notes_path, out_json, out_md = sys.argv[1:6]
values = defaultdict(list)
for line in open(samples_path):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 4:
        values[(parts[0], parts[1], parts[2])].append(float(parts[3]))

PLACEMENT = {"spread": "client cpu0, backends cpu1, proxies unpinned", "onecpu": "client, backends and proxies all on cpu0",
             "isolated": "client and backend cpu0, proxies pinned to cpu1 (RFS steering comparison only)"}
METRICS = {  # metric: (label, unit, higher is better)
    "iperf1_gbps": ("iperf3 1 stream", "Gbit/s", True),
    "iperf4_gbps": ("iperf3 4 streams", "Gbit/s", True),
    "p50_us": ("1 KiB ping-pong p50", "us", False),
    "p99_us": ("1 KiB ping-pong p99", "us", False),
    "conns_per_sec": ("new connections/s (1 KiB each way)", "conn/s", True),
    "cpu_s_per_gb": ("CPU per GB (system, 1 stream)", "CPU s/GB", False),
}
PAIRS = [("SockmapRoute", "Direct"), ("SockmapRoute", "HAProxy"), ("SockmapRoute", "Nginx"), ("SockmapRoute", "UserSpaceRoute"),
         ("UserSpaceRoute", "Direct"), ("UserSpaceRoute", "HAProxy"), ("HAProxy", "Direct"), ("Nginx", "Direct"),
         ("AutoRoute", "UserSpaceRoute"), ("AutoRoute", "SockmapRoute"), ("SockmapRfs", "SockmapUnbounded")]
GOALS = {("iperf1_gbps", "SockmapRoute", "Direct"): {"minRatio": 0.9},
         ("iperf1_gbps", "SockmapRoute", "HAProxy"): {"minRatio": 1.8},
         ("p99_us", "SockmapRoute", "HAProxy"): {"maxRatio": 1.0}}

results, md = [], []


def fmt(v):
    return f"{statistics.median(v):.3g} [{min(v):.3g}-{max(v):.3g}]"


for placement in ("spread", "onecpu", "isolated"):
    if not any(k[0] == placement for k in values):
        continue
    md.append(f"\n### Placement: {PLACEMENT[placement]}\n")
    full_table = any(k[0] == placement and k[1] == "Direct" for k in values)  # isolated runs the RFS pair only
    if full_table:
        md.append("| metric | " + " | ".join(["Direct", "SockmapRoute", "UserSpaceRoute", "HAProxy", "Nginx", "AutoRoute"]) + " |")
        md.append("|---|" + "---|" * 6)
    for metric, (label, unit, higher) in METRICS.items():
        row = [fmt(values[(placement, s, metric)]) if values.get((placement, s, metric)) else "-"
               for s in ["Direct", "SockmapRoute", "UserSpaceRoute", "HAProxy", "Nginx", "AutoRoute"]]
        if full_table:
            md.append(f"| {label} ({unit}) | " + " | ".join(row) + " |")
        for subject, peer in PAIRS:
            sv, pv = values.get((placement, subject, metric)), values.get((placement, peer, metric))
            if not sv or not pv:
                continue
            entry = {"scenario": f"{label}, {placement}", "metric": label, "unit": unit, "higherIsBetter": higher,
                     "subject": subject, "subjectValues": sv, "peer": peer, "peerValues": pv,
                     "command": "benchmarks/forwarder/run.sh --" + mode}
            if (metric, subject, peer) in GOALS:
                entry["goal"] = GOALS[(metric, subject, peer)]
            results.append(entry)
    # The seed's measurement: how much faster the sender pushes than the receiver gets (1.0 = nothing piles up).
    md.append("\nSender vs receiver speed of the same 1-stream run (the seed's send/receive measurement; 1.0 = no queue build-up):\n")
    md.append("| subject | send Gbit/s | receive Gbit/s | send/receive |")
    md.append("|---|---|---|---|")
    for subject in ("Direct", "SockmapRoute", "SockmapUnbounded", "SockmapRfs", "UserSpaceRoute", "AutoRoute", "HAProxy", "Nginx"):
        snd, rcv = values.get((placement, subject, "send_gbps")), values.get((placement, subject, "recv_gbps"))
        if not snd or not rcv:
            continue
        ratios = [s / r for s, r in zip(snd, rcv) if r > 0]
        md.append(f"| {subject} | {fmt(snd)} | {fmt(rcv)} | {fmt(ratios)} |")
        results.append({"scenario": f"seed send vs receive, {placement}", "metric": "send/receive speed", "unit": "Gbit/s",
                        "higherIsBetter": False, "subject": f"{subject} send", "subjectValues": snd,
                        "peer": f"{subject} receive", "peerValues": rcv, "command": "benchmarks/forwarder/run.sh --" + mode})
    su, sr = values.get((placement, "SockmapUnbounded", "iperf1_gbps")), values.get((placement, "SockmapRfs", "iperf1_gbps"))
    if su and sr:
        md.append(f"\nRFS steering to route CPU 1, 1 stream (pairs of adjacent runs): SockmapRfs {fmt(sr)} vs SockmapUnbounded {fmt(su)} Gbit/s, "
                  f"ratio {fmt([a / b for a, b in zip(sr, su) if b > 0])}\n")

notes = [line.strip() for line in open(notes_path)] if notes_path and __import__("os").path.exists(notes_path) else []
doc = {"suite": "forwarder", "mode": mode, "command": f"benchmarks/forwarder/run.sh --{mode}",
       "placement": "; ".join(f"{k}: {v}" for k, v in PLACEMENT.items()),
       "notes": ["SockmapUnbounded = Mode=Sockmap with --max-queued 0 and a 64 GiB budget (no parking); AutoRoute = Mode=Auto (placement rule); "
                 "SockmapRfs = SockmapUnbounded plus RFS steering to route CPU 1 (RFS on lo enabled only around its runs), measured right after SockmapUnbounded."] + notes,
       "results": results}
json.dump(doc, open(out_json, "w"), indent=1)
with open(out_md, "w") as f:
    f.write(f"# Forwarder data path ({mode})\n\nCommand: `benchmarks/forwarder/run.sh --{mode}`; median [min-max] over the repetitions.\n")
    f.write("\n".join(md) + "\n\n## Proxy notes (per-route path, parked bytes, verdict runs per CPU)\n\n")
    f.write("\n".join(f"- {n}" for n in notes) + "\n")
print(f"{len(results)} result entries -> {out_json}, {out_md}")
