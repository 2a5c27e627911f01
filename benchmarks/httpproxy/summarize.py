#!/usr/bin/env python3
"""Turns benchmarks/httpproxy/run.sh's wrk lines into raw/httpproxy.json (benchmarks/README.md schema) and a table.

Input lines: "PLACEMENT VARIANT CONNECTIONS REP {wrk json}". Ratios are paired by repetition (same run, interleaved);
every figure is median [min-max]. Goals (issue 14): YARP on BpfSteer >= 1.3x YARP on Sockets in requests/s with p99 <= 0.9x,
and >= 1.0x nginx proxy_pass in requests/s.
"""
import argparse
import json
import statistics

p = argparse.ArgumentParser()
p.add_argument("results")
p.add_argument("json_out")
p.add_argument("md_out")
p.add_argument("--mode", default="quick")
p.add_argument("--reps", type=int, default=3)
p.add_argument("--duration", default="2")
p.add_argument("--labels", default="")
p.add_argument("--info", default="", help="when, which commit, the load before the run")
p.add_argument("--locality", default=None, help="lines 'VARIANT cpu=N ... upstreamOps=N upstreamOnWorkerCpu=N ...' from the apps' /_stats")
a = p.parse_args()

labels = dict(kv.split("=", 1) for kv in a.labels.split(";") if "=" in kv)
PLACEMENTS = {
    "split": "wrk -t1 on CPU 0, nginx static backend (13 bytes, 1 worker) on CPU 1, proxies unpinned "
             "(as issue 14 measured: every downstream connection reaches BpfSteer's CPU-0 worker)",
    "spread": "wrk -t2 and the nginx backend (1 worker) on CPUs 0-1, proxies unpinned (connections arrive on both CPUs)",
}
runs = {}
for line in open(a.results):
    placement, variant, c, rep, js = line.split(" ", 4)
    runs.setdefault((placement, variant, int(c)), []).append(json.loads(js))
placements = list(dict.fromkeys(p for p, _, _ in runs))
variants = list(dict.fromkeys(v for _, v, _ in runs))
levels = sorted({c for _, _, c in runs})


def vals(pl, v, c, key):
    return [r[key] for r in runs.get((pl, v, c), [])]


def stat(xs):
    if not xs:
        return "–"
    return f"{statistics.median(xs):,.0f} [{min(xs):,.0f}–{max(xs):,.0f}]"


def ratio(xs, ys):
    rs = [x / y for x, y in zip(xs, ys) if y] if len(xs) == len(ys) else [x / y for x in xs for y in ys if y]
    if not rs:
        return "–"
    return f"{statistics.median(rs):.2f} [{min(rs):.2f}–{max(rs):.2f}]"


def wrk(pl, c):
    cpus, threads = ("0", 1) if pl == "split" else ("0,1", min(2, c))
    return f"taskset -c {cpus} wrk -t{threads} -c{c} -d{a.duration}s --timeout 5s -s benchmarks/scaling/wrk-json.lua http://127.0.0.1:PORT/"


entries = []
subject = "yarp-bpfsteer"
comparisons = [(subject, "yarp-sockets", {"rps": {"minRatio": 1.3}, "p99_us": {"maxRatio": 0.9}}),
               (subject, "nginx", {"rps": {"minRatio": 1.0}}),
               (subject, "haproxy", {})]
comparisons += [(v, "yarp-sockets", {}) for v in variants if v.startswith("yarp-bpfsteer-")]
for pl in placements:
  for c in levels:
    for s, peer, goals in comparisons:
        if (pl, s, c) not in runs or (pl, peer, c) not in runs:
            continue
        for metric, key, unit, higher in (("requests/s", "rps", "req/s", True), ("p99 latency", "p99_us", "us", False)):
            e = {
                "scenario": f"HTTP/1.1 keep-alive proxy, {pl}, {c} connections", "metric": metric, "unit": unit,
                "higherIsBetter": higher,
                "subject": labels.get(s, s), "subjectValues": vals(pl, s, c, key),
                "peer": labels.get(peer, peer), "peerValues": vals(pl, peer, c, key),
                "errors": {s: sum(vals(pl, s, c, "errors")), peer: sum(vals(pl, peer, c, "errors"))},
                "command": wrk(pl, c),
            }
            if key in goals:
                e["goal"] = goals[key]
            entries.append(e)

locality = []
if a.locality:
    for line in open(a.locality):
        variant, *fields = line.split()
        kv = dict(f.split("=", 1) for f in fields if "=" in f)
        ops, local = int(kv.get("upstreamOps", 0)), int(kv.get("upstreamOnWorkerCpu", 0))
        locality.append((variant, kv.get("cpu"), ops, local, kv.get("upstreamOpened"), kv.get("upstreamOpen")))
locality_notes = [f"Locality, {labels.get(v, v)}, worker CPU {cpu}: {local}/{ops} upstream reads and writes on the "
                  f"downstream connection's CPU ({local / ops:.3f}); upstream connections opened {opened}, open at the end {open_}"
                  for v, cpu, ops, local, opened, open_ in locality if ops]

doc = {
    "suite": "httpproxy", "mode": a.mode, "repetitions": a.reps,
    "command": f"benchmarks/httpproxy/run.sh --{a.mode}",
    "placement": "; ".join(f"{pl}: {PLACEMENTS[pl]}" for pl in placements) + "; loopback, HTTP/1.1 keep-alive",
    "notes": ([f"Run: {a.info}"] if a.info else []) + ["Subjects: " + ", ".join(labels.get(v, v) for v in variants)] + locality_notes,
    "results": entries,
    "series": [{"subject": f"{labels.get(v, v)} ({pl})", "connections": c, "rps": vals(pl, v, c, "rps"), "p99_us": vals(pl, v, c, "p99_us")}
               for pl in placements for v in variants for c in levels],
}
json.dump(doc, open(a.json_out, "w"), indent=1)

md = ["# HTTP reverse proxy (wrk, HTTP/1.1 keep-alive)", "", f"- Run: {a.info}; `{doc['command']}`" if a.info else f"- `{doc['command']}`",
      f"- {a.reps} repetitions of {a.duration} s per subject and level, interleaved, after a warm-up; median [min–max];",
      "  ratios are taken run by run against the peer measured right before or after it.", ""]
for pl in placements:
    md += [f"## Placement '{pl}': {PLACEMENTS[pl]}", "", f"Command per run: `{wrk(pl, 32).replace('-c32', '-cN')}`", "",
           "| connections | subject | requests/s | p99 µs | errors | req/s ÷ YARP on Sockets | p99 ÷ YARP on Sockets | req/s ÷ nginx |",
           "|---|---|---|---|---|---|---|---|"]
    for c in levels:
        for v in variants:
            rps, p99 = vals(pl, v, c, "rps"), vals(pl, v, c, "p99_us")
            md.append(f"| {c} | {labels.get(v, v)} | {stat(rps)} | {stat(p99)} | {sum(vals(pl, v, c, 'errors'))} | "
                      f"{ratio(rps, vals(pl, 'yarp-sockets', c, 'rps'))} | {ratio(p99, vals(pl, 'yarp-sockets', c, 'p99_us'))} | "
                      f"{ratio(rps, vals(pl, 'nginx', c, 'rps'))} |")
    md.append("")
if locality_notes:
    md += ["## Locality (the transport's per-worker counters after every run of the subject)", ""]
    md += [f"- {n}" for n in locality_notes]
open(a.md_out, "w").write("\n".join(md) + "\n")
print("\n".join(md))
print(f"wrote {a.json_out} and {a.md_out}")
