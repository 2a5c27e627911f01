#!/usr/bin/env bash
# HTTP reverse-proxy benchmark: the same minimal YARP app (app/) on Kestrel's Sockets transport and on BpfSteer, with
# nginx `proxy_pass` and HAProxy `mode http` in the same run, all in front of one nginx static backend (13-byte body).
#
#   benchmarks/httpproxy/run.sh [--quick|--full]
#
# Subjects (VARIANTS, space-separated; quick: "yarp-sockets yarp-bpfsteer nginx haproxy", full adds the four
# BpfSteer alternatives):
#   yarp-sockets           YARP on Kestrel's Sockets transport (the peer of every YARP ratio)
#   yarp-bpfsteer          the same app with UseBpfSteeredTransport(), default settings (Inline scheduling,
#                          per-worker upstream pools through AddPerWorkerHttpUpstream())
#   yarp-bpfsteer-shared   BpfSteer, default scheduling, per-worker upstream pools off (YARP's one shared pool)
#   yarp-bpfsteer-inline   BpfSteer, ApplicationScheduling=Inline (named explicitly)
#   yarp-bpfsteer-threadpool  BpfSteer, ApplicationScheduling=ThreadPool, per-worker pools on
#   yarp-bpfsteer-nospill  BpfSteer, default settings but SpillOver=false (each connection on the receiving CPU's worker)
#   yarp-bpfsteer-nospin   BpfSteer, default settings but IdleSpin=0 (a worker out of events sleeps at once)
#   nginx                  nginx proxy_pass, 1 worker, upstream keepalive
#   haproxy                HAProxy mode http, 2 threads, http-reuse always
# Placements (PLACEMENTS, default "split spread"; 2-core VM; the proxies are never pinned — BpfSteer pins its own
# workers, one per CPU):
#   split   as issue 14 measured it: wrk -t1 on CPU 0, the backend on CPU 1. On loopback a connection's SYN is received
#           on the client's CPU, so every downstream connection is steered to the worker of CPU 0.
#   spread  wrk -t2 and the backend on both CPUs: connections arrive on both CPUs, as NIC receive queues spread them.
# HTTP/1.1 keep-alive, wrk -c 1, 32, 256. Every level runs each subject once per repetition, interleaved, after a
# warm-up at that level. Results: benchmarks/results/raw/httpproxy.json (schema: benchmarks/README.md) and
# benchmarks/results/httpproxy.md. Knobs: VARIANTS, PLACEMENTS, REPS (3), LEVELS ("1 32 256"), DURATION (s; quick 2,
# full 5), WARMUP (s; 1).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=quick
case "${1:---quick}" in
  --quick) mode=quick; DURATION=${DURATION:-2} ;;
  --full) mode=full; DURATION=${DURATION:-5} ;;
  *) echo "usage: $0 [--quick|--full]" >&2; exit 2 ;;
esac
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
LEVELS=(${LEVELS:-1 32 256})
PLACEMENTS=(${PLACEMENTS:-split spread})
if [[ $mode == full ]]; then
  VARIANTS=(${VARIANTS:-yarp-sockets yarp-bpfsteer yarp-bpfsteer-threadpool yarp-bpfsteer-shared yarp-bpfsteer-nospill yarp-bpfsteer-nospin nginx haproxy})
else
  VARIANTS=(${VARIANTS:-yarp-sockets yarp-bpfsteer nginx haproxy})
fi

for tool in wrk nginx haproxy taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required (bash eng/install-prereqs.sh --bench)" >&2; exit 1; }
done

dotnet build benchmarks/httpproxy/app -c Release -nologo -clp:ErrorsOnly >/dev/null
app=benchmarks/httpproxy/app/bin/Release/net10.0/HttpProxyBenchApp.dll
raw=benchmarks/results/raw
mkdir -p "$raw"
work=$(mktemp -d /tmp/bpfsteer-httpproxy.XXXXXX)
chmod 755 "$work" # nginx workers run as an unprivileged user and must read the static file
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

