#!/usr/bin/env python3
"""Merges benchmarks/results/raw/*.json into benchmarks/results/RESULTS.md and draws PNG charts (charts.py).

Every figure is a ratio against a peer measured in the same run: for each result entry the ratio subject/peer is
computed run by run (runs are paired by index when both sides have the same count, otherwise every subject run is
divided by every peer run), and reported as median [min-max]. A goal is judged on the median ratio; an entry whose
goal is not met says "NOT met". The input schema is documented in benchmarks/README.md.

Usage: benchmarks/charts/report.py [--raw DIR] [--out DIR] [--title TEXT] [--status TSV] [--since UNIXTIME]
With no option it re-renders the committed results: benchmarks/results/raw/ plus benchmarks/results/*.json.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import sys

import charts as chart_drawing


def ratios(subject, peer):
    subject = [float(v) for v in subject if v is not None]
    peer = [float(v) for v in peer if v is not None]
    if not subject or not peer:
        return []
    if len(subject) == len(peer):
        return [s / p for s, p in zip(subject, peer) if p != 0]
    return [s / p for s in subject for p in peer if p != 0]


def parse_goal(goal):
    """Returns (op, value, text): op is '>=' or '<='. Accepts {"minRatio": x}, {"maxRatio": x} or ">=x" / "<=x"."""
    if goal is None:
        return None
    if isinstance(goal, dict):
        text = goal.get("text")
        if "minRatio" in goal:
            return (">=", float(goal["minRatio"]), text or f">= {goal['minRatio']}x")
        if "maxRatio" in goal:
            return ("<=", float(goal["maxRatio"]), text or f"<= {goal['maxRatio']}x")
        return None
    s = str(goal).strip().replace("x", "").replace("×", "")
    for op in (">=", "<="):
        if s.startswith(op):
            try:
                return (op, float(s[len(op):]), f"{op} {s[len(op):].strip()}x")
            except ValueError:
                return None
    return None


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def median(values):
    values = [float(v) for v in values if v is not None]
    return statistics.median(values) if values else None


def adapt_transport(doc):
    """benchmarks/transport/summarize.py's transport.json: endpoints -> variants -> {rps, p99_ms} stats with runs."""
    targets = doc.get("targets", {})
    results = []
    for endpoint, variants in doc["endpoints"].items():
        base = variants.get("sockets")
        if not base:
            continue
        t = doc.get("targetsByEndpoint", {}).get(endpoint, targets)  # e.g. h2c has its own goals
        for variant, e in variants.items():
            if variant == "sockets":
                continue
            for metric, key, unit, higher, goal in (
                    ("requests/s", "rps", "req/s", True, {"minRatio": t["rps_ratio_min"]} if "rps_ratio_min" in t else None),
                    ("p50 latency", "p50_ms", "ms", False, None),
                    ("p99 latency", "p99_ms", "ms", False, {"maxRatio": t["p99_ratio_max"]} if "p99_ratio_max" in t else None),
                    ("server CPU per request", "cpu_us_per_req", "µs", False, None)):
                if key not in e or key not in base:  # older raw files: no p50, CPU or h2c percentiles
                    continue
                results.append({"scenario": f"{endpoint} (h2load)" if endpoint == "h2c" else f"{endpoint} (wrk)", "metric": metric, "unit": unit, "higherIsBetter": higher,
                                "subject": variant, "subjectValues": e[key]["runs"], "peer": "sockets", "peerValues": base[key]["runs"],
                                "goal": goal, "command": e.get("command", "")})
    loc = doc.get("locality", {})
    on, off = loc.get("bpfsteer-inline"), loc.get("bpfsteer-noselector")
    if on and off:  # locality: incomingCpuMatched/accepted with the selector on, against the same with it off
        results.append({"scenario": "locality (SO_INCOMING_CPU matched/accepted)", "metric": "locality ratio", "unit": "fraction",
                        "higherIsBetter": True, "subject": "selector Cbpf", "subjectValues": on["ratio"]["runs"],
                        "peer": "selector None", "peerValues": off["ratio"]["runs"], "goal": None, "command": on.get("command", "")})
    return {"suite": "transport", "mode": "quick" if doc.get("quick") else "full", "placement": doc.get("placement"),
            "command": "benchmarks/transport/run.sh", "notes": [doc.get("benchmark", "")], "results": results}


