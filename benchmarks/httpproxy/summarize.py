#!/usr/bin/env python3
"""Turns benchmarks/httpproxy/run.sh's wrk lines into raw/httpproxy.json (benchmarks/README.md schema) and a table.

Input lines: "VARIANT CONNECTIONS REP {wrk json}". Ratios are paired by repetition (same run, interleaved); every
figure is median [min-max]. Goals (issue 14): YARP on BpfSteer >= 1.3x YARP on Sockets in requests/s with p99 <= 0.9x,
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
p.add_argument("--client-cpu", default="0")
p.add_argument("--backend-cpu", default="1")
p.add_argument("--labels", default="")
a = p.parse_args()

labels = dict(kv.split("=", 1) for kv in a.labels.split(";") if "=" in kv)
runs = {}
for line in open(a.results):
    variant, c, rep, js = line.split(" ", 3)
    runs.setdefault((variant, int(c)), []).append(json.loads(js))
variants = list(dict.fromkeys(v for v, _ in runs))
levels = sorted({c for _, c in runs})


def vals(v, c, key):
    return [r[key] for r in runs.get((v, c), [])]


def stat(xs):
    if not xs:
        return "–"
    return f"{statistics.median(xs):,.0f} [{min(xs):,.0f}–{max(xs):,.0f}]"


def ratio(xs, ys):
    rs = [x / y for x, y in zip(xs, ys) if y] if len(xs) == len(ys) else [x / y for x in xs for y in ys if y]
    if not rs:
        return "–"
    return f"{statistics.median(rs):.2f} [{min(rs):.2f}–{max(rs):.2f}]"


wrk = f"taskset -c {a.client_cpu} wrk -t1 -c{{C}} -d{a.duration}s --timeout 5s -s benchmarks/scaling/wrk-json.lua http://127.0.0.1:PORT/"
entries = []
subject = "yarp-bpfsteer"
comparisons = [(subject, "yarp-sockets", {"rps": {"minRatio": 1.3}, "p99_us": {"maxRatio": 0.9}}),
               (subject, "nginx", {"rps": {"minRatio": 1.0}}),
               (subject, "haproxy", {})]
comparisons += [(v, "yarp-sockets", {}) for v in variants if v.startswith("yarp-bpfsteer-")]
for c in levels:
    for s, peer, goals in comparisons:
        if (s, c) not in runs or (peer, c) not in runs:
            continue
        for metric, key, unit, higher in (("requests/s", "rps", "req/s", True), ("p99 latency", "p99_us", "us", False)):
            e = {
                "scenario": f"HTTP/1.1 keep-alive proxy, {c} connections", "metric": metric, "unit": unit,
                "higherIsBetter": higher,
                "subject": labels.get(s, s), "subjectValues": vals(s, c, key),
                "peer": labels.get(peer, peer), "peerValues": vals(peer, c, key),
                "errors": {s: sum(vals(s, c, "errors")), peer: sum(vals(peer, c, "errors"))},
                "command": wrk.replace("{C}", str(c)),
            }
            if key in goals:
                e["goal"] = goals[key]
            entries.append(e)

doc = {
    "suite": "httpproxy", "mode": a.mode, "repetitions": a.reps,
    "command": f"benchmarks/httpproxy/run.sh --{a.mode}",
    "placement": f"wrk -t1 on CPU {a.client_cpu}, nginx static backend (13 bytes, 1 worker) on CPU {a.backend_cpu}, "
                 "proxies unpinned (BpfSteer pins one worker per CPU itself); loopback, HTTP/1.1 keep-alive",
    "notes": ["Subjects: " + ", ".join(labels.get(v, v) for v in variants)],
    "results": entries,
    "series": [{"subject": labels.get(v, v), "connections": c, "rps": vals(v, c, "rps"), "p99_us": vals(v, c, "p99_us")}
               for v in variants for c in levels],
}
json.dump(doc, open(a.json_out, "w"), indent=1)

md = ["# HTTP reverse proxy (wrk, HTTP/1.1 keep-alive)", "",
      f"- Placement: {doc['placement']}.",
      f"- {a.reps} repetitions of {a.duration} s per subject and level, interleaved, after a warm-up; median [min–max].",
      f"- Command per run: `{wrk}`", "",
      "| connections | subject | requests/s | p99 µs | errors | req/s ÷ YARP on Sockets | p99 ÷ YARP on Sockets | req/s ÷ nginx |",
      "|---|---|---|---|---|---|---|---|"]
for c in levels:
    for v in variants:
        rps, p99 = vals(v, c, "rps"), vals(v, c, "p99_us")
        md.append(f"| {c} | {labels.get(v, v)} | {stat(rps)} | {stat(p99)} | {sum(vals(v, c, 'errors'))} | "
                  f"{ratio(rps, vals('yarp-sockets', c, 'rps'))} | {ratio(p99, vals('yarp-sockets', c, 'p99_us'))} | "
                  f"{ratio(rps, vals('nginx', c, 'rps'))} |")
open(a.md_out, "w").write("\n".join(md) + "\n")
print("\n".join(md))
print(f"wrote {a.json_out} and {a.md_out}")
