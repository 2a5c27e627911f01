#!/usr/bin/env bash
# The sockmap queue bound, measured on ProxyHost itself (routes from a --config file, as a user runs it):
#   Default    : Mode=Auto, every setting at its default (MaxQueuedBytes 32 MiB, KernelQueueBudget 256 MiB)
#   Bound4/16/64: Mode=Sockmap, MaxQueuedBytes 4, 16, 64 MiB, default budget
#   Bound32    : Mode=Sockmap, MaxQueuedBytes 32 MiB (Default's bound, but paired at the start instead of promoted from the relay)
#   Unbounded  : no bound at all (MaxQueuedBytes 0: no high-mark or peer-full park; budget 64 GiB), through the
#                benchmark's own proxy on the same data path (no valid route setting turns the bound off)
#   UserSpace  : Mode=UserSpace
# against Direct (no proxy) and HAProxy `mode tcp` (option splice-auto), all in one run, interleaved repetitions.
# Placements: spread (client cpu0, backends cpu1, proxies unpinned), shared (client and backends on cpu0, proxies
# unpinned: the peers share one CPU, the proxy has the other) and onecpu (everything on cpu0).
# Measures: iperf3 one stream (every subject), four streams (spread), one stream each way (--bidir; shared, onecpu), 1 KiB ping-pong p50/p99 and
# redis-benchmark -t get,set -c 50 (keep-alive) on the default route; and per subject, from /bpfsteer/status at the
# end of each placement, the largest backlog one direction of one connection reached (redirected, not yet in the peer's
# send queue), the route's kernel-queue peak, the process budget's peak and the parks by reason.
# Each CPU's idle share during every iperf3 run is recorded too (tables for the spread placement).
# Output: $OUT, default benchmarks/results/forwarder-bound.md (+ raw samples in benchmarks/results/raw/forwarder-bound.tsv).
# Usage: benchmarks/forwarder/bound.sh [seconds per iperf3 run (3)] [repetitions (3)]
#   PLACEMENTS="spread" for one placement (default "spread shared onecpu"); SUBJECTS="HAProxy Default Bound32 UserSpace" for
#   only those in the one-stream runs (then the other measurements are skipped); OUT=file.md to keep the main results.
set -uo pipefail
cd "$(dirname "$0")/../.."
source benchmarks/forwarder/haproxy.sh
source benchmarks/cpu-idle.sh
secs=${1:-3}; reps=${2:-3}
out=${OUT:-benchmarks/results/forwarder-bound.md}
for tool in iperf3 haproxy redis-server redis-benchmark taskset python3; do
  command -v $tool >/dev/null || { echo "missing $tool: run bash eng/install-prereqs.sh --bench" >&2; exit 1; }
done
proxyhost=samples/ProxyHost/bin/Release/net10.0/ProxyHost.dll
bench=benchmarks/BpfSteer.Benchmarks/bin/Release/net10.0/BpfSteer.Benchmarks.dll
# Always build (incremental: seconds when nothing changed), so a run never measures a stale build.
dotnet build Solution.sln -c Release -nologo -clp:ErrorsOnly || exit 1
raw=benchmarks/results/raw; mkdir -p "$raw"
work=$(mktemp -d /tmp/boundbench.XXXXXX)
samples=$work/samples.tsv; : >"$samples"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 1; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; pids=(); }
trap 'cleanup; rm -rf "$work"' EXIT

# Backends: iperf3 7101, echo 7102, redis 7103. Proxies listen on <base>1 (iperf3), <base>2 (echo), <base>3 (redis).
declare -A base=([Default]=761 [Bound4]=762 [Bound16]=763 [Bound64]=764 [UserSpace]=765 [Unbounded]=766 [Bound32]=767 [HAProxy]=740)
GiB64=$((64 << 30))

