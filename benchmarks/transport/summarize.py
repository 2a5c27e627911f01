#!/usr/bin/env python3
"""Summarizes wrk outputs of benchmarks/transport/run.sh: median/min/max req/s and p99 per variant and endpoint, and
ratios against Kestrel's Sockets transport measured in the same run. Writes transport.json and transport.md."""
import argparse, glob, json, os, platform, re, statistics, subprocess

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * UNITS[m.group(2)]
    errors = re.search(r"Socket errors: (.*)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p99_ms": p99, "socket_errors": errors.group(1) if errors else None,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "command": text.splitlines()[0].lstrip("# ")}


def parse_h2load(path):
    text = open(path).read()
    rps = float(re.search(r"^finished in [^,]+, ([\d.]+) req/s", text, re.M).group(1))
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", text)
    return {"rps": rps, "succeeded": int(m.group(1)), "failed": int(m.group(2)), "command": text.splitlines()[0].lstrip("# ")}


def parse_stats(path):
    lines = open(path).read().splitlines()
    workers = json.loads(lines[1])["workers"]
    accepted = sum(w["accepted"] for w in workers)
    matched = sum(w["incomingCpuMatched"] for w in workers)
    return {"ratio": matched / accepted if accepted else None, "accepted": accepted, "matched": matched,
            "workers": workers, "command": lines[0].lstrip("# ")}


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw"); ap.add_argument("out")
    for k in ("cpus", "threads", "connections", "duration", "reps", "quick"):
        ap.add_argument("--" + k)
    a = ap.parse_args()
    runs = {}
    for path in sorted(glob.glob(os.path.join(a.raw, "*-*-*.txt"))):
        variant, endpoint, _ = os.path.basename(path)[:-4].rsplit("-", 2)
        runs.setdefault(endpoint, {}).setdefault(variant, []).append(parse(path))

    result = {"benchmark": "BpfSteer transport vs Kestrel Sockets transport (wrk)", "raw": a.raw,
              "placement": f"server process and wrk both confined with taskset to CPUs {a.cpus}; BpfSteer: one pinned worker per CPU; "
                           f"wrk -t{a.threads} -c{a.connections} -d{a.duration} --latency, after a warm-up run",
              "repetitions": int(a.reps), "quick": a.quick == "1", "kernel": platform.release(),
              "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
              "targets": {"rps_ratio_min": 1.15, "p99_ratio_max": 0.9}, "endpoints": {}}
    for endpoint, variants in runs.items():
        base = variants.get("sockets")
        entry = {}
        for variant, rs in variants.items():
            e = {"rps": stats([r["rps"] for r in rs]), "p99_ms": stats([r["p99_ms"] for r in rs]),
                 "errors": [r["socket_errors"] for r in rs if r["socket_errors"]], "non_2xx": sum(r["non_2xx"] for r in rs),
                 "command": rs[0]["command"]}
            if base and variant != "sockets":
                e["rps_ratio"] = e["rps"]["median"] / statistics.median([r["rps"] for r in base])
                e["p99_ratio"] = e["p99_ms"]["median"] / statistics.median([r["p99_ms"] for r in base])
                e["rps_target_met"] = e["rps_ratio"] >= 1.15
                e["p99_target_met"] = e["p99_ratio"] <= 0.9
            entry[variant] = e
        result["endpoints"][endpoint] = entry

    # h2c (h2load): requests/s only (h2load reports no percentiles); the ratio is against sockets like the wrk runs.
    h2 = {}
    for path in sorted(glob.glob(os.path.join(a.raw, "h2c-*-*.h2load"))):
        variant = os.path.basename(path)[len("h2c-"):-len(".h2load")].rsplit("-", 1)[0]
        h2.setdefault(variant, []).append(parse_h2load(path))
    if h2:
        entry = {}
        for variant, rs in h2.items():
            e = {"rps": stats([r["rps"] for r in rs]), "errors": [f"{r['failed']} failed" for r in rs if r["failed"]],
                 "non_2xx": 0, "command": rs[0]["command"]}
            if "sockets" in h2 and variant != "sockets":
                e["rps_ratio"] = e["rps"]["median"] / statistics.median([r["rps"] for r in h2["sockets"]])
                e["rps_target_met"] = e["rps_ratio"] >= 1.15
            entry[variant] = e
        result["endpoints"]["h2c"] = entry

    # Locality: incomingCpuMatched / accepted from the transport's counters, selector on (Cbpf) vs off (None).
    loc = {}
    for path in sorted(glob.glob(os.path.join(a.raw, "locality-*-*.stats"))):
        variant = os.path.basename(path)[len("locality-"):-len(".stats")].rsplit("-", 1)[0]
        loc.setdefault(variant, []).append(parse_stats(path))
    if loc:
        result["locality"] = {v: {"ratio": stats([r["ratio"] for r in rs if r["ratio"] is not None]),
                                  "accepted": [r["accepted"] for r in rs], "matched": [r["matched"] for r in rs],
                                  "selector": "None" if v == "bpfsteer-noselector" else "Cbpf", "command": rs[0]["command"],
                                  "workers": [r["workers"] for r in rs]} for v, rs in loc.items()}

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "transport.json"), "w") as f:
        json.dump(result, f, indent=2)
    lines = ["# BpfSteer transport vs Kestrel Sockets (wrk)", "",
             f"- Placement: {result['placement']}", f"- Repetitions: {a.reps} (quick: {result['quick']}); kernel {result['kernel']}; {result['cpu_model']}",
             f"- Raw output: `{a.raw}`", "- Ratios are BpfSteer / Sockets medians from this run. Targets: req/s ratio >= 1.15, p99 ratio <= 0.9.", "",
             "| endpoint | variant | req/s median (min–max) | p99 ms median (min–max) | req/s ratio | p99 ratio | errors |",
             "|---|---|---|---|---|---|---|"]
    for endpoint, entry in result["endpoints"].items():
        for variant, e in entry.items():
            r, p = e["rps"], e.get("p99_ms")
            pt = f"{p['median']:.2f} ({p['min']:.2f}–{p['max']:.2f})" if p else "–"
            pr = f"{e.get('p99_ratio', 1.0):.2f}" if p else "–"
            lines.append(f"| {endpoint} | {variant} | {r['median']:.0f} ({r['min']:.0f}–{r['max']:.0f}) | {pt} | "
                         f"{e.get('rps_ratio', 1.0):.2f} | {pr} | {len(e['errors']) + e['non_2xx']} |")
    if "h2c" in result["endpoints"]:
        lines += ["", "h2c command per run: `" + next(iter(result["endpoints"]["h2c"].values()))["command"] + "`"]
    if "locality" in result:
        lines += ["", "| locality variant | selector | matched/accepted median (min–max) | accepted per run |", "|---|---|---|---|"]
        for v, e in result["locality"].items():
            r = e["ratio"]
            lines.append(f"| {v} | {e['selector']} | {r['median']:.3f} ({r['min']:.3f}–{r['max']:.3f}) | {e['accepted']} |")
        lines += ["", "Locality command per run: `" + next(iter(result["locality"].values()))["command"] + "`"]
    lines += ["", "Command per run: `" + next(iter(next(iter(result['endpoints'].values())).values()))["command"] + "`", ""]
    with open(os.path.join(a.out, "transport.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