# Suites that write their own shape are converted here; everything else must follow benchmarks/README.md's schema.
ADAPTERS = [(lambda d: isinstance(d.get("endpoints"), dict) and "targets" in d, adapt_transport)]


def load(paths):
    docs, problems = [], []
    for path in paths:
        try:
            doc = json.load(open(path))
        except (OSError, ValueError) as e:
            problems.append(f"`{os.path.basename(path)}`: not readable JSON ({e})")
            continue
        if isinstance(doc, dict) and not isinstance(doc.get("results"), list):
            for matches, adapt in ADAPTERS:
                if matches(doc):
                    try:
                        doc = adapt(doc)
                    except (KeyError, TypeError, ValueError) as e:
                        problems.append(f"`{os.path.basename(path)}`: could not be converted ({e!r})")
                        doc = None
                    break
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            problems.append(f"`{os.path.basename(path)}`: no `results` list (schema in benchmarks/README.md)")
            continue
        doc["_file"] = os.path.basename(path)
        docs.append(doc)
    return docs, problems


def rows(docs):
    out = []
    for doc in docs:
        suite = doc.get("suite", doc["_file"].removesuffix(".json"))
        for e in doc["results"]:
            if "ratioValues" in e:
                rs = [float(r) for r in e["ratioValues"]]
            else:
                rs = ratios(e.get("subjectValues", []), e.get("peerValues", []))
            goal = parse_goal(e.get("goal"))
            med = statistics.median(rs) if rs else None
            if goal is None:
                met = "–"
            elif med is None:
                met = "NOT met (no data)"
            else:
                ok = med >= goal[1] if goal[0] == ">=" else med <= goal[1]
                met = "met" if ok else "**NOT met**"
            out.append({
                "suite": suite, "file": doc["_file"], "scenario": e.get("scenario", "?"), "metric": e.get("metric", "?"),
                "unit": e.get("unit", ""), "subject": e.get("subject", "?"), "peer": e.get("peer", "?"),
                "ratios": rs, "median": med, "min": min(rs) if rs else None, "max": max(rs) if rs else None,
                "subjectMedian": median(e.get("subjectValues", [])), "peerMedian": median(e.get("peerValues", [])),
                "runs": len(rs) if len(e.get("subjectValues", [])) != len(e.get("peerValues", [])) else len(e.get("subjectValues", [])),
                "goal": goal[2] if goal else "–", "met": met, "higherIsBetter": e.get("higherIsBetter", True),
                "command": e.get("command", doc.get("command", "")), "note": e.get("note", ""),
                "errors": {k: v for k, v in (e.get("errors") or {}).items() if v} if isinstance(e.get("errors"), dict) else {},
            })
    return out


def errors_text(r):
    """Client-side errors (wrk socket errors, timeouts) next to the run count: a fast but failing run is no win."""
    return "" if not r["errors"] else " (errors: " + ", ".join(f"{k} {v}" for k, v in r["errors"].items()) + ")"