route() { # route <name> <port> <backend cluster> <mode> [max-queued]
  printf '"%s": { "Listen": "127.0.0.1:%s", "ClusterId": "%s", "Mode": "%s"%s },' "$1" "$2" "$3" "$4" "${5:+, \"MaxQueuedBytes\": $5}"
}
proxyhost_config() { # proxyhost_config <file> <admin port> <budget or ""> <routes...>
  local file=$1 admin=$2 budget=$3; shift 3
  local routes; routes=$(printf '%s' "$@"); routes=${routes%,}
  local forwarder=""; [[ -n $budget ]] && forwarder=", \"Forwarder\": { \"KernelQueueBudget\": $budget }"
  cat >"$file" <<CFG
{
  "Logging": { "LogLevel": { "Default": "Warning", "ProxyHost": "Information" } },
  "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
  "BpfSteer": { "Admin": { "Url": "http://127.0.0.1:$admin" }$forwarder },
  "ReverseProxy": {
    "TcpRoutes": { $routes },
    "Clusters": {
      "iperf": { "Destinations": { "d": { "Address": "tcp://127.0.0.1:7101" } } },
      "echo": { "Destinations": { "d": { "Address": "tcp://127.0.0.1:7102" } } },
      "redis": { "Destinations": { "d": { "Address": "tcp://127.0.0.1:7103" } } }
    }
  }
}
CFG
}

wait_port() { for _ in $(seq 1 300); do grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp && return 0; sleep 0.05; done; echo "port $1 never listened" >&2; return 1; }
start() { # start <cpu-list|""> <name> cmd...
  local cpus=$1 name=$2; shift 2
  if [[ -n $cpus ]]; then taskset -c "$cpus" "$@" >"$work/$name.log" 2>&1 & else "$@" >"$work/$name.log" 2>&1 & fi
  pids+=($!)
}

start_all() { # start_all <server cpu> <proxy cpu or "">
  local srv=$1 px=$2
  start "$srv" iperf-server iperf3 -s -B 127.0.0.1 -p 7101
  start "$srv" echo dotnet "$bench" forwarder echo --listen 7102
  start "$srv" redis redis-server --port 7103 --bind 127.0.0.1 --save "" --appendonly no
  local r=()
  r+=("$(route default-iperf 7611 iperf Auto)" "$(route default-echo 7612 echo Auto)" "$(route default-redis 7613 redis Auto)")
  r+=("$(route bound32 7671 iperf Sockmap $((32 << 20)))")
  r+=("$(route bound4 7621 iperf Sockmap $((4 << 20)))" "$(route bound16 7631 iperf Sockmap $((16 << 20)))" "$(route bound64 7641 iperf Sockmap $((64 << 20)))")
  r+=("$(route userspace-iperf 7651 iperf UserSpace)" "$(route userspace-echo 7652 echo UserSpace)" "$(route userspace-redis 7653 redis UserSpace)")
  proxyhost_config "$work/main.json" 7690 "" "${r[@]}"
  start "$px" proxyhost dotnet "$proxyhost" --config "$work/main.json"
  # No bound at all (no high mark, no peer-full park, a 64 GiB budget) is not a valid route setting, so the unbounded
  # peer is the benchmark's own proxy on the same data path (DataPathForwarder, MaxQueuedBytes = 0).
  start "$px" unbounded dotnet "$bench" forwarder proxy --mode Sockmap --max-queued 0 --budget $GiB64 --route 7661=7101 --route 7662=7102
  haproxy_config "$work/haproxy.cfg" iperf:7401:7101 echo:7402:7102 redis:7403:7103
  start "$px" haproxy haproxy -f "$work/haproxy.cfg" -db
  for p in 7101 7102 7103 7401 7611 7621 7631 7641 7651 7661 7671 7690; do wait_port $p || return 1; done
}

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$samples"; }  # placement rep subject metric value
port_of() { [[ $1 == Direct ]] && echo "710$2" || echo "${base[$1]}$2"; }

