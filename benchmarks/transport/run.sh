#!/usr/bin/env bash
# BpfSteer transport vs Kestrel's Sockets transport, same app, same run, wrk.
#
#   benchmarks/transport/run.sh [--quick]
#
# For each repetition (>= 3) and endpoint (/plaintext, /json) the variants run back to back, interleaved:
#   sockets              Kestrel's Sockets transport (the peer every ratio is taken against)
#   bpfsteer-inline      BpfSteer, ApplicationScheduling=Inline (request processing on the accepting worker; the default)
#   bpfsteer-threadpool  BpfSteer, ApplicationScheduling=ThreadPool
#   bpfsteer-ebpf        BpfSteer, Inline, eBPF selector instead of the default cBPF one
#   bpfsteer-nospill     BpfSteer, default settings but SpillOver=false (not in the default list; VARIANTS/H2_VARIANTS)
#   bpfsteer-nospin      BpfSteer, default settings but IdleSpin=0 (not in the default list; VARIANTS/H2_VARIANTS)
# CPU placement (2-core VM): server process and wrk both confined to CPUs $CPUS with taskset; BpfSteer runs one
# pinned worker per CPU; wrk -t2 so both CPUs originate connections (on loopback the SYN is received on the client's
# CPU, which is what the cBPF selector steers by). Written into the results.
# Then two more scenarios, also >= 3 repetitions:
#   h2c       h2load -n $H2_REQUESTS -c 16 -m 10 (prior knowledge) on /plaintext, sockets vs bpfsteer-inline and
#             bpfsteer-threadpool; the app
#             runs with --protocols Http2 (Kestrel's Http1AndHttp2 does not take h2c prior knowledge on plaintext);
#             p50/p99 from h2load's per-request --log-file.
#   locality  bpfsteer-inline with Selector=Cbpf and Selector=None: after a wrk run on /plaintext, the transport's own
#             counters from the app's /stats (IBpfSteerTransportStatus): sum(incomingCpuMatched) / sum(accepted).
# CPU: the server process's user+system CPU seconds during each measured run (/proc/PID/stat), reported per request.
# Results: benchmarks/results/transport.json and transport.md (summary), raw wrk output in benchmarks/results/raw/.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
REPS=${REPS:-3}
CPUS=${CPUS:-0,1}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
if ((quick)); then DURATION=${DURATION:-3s}; WARMUP=${WARMUP:-1s}; else DURATION=${DURATION:-10s}; WARMUP=${WARMUP:-3s}; fi
PORT=${PORT:-5099}
VARIANTS=(${VARIANTS:-sockets bpfsteer-inline bpfsteer-threadpool bpfsteer-ebpf})
ENDPOINTS=(plaintext json)
if ((quick)); then H2_REQUESTS=${H2_REQUESTS:-20000}; else H2_REQUESTS=${H2_REQUESTS:-200000}; fi
H2_VARIANTS=(${H2_VARIANTS:-sockets bpfsteer-inline bpfsteer-threadpool})

for tool in wrk h2load taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required (bash eng/install-prereqs.sh)" >&2; exit 1; }
done

dotnet build benchmarks/transport/app -c Release -nologo -clp:ErrorsOnly >/dev/null
APP=benchmarks/transport/app/bin/Release/net10.0/TransportBenchApp.dll
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=benchmarks/results/raw/transport-$stamp
mkdir -p "$raw"

server_pid=""
# CPU seconds (user + system) the server process has used so far: /proc/PID/stat fields 14 and 15, in clock ticks.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$server_pid/stat"; }
cpu_used() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

