"""The PNG charts of RESULTS.md and the README: one picture per question a user asks when comparing proxies.

Each question selects result entries (benchmarks/README.md's schema) by metric or unit, so a new suite or a new subject
shows up without a change here: every suite that has matching entries gets its own panel, every scenario a group of
bars, every subject (and peer) a bar. Subjects listed in SUBJECTS get a fixed name and colour; any other keeps its own
name and takes the next free colour. Suites with "series" (the scaling suite) are drawn as lines instead.

Drawn with matplotlib (Debian's python3-matplotlib, installed by eng/install-prereqs.sh --bench).
"""
import os
import re
import statistics
import sys

# (display name, colour); the order here is the order of the bars. References (the peer every ratio is taken against)
# come first and are grey.
SUBJECTS = {
    "Direct": ("direct connection, no proxy (reference)", "#8c959f"),
    "sockets": ("Kestrel Sockets transport (reference)", "#8c959f"),
    "Sockets": ("Kestrel Sockets transport (reference)", "#8c959f"),
    "SockmapRoute": ("BpfSteer sockmap, 4 MiB queue bound", "#0969da"),
    "SockmapUnbounded": ("BpfSteer sockmap, unbounded", "#54aeff"),
    "SockmapRfs": ("BpfSteer sockmap, unbounded + RFS steering", "#0a3069"),
    "AutoRoute": ("BpfSteer Mode=Auto", "#1b7c83"),
    "UserSpaceRoute": ("BpfSteer user space (splice)", "#bf8700"),
    "BpfSteer": ("BpfSteer transport", "#0969da"),
    "bpfsteer-inline": ("BpfSteer transport, Inline", "#0969da"),
    "bpfsteer-threadpool": ("BpfSteer transport, ThreadPool", "#54aeff"),
    "bpfsteer-ebpf": ("BpfSteer transport, eBPF selector", "#0a3069"),
    "HAProxy": ("HAProxy (mode tcp)", "#8250df"),
    "Nginx": ("nginx (stream)", "#1a7f37"),
}
REFERENCES = {"direct", "sockets"}  # compared in lower case: a new suite's "Direct" peer is grey too
SPARE_COLOURS = ["#cf222e", "#e16f24", "#bc4c00", "#6639ba", "#116329", "#953800", "#a475f9", "#4d2d00"]

UNITS = {"us": "µs"}

PLACEMENTS = {
    "spread": "spread\n(client cpu0, backend cpu1)",
    "onecpu": "one CPU\n(everything on cpu0)",
    "isolated": "isolated\n(client, backend cpu0;\nproxy cpu1)",
}


class Question:
    def __init__(self, name, title, ylabel, select, higher_is_better):
        self.name, self.title, self.ylabel, self.select, self.higher = name, title, ylabel, select, higher_is_better


QUESTIONS = [
    Question("throughput", "Bulk TCP throughput through each proxy, by CPU placement (iperf3)", None,
             lambda r: r["unit"] == "Gbit/s" and "send/receive" not in r["metric"], True),
    Question("connections", "New TCP connections per second through each proxy", "new connections per second",
             lambda r: "connections/s" in r["metric"] or r["unit"] == "conn/s", True),
    Question("latency-p99", "p99 latency through each proxy and server", None,
             lambda r: "p99" in r["metric"], False),
    Question("cpu-per-gb", "CPU time per GB moved, whole machine (user, kernel and softirq; iperf3 1 stream)", "CPU seconds per GB",
             lambda r: r["unit"] == "CPU s/GB" or r["metric"].startswith("CPU per GB"), False),
    Question("http-requests", "HTTP requests per second", "requests per second",
             lambda r: r["metric"] == "requests/s" or r["unit"] == "req/s", True),
]


def load_matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print(f"matplotlib is not importable by {sys.executable}: no charts. Debian's python3-matplotlib "
              "(bash eng/install-prereqs.sh --bench) is for /usr/bin/python3.", file=sys.stderr)
        return None


