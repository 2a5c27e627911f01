#!/usr/bin/env bash
# One command reproduces every comparison and draws the charts:
#   1. builds Release and installs the peers (wrk, h2load, iperf3, HAProxy, nginx stream, redis, python3-matplotlib);
#   2. runs benchmarks/transport/run.sh and benchmarks/forwarder/run.sh with the same mode flag (each writes its JSON
#      to benchmarks/results/raw/), then benchmarks/scaling/run.sh (1 -> 1,000 connections through both) and
#      benchmarks/httpproxy/run.sh (YARP on both transports, nginx proxy_pass, HAProxy mode http);
#      benchmarks/connrate/run.sh (a connection per exchange through TCP routes vs HAProxy and nginx; redis-benchmark, pgbench);
#   3. merges every JSON into benchmarks/results/RESULTS.md (ratios vs the same-run peer, median [min-max], goal met
#      or NOT met) and PNG charts in benchmarks/results/charts/.
# A suite that is missing, fails or overruns its budget is reported as such in RESULTS.md; the others still count.
# Usage: benchmarks/run.sh [--quick|--full]      quick: <= 5 minutes in all; full: every scenario, longer runs
set -uo pipefail
cd "$(dirname "$0")/.."

case "${1:---quick}" in
  # Budgets are a safety net against a hung suite, not the target: on a quiet machine quick mode ends well inside them.
  --quick) mode=--quick; budgets=(transport:130 forwarder:130 scaling:90 httpproxy:150 connrate:150) ;;
  --full)  mode=--full;  budgets=(transport:1200 forwarder:1500 scaling:1200 httpproxy:900 connrate:900) ;;
  *) echo "usage: $0 [--quick|--full]" >&2; exit 2 ;;
esac

started=$(date +%s)
raw=benchmarks/results/raw
status=$raw/suites.tsv

bash eng/install-prereqs.sh --bench || exit 1
echo "== build (Release)"
dotnet build Solution.sln -c Release -nologo -clp:ErrorsOnly || exit 1
dotnet build benchmarks/scaling/ScalingApp -c Release -nologo -clp:ErrorsOnly || exit 1

# Whether the tree differs from the commit, decided before this run rewrites its own (tracked) result files.
dirty="$(git diff --quiet HEAD -- . ':(exclude)benchmarks/results' 2>/dev/null || echo ' (with uncommitted changes)')"
rm -rf "$raw"
mkdir -p "$raw"
: >"$status"

# Nothing else should compete for the two CPUs; say what the machine was doing, since the numbers depend on it.
load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== load before the run: $load (1/5/15 min)"
echo "$load" >"$raw/load-before.txt"
# When and what was measured (the report may be re-rendered later from these raw files).
printf '%s UTC, commit %s%s\n' "$(date -u -d "@$started" '+%Y-%m-%d %H:%M')" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "$dirty" >"$raw/run-info.txt"
printf '%s: Linux %s, %s CPUs (%s), %s GiB\n' "$(hostname)" "$(uname -r)" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" \
  >"$raw/machine.txt"

for entry in "${budgets[@]}"; do
  suite=${entry%%:*}
  budget=${entry##*:}
  script=benchmarks/$suite/run.sh
  log=$raw/$suite.log
  if [[ ! -f $script ]]; then
    echo "== $suite: $script does not exist yet — skipped"
    printf '%s\tnot run\t%s does not exist\n' "$suite" "$script" >>"$status"
    continue
  fi
  echo "== $suite: bash $script $mode (budget ${budget}s, log $log)"
  t0=$(date +%s)
  # --kill-after: a suite that ignores SIGTERM still ends, and its peers with it (they are its children).
  # Quick mode shortens the transport suite's wrk runs through its documented knob so every suite fits in 5 minutes.
  env_knobs=()
  [[ $mode == --quick && $suite == transport ]] && env_knobs=(DURATION="${DURATION:-1s}")
  [[ $mode == --quick && $suite == httpproxy ]] && env_knobs=(DURATION=1)
  env "${env_knobs[@]}" timeout --kill-after=10 "$budget" bash "$script" "$mode" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  took=$(( $(date +%s) - t0 ))
  case $rc in
    0) printf '%s\tok\t%ss, `bash %s %s`\n' "$suite" "$took" "$script" "$mode" >>"$status" ;;
    124|137) printf '%s\t**timed out**\tstopped after the %ss budget; partial results kept (log: %s)\n' "$suite" "$budget" "$log" >>"$status" ;;
    *) printf '%s\t**failed**\texit %s after %ss (log: %s)\n' "$suite" "$rc" "$took" "$log" >>"$status" ;;
  esac
done

echo "== report"
# Debian's python3-matplotlib is installed for /usr/bin/python3; a pyenv or venv python3 first on PATH would not see it.
python=/usr/bin/python3
[[ -x $python ]] || python=python3
"$python" benchmarks/charts/report.py --status "$status" --since "$started"
report_rc=$?

elapsed=$(( $(date +%s) - started ))
echo "== done in ${elapsed}s: benchmarks/results/RESULTS.md, benchmarks/results/charts/"
if [[ $mode == --quick && $elapsed -gt 300 ]]; then
  echo "warning: quick mode took ${elapsed}s (> 300 s budget)" >&2
fi
cat "$status" | tr '\t' ' '
# Non-zero when a suite did not finish cleanly or nothing could be merged, so CI or the lead notices.
if grep -qvP '\tok\t' "$status" || [[ $report_rc -ne 0 ]]; then
  exit 1
fi
