#!/usr/bin/env python3
"""Turns the samples of benchmarks/connrate/run.sh into the raw JSON of benchmarks/README.md and a Markdown table.

Usage: summarize.py SAMPLES.tsv MODE NOTES.txt OUT.json OUT.md
SAMPLES.tsv lines: scenario, subject, metric, value (one line per repetition).
"""
import json
import os
import statistics
import sys
from collections import defaultdict

samples_path, mode, notes_path, out_json, out_md = sys.argv[1:6]
values = defaultdict(list)
scenarios = []
for line in open(samples_path):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 4:
        values[(parts[0], parts[1], parts[2])].append(float(parts[3]))
        if parts[0] not in scenarios:
            scenarios.append(parts[0])

SUBJECTS = ["Direct", "HAProxy", "Nginx", "ProxyHost", "SocketsHost", "ProxyHostLogged"]
METRICS = {  # metric: (label, unit, higher is better)
    "conns_per_sec": ("connections/s", "conn/s", True),
    "p50_us": ("connection p50", "us", False),
    "p99_us": ("connection p99", "us", False),
    "ttfb_p50_us": ("time to first byte p50", "us", False),
    "ttfb_p99_us": ("time to first byte p99", "us", False),
    "cpu_s_per_1k": ("proxy CPU per 1,000 connections", "CPU s", False),
    "idle_cpu0": ("cpu0 idle during the run (client's CPU)", "share", False),
    "idle_cpu1": ("cpu1 idle during the run (backends' CPU)", "share", False),
    "rps": ("requests/s", "req/s", True),
    "tps": ("transactions/s", "tps", True),
    "errors": ("client errors", "count", False),
}
OURS = ["ProxyHost", "SocketsHost", "ProxyHostLogged"]
PEERS = ["HAProxy", "Nginx", "Direct"]
# Issue 13's bar: >= 1.1x HAProxy and >= 1.0x nginx connections/s; p99 and time to first byte <= HAProxy's.
GOALS = {("conns_per_sec", "HAProxy"): {"minRatio": 1.1}, ("conns_per_sec", "Nginx"): {"minRatio": 1.0},
         ("p99_us", "HAProxy"): {"maxRatio": 1.0}, ("ttfb_p50_us", "HAProxy"): {"maxRatio": 1.0},
         ("ttfb_p99_us", "HAProxy"): {"maxRatio": 1.0}}


def fmt(v):
    return f"{statistics.median(v):.4g} [{min(v):.4g}-{max(v):.4g}]"


def ratio(a, b):
    pairs = list(zip(a, b)) if len(a) == len(b) else [(x, y) for x in a for y in b]
    return [x / y for x, y in pairs if y]


results, md = [], []
# The invocation, start time and commit (run.sh passes them in RUN_INFO); the mode alone when run by hand.
command = os.environ.get("RUN_INFO", f"benchmarks/connrate/run.sh --{mode}")
for scenario in scenarios:
    metrics = [m for m in METRICS if any(values.get((scenario, s, m)) for s in SUBJECTS)]
    if not metrics:
        continue
    present = [s for s in SUBJECTS if any(values.get((scenario, s, m)) for m in metrics)]
    md.append(f"\n### {scenario}\n")
    pairs = [("ProxyHost", "HAProxy"), ("ProxyHost", "Nginx"), ("SocketsHost", "HAProxy")]
    if "ProxyHostLogged" in present:
        pairs.append(("ProxyHostLogged", "ProxyHost"))
    md.append("| metric | " + " | ".join(present) + " | " + " | ".join(f"{a} ÷ {b.replace('Nginx', 'nginx')}" for a, b in pairs) + " |")
    md.append("|---|" + "---|" * (len(present) + len(pairs)))
    for m in metrics:
        label, unit, higher = METRICS[m]
        row = [fmt(values[(scenario, s, m)]) if values.get((scenario, s, m)) else "-" for s in present]
        ratios = []
        for ours, peer in pairs:
            a, b = values.get((scenario, ours, m)), values.get((scenario, peer, m))
            ratios.append(fmt(ratio(a, b)) if a and b and ratio(a, b) else "-")
        md.append(f"| {label} ({unit}) | " + " | ".join(row) + " | " + " | ".join(ratios) + " |")
        if m == "errors":
            continue
        for ours in OURS:
            for peer in PEERS + (["ProxyHost"] if ours == "ProxyHostLogged" else []):
                a, b = values.get((scenario, ours, m)), values.get((scenario, peer, m))
                if not a or not b:
                    continue
                entry = {"scenario": scenario, "metric": label, "unit": unit, "higherIsBetter": higher,
                         "subject": ours, "subjectValues": a, "peer": peer, "peerValues": b, "command": command}
                if (m, peer) in GOALS and ours != "ProxyHostLogged" and (scenario.startswith("conn ") or m.startswith("ttfb")):
                    entry["goal"] = GOALS[(m, peer)]
                results.append(entry)
        for peer in ("HAProxy", "Nginx"):
            a, b = values.get((scenario, peer, m)), values.get((scenario, "Direct", m))
            if a and b:
                results.append({"scenario": scenario, "metric": label, "unit": unit, "higherIsBetter": higher,
                                "subject": peer, "subjectValues": a, "peer": "Direct", "peerValues": b, "command": command})

notes = [line.strip() for line in open(notes_path)] if notes_path and os.path.exists(notes_path) else []
doc = {"suite": "connrate", "mode": mode, "command": command,
       "placement": "client cpu0, backends (echo, greeter, redis-server, postgres) cpu1, proxies unpinned",
       "notes": ["ProxyHost = samples/ProxyHost (BpfSteer transport), SocketsHost = the same wiring on Kestrel's Sockets transport, "
                 "ProxyHostLogged = ProxyHost with its access log on (one console line per connection); "
                 "TCP routes with every setting at its default (Mode=Auto). Connection = connect, 1 KiB each way, shutdown, "
                 "end of stream, close; server-first: the backend sends 1 KiB first. CPU = utime+stime of every proxy process "
                 "(/proc/PID/stat) over the run, divided by the connections made."] + notes,
       "results": results}
json.dump(doc, open(out_json, "w"), indent=1)
with open(out_md, "w") as f:
    f.write(f"# Connection rate ({mode})\n\nCommand: `{command}`; client cpu0, backends cpu1, proxies unpinned; "
            "median [min-max] over the repetitions, ratios paired run by run.\n")
    f.write("\n".join(md) + "\n\n## Notes\n\n")
    f.write("\n".join(f"- {n}" for n in notes) + "\n")
print(f"{len(results)} result entries -> {out_json}, {out_md}")