def fmt_value(v):
    if v >= 10000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def style(subject, colours):
    if subject in SUBJECTS:
        return SUBJECTS[subject]
    if subject.lower() in REFERENCES:
        return f"{subject} (reference)", "#8c959f"
    if subject not in colours:
        colours[subject] = SPARE_COLOURS[len(colours) % len(SPARE_COLOURS)]
    return subject, colours[subject]


def subject_order(subject, seen):
    keys = list(SUBJECTS)
    return (keys.index(subject), 0) if subject in keys else (len(keys), seen.index(subject))


def common_prefix(names):
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""
    return prefix[:prefix.rfind(" ") + 1] if " " in prefix else ""


def numbers(values):
    return [float(v) for v in values if isinstance(v, (int, float))] if isinstance(values, list) else []


def panels_for(question, entries):
    """[(panel title, [(group label, unit, {subject: [values]})])], one panel per suite and unit, in data order."""
    panels = {}
    for e in entries:
        if not question.select(e):
            continue
        groups = panels.setdefault((e["suite"], e["unit"]), {})
        bars = groups.setdefault((e["scenario"], e["metric"]), {})
        for subject, values in ((e["subject"], e["subjectValues"]), (e["peer"], e["peerValues"])):
            if numbers(values) and subject not in bars:
                bars[subject] = numbers(values)
    units_of = {}
    for suite, unit in panels:
        units_of.setdefault(suite, []).append(unit)
    out = []
    for (suite, unit), groups in panels.items():
        groups = {k: bars for k, bars in groups.items() if bars}  # entries with ratios only, or without values
        if not groups:
            continue
        metrics = list(dict.fromkeys(m for _, m in groups))
        prefix = common_prefix(metrics)
        labelled = []
        for (scenario, metric), bars in groups.items():
            if scenario.startswith(metric):
                placement = scenario[len(metric):].lstrip(", ")
                label = PLACEMENTS.get(placement, placement)
                if len(metrics) > 1:
                    label = f"{metric[len(prefix):]}\n{label}"
            else:
                label = scenario if len(metrics) == 1 else f"{scenario}\n{metric}"
            labelled.append((label, UNITS.get(unit, unit), bars))
        what = metrics[0] if len(metrics) == 1 else prefix.strip() or " / ".join(metrics)
        title = f"{suite} suite: {what}" + (f" ({UNITS.get(unit, unit)})" if len(units_of[suite]) > 1 else "")
        out.append((title, labelled))
    return out


def draw_panel(ax, title, groups, question, colours, seen, inches):
    x, ticks, labels, handles, runs, top = 0.0, [], [], {}, set(), 0.0
    crowded = inches / sum(len(g[2]) + 1.2 for g in groups) < 0.5  # a bar narrower than a value written across it
    for label, unit, bars in groups:
        seen.extend(s for s in bars if s not in seen)
        subjects = sorted(bars, key=lambda s: subject_order(s, seen))
        start = x
        for s in subjects:
            values = bars[s]
            med = statistics.median(values)
            runs.add(len(values))
            bar = ax.bar(x, med, width=0.85, color=style(s, colours)[1], edgecolor="white", linewidth=0.5,
                         yerr=[[med - min(values)], [max(values) - med]], capsize=2,
                         error_kw={"elinewidth": 0.8, "ecolor": "#24292f"})
            # The value sits above the whisker, where neither the bar nor the whisker hides it.
            ax.annotate(fmt_value(med), (x, max(values)), xytext=(0, 4), textcoords="offset points", ha="center", va="bottom",
                        rotation=90 if crowded else 0, fontsize=8)
            handles.setdefault(s, bar[0])
            top = max(top, max(values))
            if s.lower() in REFERENCES:
                ax.hlines(med, start - 0.45, start + len(subjects) - 0.55, colors="#8c959f", linestyles="dashed", linewidth=0.8)
            x += 1
        ticks.append((start + x - 1) / 2)
        labels.append(label)
        x += 1.2
    unit = groups[0][1]
    ax.set_ylabel(f"{question.ylabel or unit}, {'higher' if question.higher else 'lower'} is better")
    ax.set_xticks(ticks, labels, fontsize=9)
    ax.set_ylim(0, top * (1.22 if crowded else 1.12))
    ax.set_xlim(-0.8, x - 0.4)
    ax.grid(axis="y", color="#d0d7de", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}" if top >= 100 else f"{v:g}")
    ax.set_title(title, fontsize=11, loc="left")
    return handles, runs