iperf() { # iperf <placement> <rep> <subject> <streams, or "bidir" for one stream each way> <client cpu>
  local port; port=$(port_of "$3" 1)
  local args=(-P "$4"); [[ $4 == bidir ]] && args=(-P 1 --bidir)
  local before; before=$(cpu_stat)
  local g; g=$(taskset -c "$5" iperf3 -c 127.0.0.1 -p "$port" "${args[@]}" -t "$secs" -J 2>/dev/null \
    | python3 -c 'import json,sys; e=json.load(sys.stdin)["end"]; g=(e["sum_received"]["bits_per_second"]+e.get("sum_received_bidir_reverse",{"bits_per_second":0})["bits_per_second"])/1e9; assert g > 0; print(g)' 2>/dev/null) \
    || { echo "  iperf3 $3 ${args[*]} failed" >&2; return; }
  record "$1" "$2" "$3" "iperf$4_gbps" "$g"
  # Each CPU's idle share during the run (/proc/stat): which CPU limits the stream, and how much room the other had.
  local cpu idle
  while read -r cpu idle; do record "$1" "$2" "$3" "${cpu}_idle_iperf$4" "$idle"; done < <(cpu_idle "$before" "$(cpu_stat)")
}
pingpong() { # pingpong <placement> <rep> <subject> <client cpu>
  local line; line=$(taskset -c "$4" dotnet "$bench" forwarder pingpong --target "$(port_of "$3" 2)" --count 5000 --size 1024 2>/dev/null) \
    || { echo "  pingpong $3 failed" >&2; return; }
  record "$1" "$2" "$3" p50_us "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p50_us"])' "$line")"
  record "$1" "$2" "$3" p99_us "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99_us"])' "$line")"
}
redis() { # redis <placement> <rep> <subject> <client cpu>
  local out; out=$(taskset -c "$4" redis-benchmark -p "$(port_of "$3" 3)" -t get,set -c 50 -n 100000 -q 2>/dev/null | tr '\r' '\n') \
    || { echo "  redis-benchmark $3 failed" >&2; return; }
  local set get
  set=$(grep -o 'SET: [0-9.]*' <<<"$out" | tail -1 | awk '{print $2}'); get=$(grep -o 'GET: [0-9.]*' <<<"$out" | tail -1 | awk '{print $2}')
  [[ -n $set && -n $get ]] && record "$1" "$2" "$3" redis_rps "$(python3 -c "print(($set + $get) / 2)")"
}
cat >"$work/notes.py" <<'PY'
import json, sys
placement = sys.argv[1]
d = json.load(sys.stdin)
q = d["forwarder"].get("kernelQueue", {})
print(f"  {placement} ProxyHost: process budget {q.get('budgetBytes', 0) >> 20} MiB, peak {q.get('peakBytes', 0) / 2**20:.1f} MiB, budget parks {q.get('budgetParks', 0)}")
for r in d["routes"]:
    k = r["kernelQueue"]; p = k["parks"]
    print(f"  {placement} route {r['id']:16s} mode {r['mode']:9s} largest backlog {k['largestBacklogBytes'] / 2**20:7.2f} MiB, "
          f"route queue peak {k['peakBytes'] / 2**20:7.2f} MiB, parks high-mark {p['highMark']} budget {p['budget']} "
          f"peer-full {p['peerFull']} resumed {p['resumed']}")
PY
queue_notes() { # what each route's kernel queue reached: ProxyHost's status; the unbounded bench proxy prints it on exit
  curl -s -m 10 "http://127.0.0.1:7690/bpfsteer/status" | python3 "$work/notes.py" "$placement" >>"$work/notes.txt" \
    || echo "  $placement: ProxyHost status unavailable" >>"$work/notes.txt"
}