launch() { # launch NAME COMMAND...: a server in the background, log in $work/NAME.log
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=("$!")
}

wait_url() { # wait_url NAME URL: until URL answers 200 (bounded: 30 s)
  for _ in $(seq 300); do
    curl -fs -o /dev/null "$2" && return 0
    sleep 0.1
  done
  echo "$1 did not answer on $2; last lines of its log:" >&2
  tail -5 "$work/$1.log" >&2
  exit 1
}

backend_port=7910
declare -A port=([yarp-sockets]=7911 [yarp-bpfsteer]=7912 [yarp-bpfsteer-shared]=7913 [yarp-bpfsteer-inline]=7914
  [yarp-bpfsteer-threadpool]=7915 [nginx]=7916 [haproxy]=7917 [yarp-bpfsteer-nospill]=7918 [yarp-bpfsteer-nospin]=7919)
declare -A label=([yarp-sockets]="YARP on Sockets" [yarp-bpfsteer]="YARP on BpfSteer" [yarp-bpfsteer-shared]="YARP on BpfSteer, shared pool"
  [yarp-bpfsteer-inline]="YARP on BpfSteer, Inline" [yarp-bpfsteer-threadpool]="YARP on BpfSteer, ThreadPool"
  [yarp-bpfsteer-nospill]="YARP on BpfSteer, no spill-over" [yarp-bpfsteer-nospin]="YARP on BpfSteer, no idle spin"
  [nginx]="nginx proxy_pass" [haproxy]="HAProxy mode http")

# The backend: nginx serving a 13-byte static file, one worker on BACKEND_CPU.
mkdir -p "$work/www"
printf 'Hello, World!' >"$work/www/index.html"
common_nginx="daemon off; pid PIDFILE; error_log $work/ERRLOG warn; events { worker_connections 8192; }"
cat >"$work/backend.conf" <<CFG
${common_nginx//PIDFILE/$work/backend.pid}
worker_processes 1;
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $work/tmp-backend;
  server { listen 127.0.0.1:$backend_port; root $work/www; location / { index index.html; } }
}
CFG
sed -i "s#ERRLOG#backend-error.log#" "$work/backend.conf"
backend_pid=""
start_backend() { # start_backend CPUS
  if [[ -n $backend_pid ]]; then
    kill "$backend_pid" 2>/dev/null; wait "$backend_pid" 2>/dev/null || true
  fi
  launch backend taskset -c "$1" nginx -c "$work/backend.conf" -p "$work"
  backend_pid=$!
  wait_url backend "http://127.0.0.1:$backend_port/"
}
start_backend 1

start_variant() {
  local v=$1 p=${port[$1]}
  case $v in
    yarp-sockets) launch "$v" dotnet "$app" --transport sockets --port "$p" --backend "http://127.0.0.1:$backend_port" ;;
    yarp-bpfsteer) launch "$v" dotnet "$app" --transport bpfsteer --port "$p" --backend "http://127.0.0.1:$backend_port" ;;
    yarp-bpfsteer-shared) launch "$v" dotnet "$app" --transport bpfsteer --per-worker false --port "$p" --backend "http://127.0.0.1:$backend_port" ;;
    yarp-bpfsteer-inline) launch "$v" dotnet "$app" --transport bpfsteer --scheduling Inline --port "$p" --backend "http://127.0.0.1:$backend_port" ;;
    yarp-bpfsteer-threadpool) launch "$v" dotnet "$app" --transport bpfsteer --scheduling ThreadPool --port "$p" --backend "http://127.0.0.1:$backend_port" ;;
    yarp-bpfsteer-nospill) launch "$v" env BpfSteer__Transport__SpillOver=false dotnet "$app" --transport bpfsteer --port "$p" --backend "http://127.0.0.1:$backend_port" ;;
    yarp-bpfsteer-nospin) launch "$v" env BpfSteer__Transport__IdleSpin=00:00:00 dotnet "$app" --transport bpfsteer --port "$p" --backend "http://127.0.0.1:$backend_port" ;;
    nginx)
      cat >"$work/nginx.conf" <<CFG