def question_chart(plt, out_dir, question, entries, source):
    panels = panels_for(question, entries)
    if not panels:
        return None
    colours, seen, runs = {}, [], set()
    widths = [sum(len(g[2]) + 1.2 for g in groups) for _, groups in panels]
    width = min(16.0, max(10.0, 0.3 * sum(widths) + 3))
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 7.5), gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, w, (title, groups) in zip(axes[0], widths, panels):
        handles, r = draw_panel(ax, title, groups, question, colours, seen, 0.85 * width * w / sum(widths))
        runs |= r
        # One legend per panel, under its group labels: suites name their subjects differently.
        ordered = sorted(handles, key=lambda s: subject_order(s, seen))
        columns = max(1, min(len(ordered), int(width * w / sum(widths) / 3.3)))
        ax.legend([handles[s] for s in ordered], [style(s, colours)[0] for s in ordered], ncol=columns,
                  loc="upper left", bbox_to_anchor=(0, -0.16), frameon=False, fontsize=9.5)
    runs_text = f"{min(runs)}" if len(runs) == 1 else f"{min(runs)}–{max(runs)}"
    fig.suptitle(question.title, fontsize=15, fontweight="bold", x=0.01, y=0.99, ha="left")
    fig.text(0.01, 0.935, f"bar = median of {runs_text} runs, whisker = min–max; grey bar and dashed line = the reference "
                          "measured in the same run", fontsize=9.5, color="#57606a")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.text(0.01, -0.01, source, fontsize=8, color="#8c959f", va="top")
    png = os.path.join(out_dir, f"{question.name}.png")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return png


# key: (quantity, axis label, unit in the legend, factor to that unit, file name suffix, log scale)
SERIES_AXES = {"rps": ("requests per second", "requests/s, higher is better", "requests/s", 1, "throughput", False),
               "p99_us": ("p99 latency", "p99 latency, ms (log scale), lower is better", "ms", 0.001, "p99", True)}


def series_families(doc, subjects):
    """{family: [subjects]}: a subject's family is the scenario it is compared in, without its level ("c=100").

    The scaling suite compares BpfSteer with Sockets ("scaling transport") and the routes with Direct ("scaling
    forwarder"); each family is its own panel, so one reference line never stands for the other experiment."""
    family_of = {}
    for e in doc.get("results", []):
        family = re.sub(r"\s*\S+=\S+$", "", e.get("scenario", ""))
        for subject in (e.get("subject"), e.get("peer")):
            family_of.setdefault(subject, family)
    families = {}
    for subject in subjects:
        families.setdefault(family_of.get(subject, doc.get("suite", "")), []).append(subject)
    return families