started=$(date +%s)
for placement in ${PLACEMENTS:-spread shared onecpu}; do
  case $placement in
    spread) cli=0; srv=1; px="" ;;
    shared) cli=0; srv=0; px="" ;;
    *) cli=0; srv=0; px=0 ;;
  esac
  echo "== placement $placement: client cpu$cli, backends cpu$srv, proxies $([[ -n $px ]] && echo "cpu$px" || echo unpinned)"
  start_all "$srv" "$px" || { cleanup; continue; }
  for rep in $(seq 1 "$reps"); do
    for s in ${SUBJECTS:-Direct HAProxy Default Bound4 Bound16 Bound32 Bound64 Unbounded UserSpace}; do iperf $placement $rep $s 1 $cli; done
    if [[ -n ${SUBJECTS:-} ]]; then echo "  rep $rep done ($(( $(date +%s) - started ))s)"; continue; fi
    if [[ $placement != spread ]]; then  # both directions bulk: the case the placement rule looks for
      for s in Direct HAProxy Default Bound16 UserSpace; do iperf $placement $rep $s bidir $cli; done
    fi
    if [[ $placement == spread ]]; then
      for s in Direct HAProxy Default Unbounded; do iperf $placement $rep $s 4 $cli; done
      for s in Direct HAProxy Default UserSpace; do pingpong $placement $rep $s $cli; redis $placement $rep $s $cli; done
    fi
    echo "  rep $rep done ($(( $(date +%s) - started ))s)"
  done
  queue_notes
  cleanup
  grep -h "^route" "$work/unbounded.log" | sed "s/^/  $placement Unbounded (bench proxy): /" >>"$work/notes.txt"
done

cmd="${PLACEMENTS:+PLACEMENTS=\"$PLACEMENTS\" }${SUBJECTS:+SUBJECTS=\"$SUBJECTS\" }benchmarks/forwarder/bound.sh $secs $reps"
python3 - "$samples" "$work/notes.txt" "$cmd" <<'PY' | tee "$out"
import sys, statistics, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
v = collections.defaultdict(dict)  # (placement, metric, subject) -> rep -> value
for placement, rep, subject, metric, value in rows:
    v[(placement, metric, subject)][rep] = float(value)
def cell(placement, metric, subject, peer):
    a = v.get((placement, metric, subject)); b = v.get((placement, metric, peer))
    if not a or not b or "_idle_" in metric:  # an idle share is read as it is, not as a ratio
        return "–"
    ratios = [a[r] / b[r] for r in a if b.get(r)]
    if not ratios:
        return "–"
    return f"{statistics.median(ratios):.2f} [{min(ratios):.2f}–{max(ratios):.2f}]"
def med(placement, metric, subject):
    a = v.get((placement, metric, subject))
    if not a:
        return "–"
    f = ".2f" if "_idle_" in metric else ".1f"
    return f"{statistics.median(a.values()):{f}} [{min(a.values()):{f}}–{max(a.values()):{f}}]"
print(f"# Sockmap queue bound (`{sys.argv[3]}`)\n")
print("Ratios are medians [min–max] of per-repetition ratios against a peer measured in the same repetition.\n")
idle = ("cpu0_idle_iperf1", "cpu1_idle_iperf1", "cpu0_idle_iperf4", "cpu1_idle_iperf4")  # share of the run, 0..1
for placement, metrics in (("spread", ("iperf1_gbps", "iperf4_gbps", "p99_us", "p50_us", "redis_rps") + idle), ("shared", ("iperf1_gbps", "iperfbidir_gbps")), ("onecpu", ("iperf1_gbps", "iperfbidir_gbps"))):
    for metric in metrics:
        subjects = [s for s in ("Direct", "HAProxy", "Default", "Bound4", "Bound16", "Bound32", "Bound64", "Unbounded", "UserSpace") if (placement, metric, s) in v]
        if not subjects:
            continue
        print(f"## {placement}: {metric}\n")
        print("| subject | value | × Direct | × HAProxy | × Unbounded | × UserSpace |\n|---|---|---|---|---|---|")
        for s in subjects:
            print(f"| {s} | {med(placement, metric, s)} | {cell(placement, metric, s, 'Direct')} | {cell(placement, metric, s, 'HAProxy')} | "
                  f"{cell(placement, metric, s, 'Unbounded')} | {cell(placement, metric, s, 'UserSpace')} |")
        print()
print("## Kernel queue per route (from /bpfsteer/status at the end of each placement)\n")
print("```")
try:
    print(open(sys.argv[2]).read().rstrip())
except FileNotFoundError:
    print("(none)")
print("```")
PY
cp "$samples" "$raw/forwarder-bound.tsv"
echo "== bound benchmark done in $(( $(date +%s) - started ))s: $out"