start_server() { # variant [protocols]
  local transport=sockets scheduling=Inline selector=Cbpf protocols=${2:-Http1} probe=() env=()
  [[ "$protocols" == Http2 ]] && probe=(--http2-prior-knowledge)
  case "$1" in
    bpfsteer-inline) transport=bpfsteer; scheduling=Inline ;;
    bpfsteer-threadpool) transport=bpfsteer; scheduling=ThreadPool ;;
    bpfsteer-ebpf) transport=bpfsteer; scheduling=Inline; selector=Ebpf ;;
    bpfsteer-noselector) transport=bpfsteer; scheduling=Inline; selector=None ;;
    bpfsteer-nospill) transport=bpfsteer; scheduling=Inline; env=(env BpfSteer__Transport__SpillOver=false) ;;
    bpfsteer-nospin) transport=bpfsteer; scheduling=Inline; env=(env BpfSteer__Transport__IdleSpin=00:00:00) ;;
  esac
  taskset -c "$CPUS" "${env[@]}" dotnet "$APP" --transport "$transport" --scheduling "$scheduling" --selector "$selector" \
    --protocols "$protocols" --port "$PORT" >"$raw/server-$1.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "${probe[@]}" "http://127.0.0.1:$PORT/plaintext" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server ($1) did not start; see $raw/server-$1.log" >&2
  exit 1
}

for rep in $(seq 1 "$REPS"); do
  for endpoint in "${ENDPOINTS[@]}"; do
    for variant in "${VARIANTS[@]}"; do
      start_server "$variant"
      url="http://127.0.0.1:$PORT/$endpoint"
      taskset -c "$CPUS" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$url" >/dev/null
      out="$raw/$variant-$endpoint-$rep.txt"
      cmd="taskset -c $CPUS wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $url"
      echo "# $cmd" >"$out"
      cpu0=$(server_cpu)
      $cmd >>"$out"
      echo "# server-cpu-seconds: $(cpu_used "$cpu0" "$(server_cpu)")" >>"$out"
      stop_server
      echo "rep $rep $endpoint $variant: $(grep -E 'Requests/sec' "$out")"
    done
  done
done

# h2c: files named h2c-VARIANT-REP.h2load (not *.txt, which summarize.py reads as wrk output).
for rep in $(seq 1 "$REPS"); do
  for variant in "${H2_VARIANTS[@]}"; do
    start_server "$variant" Http2
    url="http://127.0.0.1:$PORT/plaintext"
    taskset -c "$CPUS" h2load -n $((H2_REQUESTS / 4)) -c 16 -m 10 "$url" >/dev/null
    out="$raw/h2c-$variant-$rep.h2load"
    # h2load prints no percentiles: --log-file gives every request's duration; only p50/p99 are kept (the log is large).
    log="$raw/h2c-requests.log"
    cmd="taskset -c $CPUS h2load -n $H2_REQUESTS -c 16 -m 10 --log-file=$log $url"
    echo "# $cmd" >"$out"
    cpu0=$(server_cpu)
    $cmd >>"$out"
    echo "# server-cpu-seconds: $(cpu_used "$cpu0" "$(server_cpu)")" >>"$out"
    python3 - "$log" >>"$out" <<'PY'
import statistics, sys
us = sorted(int(line.split("\t")[2]) for line in open(sys.argv[1]) if line.count("\t") >= 2)
q = statistics.quantiles(us, n=100)
print(f"# latency-ms: p50={q[49] / 1000:.3f} p99={q[98] / 1000:.3f} n={len(us)}")
PY
    rm -f "$log"
    stop_server
    echo "rep $rep h2c $variant: $(grep -E '^finished in' "$out")"
  done
done

# Locality: the counters are cumulative since start, so each run is a fresh process; /stats itself is one connection.
for rep in $(seq 1 "$REPS"); do
  for variant in bpfsteer-inline bpfsteer-noselector; do
    start_server "$variant"
    url="http://127.0.0.1:$PORT/plaintext"
    cmd="taskset -c $CPUS wrk -t$THREADS -c$CONNECTIONS -d$WARMUP $url"
    $cmd >/dev/null
    out="$raw/locality-$variant-$rep.stats"
    { echo "# $cmd; curl http://127.0.0.1:$PORT/stats"; curl -fs "http://127.0.0.1:$PORT/stats"; echo; } >"$out"
    stop_server
    echo "rep $rep locality $variant: $(tail -n 1 "$out")"
  done
done

python3 benchmarks/transport/summarize.py "$raw" benchmarks/results \
  --cpus "$CPUS" --threads "$THREADS" --connections "$CONNECTIONS" --duration "$DURATION" --reps "$REPS" --quick "$quick"