def series_charts(plt, out_dir, docs, source):
    """Lines against the series' x value (connections for the scaling suite), one chart per measured quantity;
    returns [(png path, caption)]."""
    pngs = []
    for doc in docs:
        series = doc.get("series")
        if not series:
            continue
        suite = doc.get("suite", doc["_file"].removesuffix(".json"))
        xkey = "connections" if "connections" in series[0] else next(k for k, v in series[0].items() if k != "subject" and not isinstance(v, list))
        ykeys = list(dict.fromkeys(k for s in series for k, v in s.items() if isinstance(v, list)))
        subjects = list(dict.fromkeys(s["subject"] for s in series))
        families = series_families(doc, subjects)
        xs_all = sorted({s[xkey] for s in series})
        colours = {}
        for ykey in ykeys:
            quantity, axis, unit, factor, name, logy = SERIES_AXES.get(ykey, (ykey, ykey, "", 1, ykey, False))
            fig, axes = plt.subplots(1, len(families), figsize=(6.5 * len(families) + 1, 6.5), squeeze=False, sharey=True)
            for ax, (family, members) in zip(axes[0], families.items()):
                for subject in sorted(members, key=lambda s: subject_order(s, subjects)):
                    points = sorted((s[xkey], [float(v) * factor for v in s[ykey] if v is not None]) for s in series
                                    if s["subject"] == subject and s.get(ykey))
                    points = [(x, v) for x, v in points if v]
                    if not points:
                        continue
                    xs, meds = [x for x, _ in points], [statistics.median(v) for _, v in points]
                    label, colour = style(subject, colours)
                    label += f" — {fmt_value(meds[-1])} {unit} at {xs[-1]:,}"
                    ax.plot(xs, meds, marker="o", color=colour, label=label, linestyle="--" if subject.lower() in REFERENCES else "-")
                    ax.fill_between(xs, [min(v) for _, v in points], [max(v) for _, v in points], color=colour, alpha=0.12, linewidth=0)
                ax.set_xscale("log")
                if logy:
                    ax.set_yscale("log")
                else:
                    ax.set_ylim(bottom=0)
                ax.set_xticks(xs_all, [f"{x:,}" for x in xs_all])
                ax.minorticks_off()
                ax.set_xlabel(f"concurrent {xkey} (wrk -c, log scale)" if xkey == "connections" else xkey)
                ax.set_title(family.removeprefix(suite).strip() or family, fontsize=11, loc="left")
                ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
                ax.grid(color="#d0d7de", linewidth=0.6)
                ax.spines[["top", "right"]].set_visible(False)
                ax.legend(frameon=False, fontsize=9.5, loc="upper left", bbox_to_anchor=(0, -0.13))
            axes[0][0].set_ylabel(axis)
            title = quantity if any(c.isdigit() for c in quantity.split()[0]) else quantity[0].upper() + quantity[1:]  # "p99" stays
            caption = f"{title} as concurrent connections grow ({suite} suite)"
            fig.suptitle(caption,
                         fontsize=15, fontweight="bold", x=0.01, y=0.99, ha="left")
            fig.text(0.01, 0.935, "line = median of the runs, band = min–max; grey dashed line = the reference measured in the "
                                  "same run", fontsize=9.5, color="#57606a")
            fig.tight_layout(rect=(0, 0, 1, 0.92))
            fig.text(0.01, -0.01, source, fontsize=8, color="#8c959f", va="top")
            png = os.path.join(out_dir, f"{suite}-{name}.png")
            fig.savefig(png, dpi=110, bbox_inches="tight")
            plt.close(fig)
            pngs.append((png, caption))
    return pngs


def bar_entries(docs):
    """Every result entry with its suite, except those of suites drawn as series."""
    out = []
    for doc in docs:
        if doc.get("series"):
            continue
        suite = doc.get("suite", doc["_file"].removesuffix(".json"))
        for e in doc["results"]:
            out.append({"suite": suite, "scenario": e.get("scenario", "?"), "metric": e.get("metric", "?"), "unit": e.get("unit", ""),
                        "subject": e.get("subject", "?"), "subjectValues": e.get("subjectValues"),
                        "peer": e.get("peer", "?"), "peerValues": e.get("peerValues")})
    return out


def draw_all(out_dir, docs, measured):
    """Draws every chart the data allows; returns [(png path, caption)]."""
    plt = load_matplotlib()
    if plt is None:
        return []
    entries = bar_entries(docs)
    source = f"benchmarks/results: measured {measured}"
    charts = []
    for q in QUESTIONS:
        png = question_chart(plt, out_dir, q, entries, source)
        if png:
            charts.append((png, q.title))
    return charts + series_charts(plt, out_dir, docs, source)