def machine(raw_dir):
    """The machine the suites ran on: written by benchmarks/run.sh at run time, else this one (a re-render elsewhere)."""
    recorded = os.path.join(raw_dir, "machine.txt")
    if os.path.exists(recorded):
        return open(recorded).read().strip()
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(open("/proc/meminfo").readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{platform.node()}: Linux {platform.release()}, {os.cpu_count()} CPUs ({cpu}){mem}"


def measured(raw_dir):
    """When and at which commit the suites ran (benchmarks/run.sh writes it), else the report time."""
    info_file = os.path.join(raw_dir, "run-info.txt")
    if os.path.exists(info_file):
        return open(info_file).read().strip()
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") + " (report time)"


def write_markdown(path, raw_dir, docs, table, problems, charts, title, suites):
    modes = sorted({d.get("mode", "?") for d in docs})
    load_file = os.path.join(raw_dir, "load-before.txt")
    load = open(load_file).read().strip() if os.path.exists(load_file) else None
    load_text = f" Load average before the run: {load} (1/5/15 min; a busy machine makes every ratio noisy)." if load else ""
    lines = [f"# {title}", "", f"Measured {measured(raw_dir)} on {machine(raw_dir)}. Mode: {', '.join(modes) or '–'}.{load_text}", "",
             "Every figure is a ratio subject / peer measured in the same run (median [min–max] over the repetitions; "
             "for latency lower is better). Goals are judged on the median.", ""]
    met = sum(1 for r in table if r["met"] == "met")
    not_met = sum(1 for r in table if r["met"].startswith("**NOT") or r["met"].startswith("NOT"))
    lines += [f"Goals: {met} met, {not_met} not met, {sum(1 for r in table if r['met'] == '–')} entries without a goal.", ""]
    if suites:
        lines += ["| Suite | Run | Detail |", "|---|---|---|"]
        lines += [f"| {s[0]} | {s[1] if len(s) > 1 else ''} | {s[2] if len(s) > 2 else ''} |" for s in suites] + [""]
    for suite in dict.fromkeys(r["suite"] for r in table):
        doc = next(d for d in docs if d.get("suite", d["_file"].removesuffix(".json")) == suite)
        lines += [f"## {suite}", ""]
        if doc.get("placement"):
            lines += [f"CPU placement: {doc['placement']}", ""]
        if doc.get("command"):
            lines += [f"Command: `{doc['command']}`", ""]
        for note in doc.get("notes", []) or []:
            if note:
                lines += [f"- {note}"]
        lines += ["", "| Scenario | Metric | Subject / peer | Ratio median [min–max] | Subject | Peer | Runs | Goal | Goal met |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in table if r["suite"] == suite):
            ratio = "no data" if r["median"] is None else f"{r['median']:.2f}× [{r['min']:.2f}–{r['max']:.2f}]"
            lines.append(f"| {r['scenario']} | {r['metric']} | {r['subject']} / {r['peer']} | {ratio} | "
                         f"{fmt(r['subjectMedian'])} {r['unit']} | {fmt(r['peerMedian'])} {r['unit']} | {r['runs']}{errors_text(r)} | {r['goal']} | {r['met']} |")
        commands = sorted({r["command"] for r in table if r["suite"] == suite and r["command"] and r["command"] != doc.get("command")})
        if commands:
            lines += ["", "Commands:", ""] + [f"- `{c}`" for c in commands]
        lines.append("")
    if charts:
        lines += ["## Charts", ""]
        for png, caption in charts:
            lines += [f"![{caption}]({os.path.relpath(png, os.path.dirname(path))})", ""]
    if problems:
        lines += ["## Inputs not used", ""] + [f"- {p}" for p in problems] + [""]
    lines += ["Raw results: `benchmarks/results/raw/*.json` (committed with this file; the per-run logs next to them are not). "
              "Re-run `benchmarks/run.sh` to reproduce.", ""]
    open(path, "w").write("\n".join(lines))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    results = os.path.normpath(os.path.join(here, "..", "results"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw", default=os.path.join(results, "raw"))
    p.add_argument("--out", default=results)
    p.add_argument("--title", default="BpfSteer benchmark results")
    p.add_argument("--status", help="TSV of suite<TAB>state<TAB>detail written by benchmarks/run.sh (default: RAW/suites.tsv)")
    p.add_argument("--since", type=float, default=None,
                   help="read only the OUT/*.json written after this Unix time (suites that write their summary there; "
                        "benchmarks/run.sh passes its start). Without it every OUT/*.json is read: a re-render of kept results")
    a = p.parse_args()

    paths = sorted(glob.glob(os.path.join(a.raw, "*.json")))
    paths += sorted(f for f in glob.glob(os.path.join(a.out, "*.json")) if a.since is None or os.path.getmtime(f) >= a.since)
    docs, problems = load(paths)
    suites = []
    a.status = a.status or os.path.join(a.raw, "suites.tsv")
    if os.path.exists(a.status):
        suites = [line.rstrip("\n").split("\t", 2) for line in open(a.status) if line.strip()]
    table = rows(docs)
    charts_dir = os.path.join(a.out, "charts")
    os.makedirs(charts_dir, exist_ok=True)
    for old in glob.glob(os.path.join(charts_dir, "*.png")):
        os.remove(old)  # a chart of a suite that did not run this time must not survive from an older run
    charts = chart_drawing.draw_all(charts_dir, docs, measured(a.raw))
    md = os.path.join(a.out, "RESULTS.md")
    write_markdown(md, a.raw, docs, table, problems, charts, a.title, suites)
    print(f"wrote {md} ({len(table)} entries from {len(docs)} files, {len(charts)} charts)")
    return 0 if docs else 1


if __name__ == "__main__":
    sys.exit(main())