${common_nginx//PIDFILE/$work/nginx.pid}
worker_processes 1;
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $work/tmp-nginx;
  upstream backend { server 127.0.0.1:$backend_port; keepalive 512; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:$p;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CFG
      sed -i "s#ERRLOG#nginx-error.log#" "$work/nginx.conf"
      launch "$v" nginx -c "$work/nginx.conf" -p "$work" ;;
    haproxy)
      cat >"$work/haproxy.cfg" <<CFG
global
  nbthread 2
  maxconn 4000
defaults
  mode http
  http-reuse always
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend fe
  bind 127.0.0.1:$p
  default_backend be
backend be
  server b1 127.0.0.1:$backend_port
CFG
      launch "$v" haproxy -f "$work/haproxy.cfg" -db ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
  wait_url "$v" "http://127.0.0.1:$p/"
}

for v in "${VARIANTS[@]}"; do start_variant "$v"; done

client_cpus=0; client_threads=1 # where wrk runs, per placement
wrk_on() { # wrk_on CONNECTIONS ARGS...: wrk in the placement (never more threads than connections)
  local c=$1; shift
  taskset -c "$client_cpus" wrk -t$(( c < client_threads ? c : client_threads )) -c"$c" "$@"
}
measure() { # measure PLACEMENT VARIANT CONNECTIONS REP
  local url="http://127.0.0.1:${port[$2]}/" line
  line=$(wrk_on "$3" -d"${DURATION}s" --timeout 5s -s benchmarks/scaling/wrk-json.lua "$url" | grep '^WRKJSON ' | cut -d' ' -f2-)
  echo "$1 $2 $3 $4 $line" >>"$work/results.txt"
  printf '  %-6s %-26s c=%-4s rep %s %s\n' "$1" "$2" "$3" "$4" "$line"
}

run_info="$(date -u '+%Y-%m-%d %H:%M') UTC, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src benchmarks/httpproxy 2>/dev/null || echo ' (with uncommitted changes)'), load before $(cut -d' ' -f1-3 /proc/loadavg)"
echo "httpproxy ($mode): placements ${PLACEMENTS[*]}, levels ${LEVELS[*]}, ${DURATION}s x $REPS; $run_info"
: >"$work/results.txt"
for placement in "${PLACEMENTS[@]}"; do
  case $placement in
    split) client_cpus=0; client_threads=1; start_backend 1 ;;
    spread) client_cpus=0,1; client_threads=2; start_backend 0,1 ;;
    *) echo "unknown placement $placement" >&2; exit 2 ;;
  esac
  for c in "${LEVELS[@]}"; do
    for v in "${VARIANTS[@]}"; do
      wrk_on "$c" -d"${WARMUP}s" "http://127.0.0.1:${port[$v]}/" >/dev/null
    done
    for rep in $(seq "$REPS"); do
      for v in "${VARIANTS[@]}"; do measure "$placement" "$v" "$c" "$rep"; done
    done
  done
done

# Locality (issue 14, item 4): the transport's per-worker counters of every BpfSteer subject after all its runs.
: >"$work/locality.txt"
for v in "${VARIANTS[@]}"; do
  [[ $v == yarp-bpfsteer* ]] || continue
  curl -fs "http://127.0.0.1:${port[$v]}/_stats" | sed "s/^/$v /" >>"$work/locality.txt" || true
done
cat "$work/locality.txt"

labels=""
for v in "${VARIANTS[@]}"; do labels+="$v=${label[$v]};"; done
python3 benchmarks/httpproxy/summarize.py "$work/results.txt" "$raw/httpproxy.json" benchmarks/results/httpproxy.md \
  --mode "$mode" --reps "$REPS" --duration "$DURATION" --labels "$labels" --locality "$work/locality.txt" --info "$run_info"
