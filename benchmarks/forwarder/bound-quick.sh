#!/usr/bin/env bash
# One-stream iperf3 through the forwarder: direct vs sockmap with the queue bound (4 MiB, parking) vs sockmap
# unbounded (--max-queued 0) vs the user-space path, spread placement (client cpu0, server cpu1, proxies
# unpinned), interleaved repetitions so a shared machine's noise hits every peer alike.
# Prints per-peer median [min-max] Gbit/s and the ratio to direct of the same repetition.
# Usage: benchmarks/forwarder/bound-quick.sh [seconds] [repetitions]   (BOUNDS="4194304 16777216" adds peers per bound)
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-3}; reps=${2:-5}
app=(dotnet "${APP_DLL:-benchmarks/BpfSteer.Benchmarks/bin/Release/net10.0/BpfSteer.Benchmarks.dll}" forwarder)
work=$(mktemp -d /tmp/boundq.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 1; rm -rf "$work"' EXIT
taskset -c 1 iperf3 -s -p 7301 >/dev/null 2>&1 & pids+=($!)
declare -A port=([direct]=7301 [unbounded]=7321 [userspace]=7331)
peers=(direct)
n=0
for b in ${BOUNDS:-4194304}; do
  name=bound$((b >> 20))MiB; port[$name]=$((7340 + n)); n=$((n + 1)); peers+=("$name")
  "${app[@]}" proxy --route "${port[$name]}=7301" --mode Sockmap --max-queued "$b" >"$work/$name.log" 2>&1 & pids+=($!)
done
peers+=(unbounded userspace)
"${app[@]}" proxy --route 7321=7301 --mode Sockmap --max-queued 0 >"$work/unbounded.log" 2>&1 & pids+=($!)
"${app[@]}" proxy --route 7331=7301 --mode UserSpace >"$work/userspace.log" 2>&1 & pids+=($!)
for f in "${peers[@]:1}"; do for _ in $(seq 1 100); do grep -q ready "$work/$f.log" && break; sleep 0.1; done; done
for r in $(seq 1 "$reps"); do
  for p in "${peers[@]}"; do
    g=$(taskset -c 0 iperf3 -c 127.0.0.1 -p "${port[$p]}" -t "$secs" -J 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)' 2>/dev/null || echo 0)
    echo "$r $p $g" >>"$work/samples"
  done
done
python3 - "$work/samples" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for r, p, g in rows:
    by.setdefault(p, {})[r] = float(g)
direct = by["direct"]
for p in by:
    v = list(by[p].values())
    ratios = [by[p][r] / direct[r] for r in by[p] if direct.get(r)]
    print(f"{p:10s} {statistics.median(v):6.2f} Gbit/s [{min(v):.2f}-{max(v):.2f}]  x direct {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
PY
