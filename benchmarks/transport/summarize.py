#!/usr/bin/env python3
"""Summarizes wrk outputs of benchmarks/transport/run.sh: median/min/max req/s and p99 per variant and endpoint, and
ratios against Kestrel's Sockets transport measured in the same run. Writes transport.json and transport.md."""
import argparse, glob, json, os, platform, re, statistics, subprocess

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def percentile(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * UNITS[m.group(2)]
    requests = int(re.search(r"^\s+(\d+) requests in", text, re.M).group(1))
    errors = re.search(r"Socket errors: (.*)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50_ms": percentile(50), "p99_ms": percentile(99), "cpu_us_per_req": cpu_per_request(text, requests),
            "socket_errors": errors.group(1) if errors else None,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "command": text.splitlines()[0].lstrip("# ")}


def cpu_per_request(text, requests):
    """Server CPU (user + system) microseconds per request, from the run script's `# server-cpu-seconds:` line."""
    m = re.search(r"^# server-cpu-seconds: ([\d.]+)", text, re.M)
    return float(m.group(1)) * 1e6 / requests if m and requests else None


def parse_h2load(path):
    text = open(path).read()
    rps = float(re.search(r"^finished in [^,]+, ([\d.]+) req/s", text, re.M).group(1))
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", text)
    lat = re.search(r"^# latency-ms: p50=([\d.]+) p99=([\d.]+)", text, re.M)
    return {"rps": rps, "succeeded": int(m.group(1)), "failed": int(m.group(2)),
            "p50_ms": float(lat.group(1)) if lat else None, "p99_ms": float(lat.group(2)) if lat else None,
            "cpu_us_per_req": cpu_per_request(text, int(m.group(1))), "command": text.splitlines()[0].lstrip("# ")}


def parse_stats(path):
    lines = open(path).read().splitlines()
    workers = json.loads(lines[1])["workers"]
    accepted = sum(w["accepted"] for w in workers)
    matched = sum(w["incomingCpuMatched"] for w in workers)
    return {"ratio": matched / accepted if accepted else None, "accepted": accepted, "matched": matched,
            "workers": workers, "command": lines[0].lstrip("# ")}


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


METRICS = ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")


def summarize_variants(variants, errors, endpoint):
    """Per variant: median/min/max of every metric the runs have, and ratios against `sockets` from the same run."""
    base = variants.get("sockets")
    entry = {}
    for variant, rs in variants.items():
        e = {"errors": [x for r in rs for x in errors(r)], "non_2xx": sum(r.get("non_2xx", 0) for r in rs), "command": rs[0]["command"]}
        for key in METRICS:
            values = [r[key] for r in rs if r.get(key) is not None]
            if values:
                e[key] = stats(values)
        if base and variant != "sockets":
            for key in METRICS:
                peer = [r[key] for r in base if r.get(key) is not None]
                if key in e and peer:
                    e[key.replace("_ms", "").replace("_us_per_req", "") + "_ratio"] = e[key]["median"] / statistics.median(peer)
            t = targets_for(endpoint)
            e["rps_target_met"] = e["rps_ratio"] >= t["rps_ratio_min"]
            if "p99_ratio" in e:
                e["p99_target_met"] = e["p99_ratio"] <= t["p99_ratio_max"]
        entry[variant] = e
    return entry


# Issue 3: plaintext and JSON >= 1.15x Sockets with p99 <= 0.9x; issue 14: h2c (h2load) >= 1.0x with p99 <= 1.0x.
TARGETS = {"rps_ratio_min": 1.15, "p99_ratio_max": 0.9}
TARGETS_BY_ENDPOINT = {"h2c": {"rps_ratio_min": 1.0, "p99_ratio_max": 1.0}}


def targets_for(endpoint):
    return TARGETS_BY_ENDPOINT.get(endpoint, TARGETS)


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
              "targets": TARGETS, "targetsByEndpoint": TARGETS_BY_ENDPOINT, "endpoints": {}}
    for endpoint, variants in runs.items():
        result["endpoints"][endpoint] = summarize_variants(variants, lambda r: [r["socket_errors"]] if r["socket_errors"] else [], endpoint)

    # h2c (h2load): p50/p99 come from its per-request log (the run script keeps only the percentiles).
    h2 = {}
    for path in sorted(glob.glob(os.path.join(a.raw, "h2c-*-*.h2load"))):
        variant = os.path.basename(path)[len("h2c-"):-len(".h2load")].rsplit("-", 1)[0]
        h2.setdefault(variant, []).append(parse_h2load(path))
    if h2:
        result["endpoints"]["h2c"] = summarize_variants(h2, lambda r: [f"{r['failed']} failed"] if r["failed"] else [], "h2c")

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
             f"- Raw output: `{a.raw}`", "- Ratios are BpfSteer / Sockets medians from this run. Targets: req/s ratio >= 1.15, p99 ratio <= 0.9.",
             "- Server CPU: the server process's user+system CPU time during the measured run divided by the requests served.", "",
             "| endpoint | variant | req/s median (min–max) | p50 ms | p99 ms median (min–max) | server CPU µs/req | req/s ratio | p50 ratio | p99 ratio | CPU ratio | errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(s, digits):
        return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})" if s else "–"

    for endpoint, entry in result["endpoints"].items():
        for variant, e in entry.items():
            ratio = lambda k: f"{e.get(k + '_ratio', 1.0):.2f}" if k in e or k + "_ms" in e or k + "_us_per_req" in e else "–"
            lines.append(f"| {endpoint} | {variant} | {cell(e['rps'], 0)} | {cell(e.get('p50_ms'), 2)} | {cell(e.get('p99_ms'), 2)} | "
                         f"{cell(e.get('cpu_us_per_req'), 1)} | {ratio('rps')} | {ratio('p50')} | {ratio('p99')} | {ratio('cpu')} | "
                         f"{len(e['errors']) + e['non_2xx']} |")
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
