#!/usr/bin/env bash
# Connection-rate benchmark (issue 13): what a proxied connection costs to open, route, forward and close.
# Peers, in one run: direct, HAProxy `mode tcp`, nginx `stream`, ProxyHost (TCP routes, Mode=Auto, default settings,
# BpfSteer transport) and SocketsHost (ProxyHost's wiring on Kestrel's Sockets transport). Optional subject
# ProxyHostLogged (--subjects): ProxyHost with its access log on (one console line per connection; off by default,
# as in the peers).
# Placement: client on cpu0, backends on cpu1, proxies unpinned (the issue's set-up).
#   conn     : connection per exchange (connect, 1 KiB each way, shutdown, end of stream, close) with 1, 16 and 256
#              concurrent clients: connections/s, p50/p99 of the whole connection, proxy CPU-seconds per 1,000
#              connections (utime+stime from /proc/PID/stat, every process of the proxy), and each CPU's idle share
#              during the run (/proc/stat: idle time left while the client has connections open is time lost);
#              server-first (the backend sends 1 KiB first): time to first byte p50/p99 at the client.
#   redis    : redis-benchmark -t get, 50 clients, no pipelining: persistent connections and -k 0 (one per request).
#   pg       : pgbench -S (select-only): persistent connections and -C (a new connection per transaction).
# Subjects run interleaved within each repetition; every figure is a ratio to a peer of the same run, median [min-max].
# Output: benchmarks/results/raw/connrate.json (schema: benchmarks/README.md) and benchmarks/results/connrate.md.
# Usage: benchmarks/connrate/run.sh [--quick|--full] [--suites conn,redis,pg] [--subjects "Direct HAProxy ..."]
#        LEVELS="16 256" for only those client counts in the conn suite (default "1 16 256"); WARMUP=0 skips the
#        8 s warm-up of every subject (see below).
set -uo pipefail
cd "$(dirname "$0")/../.."
source benchmarks/cpu-idle.sh

invocation="benchmarks/connrate/run.sh $*"
mode=quick; suites=conn,redis,pg; subjects="Direct HAProxy Nginx ProxyHost SocketsHost"
while (($#)); do
  case $1 in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --suites) suites=$2; shift ;;
    --subjects) subjects=$2; shift ;;
    *) echo "usage: $0 [--quick|--full] [--suites conn,redis,pg] [--subjects LIST]" >&2; exit 2 ;;
  esac
  shift
done
if [[ $mode == quick ]]; then secs=0.5; warm=0.2; pg_secs=1; reps=5; redis_n=10000; redis_k0_n=2000; first_levels=(1)
else secs=3; warm=0.5; pg_secs=3; reps=3; redis_n=100000; redis_k0_n=20000; first_levels=(1 16); fi
levels=(${LEVELS:-1 16 256})

for tool in haproxy nginx taskset python3; do
  command -v $tool >/dev/null || { echo "missing $tool: run bash eng/install-prereqs.sh --bench" >&2; exit 1; }
done
app_dll=benchmarks/BpfSteer.Benchmarks/bin/Release/net10.0/BpfSteer.Benchmarks.dll
host_dll=samples/ProxyHost/bin/Release/net10.0/ProxyHost.dll
# Always build (incremental: seconds when nothing changed), so a run never measures a stale build.
for p in benchmarks/BpfSteer.Benchmarks samples/ProxyHost; do
  dotnet build $p -c Release -nologo -clp:ErrorsOnly || exit 1
done
app=(dotnet "$app_dll" connrate)
nginx_stream=$(ls /usr/lib/nginx/modules/ngx_stream_module.so 2>/dev/null || true)

raw=benchmarks/results/raw
mkdir -p "$raw"
work=$(mktemp -d /tmp/connrate.XXXXXX)
chmod 755 "$work"
samples=$work/samples.tsv
: >"$samples"
: >"$work/notes.txt"
# The hosts watch their config file's directory (reloadOnChange): keep it apart from the logs they write.
mkdir -p "$work/config"
pids=()
declare -A proxy_pid
pg_bin=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  pids=()
  if [[ -n $pg_bin && -d $work/pg ]]; then runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1; fi
}
trap 'cleanup; rm -rf "$work"' EXIT

# Ports: backends 79x2 (echo), 79x3 (greeter), 79x4 (redis), 79x5 (postgres); x = 0 direct, 1 HAProxy, 2 nginx,
# 3 ProxyHost, 4 SocketsHost, 5 ProxyHostLogged.
declare -A base=([Direct]=790 [HAProxy]=791 [Nginx]=792 [ProxyHost]=793 [SocketsHost]=794 [ProxyHostLogged]=795)

wait_port() { for _ in $(seq 1 300); do grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp && return 0; sleep 0.05; done; echo "port $1 never listened" >&2; return 1; }

start() { # start <cpu-list|""> <name> cmd...
  local cpus=$1 name=$2; shift 2
  if [[ -n $cpus ]]; then taskset -c "$cpus" "$@" >"$work/$name.log" 2>&1 &
  else "$@" >"$work/$name.log" 2>&1 &
  fi
  pids+=($!)
  proxy_pid[$name]=$!
}

# ---- backends (cpu1)
start 1 echo "${app[@]}" backend --port 7902
start 1 greeter "${app[@]}" backend --port 7903 --greeting 1024
backends=(7902 7903)
if [[ $suites == *redis* ]] && command -v redis-server >/dev/null; then
  start 1 redis redis-server --port 7904 --bind 127.0.0.1 --save "" --appendonly no --maxclients 10000 --protected-mode no
  backends+=(7904)
fi
if [[ $suites == *pg* ]]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [[ -n $pg_bin && -x $pg_bin/initdb ]]; then
    mkdir -p "$work/pg" && chown postgres:postgres "$work/pg"
    runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null \
      && runuser -u postgres -- taskset -c 1 "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -t 60 \
        -o "-p 7905 -c listen_addresses=127.0.0.1 -k $work/pg -c fsync=off -c synchronous_commit=off -c max_connections=300" start >/dev/null \
      && backends+=(7905) && pgbench -i -s 1 -q -h 127.0.0.1 -p 7905 -U postgres postgres >/dev/null 2>&1 \
      || { echo "  PostgreSQL could not start: pg suite skipped" >&2; pg_bin=""; }
  else
    echo "  PostgreSQL is not installed: pg suite skipped" >&2
  fi
fi
for p in "${backends[@]}"; do wait_port "$p" || exit 1; done

# ---- proxies (unpinned); every one forwards 79x2..79x5 to the backends above
routes() { for b in "${backends[@]}"; do echo "$1${b: -1} $b"; done; }
{
  echo "global"; echo "  maxconn 8000"
  echo "defaults"; echo "  mode tcp"; echo "  timeout connect 5s"; echo "  timeout client 60s"; echo "  timeout server 60s"
  routes 791 | while read -r l b; do echo "listen p$l"; echo "  bind 127.0.0.1:$l"; echo "  server s 127.0.0.1:$b"; done
} >"$work/haproxy.cfg"
{
  [[ -n $nginx_stream ]] && echo "load_module $nginx_stream;"
  echo "worker_processes auto; daemon off; pid $work/nginx.pid; error_log $work/nginx-error.log;"
  echo "worker_rlimit_nofile 18000; events { worker_connections 8000; }"
  echo "stream {"; routes 792 | while read -r l b; do echo "  server { listen 127.0.0.1:$l; proxy_pass 127.0.0.1:$b; }"; done; echo "}"
} >"$work/nginx.conf"
host_config() { # host_config <base> -> JSON with one TCP route per backend, every setting at its default (Mode=Auto)
  python3 - "$1" "${backends[@]}" <<'PY'
import json, sys
base, backends = sys.argv[1], sys.argv[2:]
routes = {f"r{b[-1]}": {"Listen": f"127.0.0.1:{base}{b[-1]}", "ClusterId": f"c{b[-1]}"} for b in backends}
clusters = {f"c{b[-1]}": {"Destinations": {"d": {"Address": f"tcp://127.0.0.1:{b}"}}} for b in backends}
print(json.dumps({"Kestrel": {"Endpoints": {"Http": {"Url": f"http://127.0.0.1:{base}9"}}},
                  "BpfSteer": {"Admin": {"Url": f"http://127.0.0.1:{base}8"}},
                  "ReverseProxy": {"Routes": {}, "TcpRoutes": routes, "Clusters": clusters}}, indent=1))
PY
}
for s in $subjects; do
  case $s in
    Direct) ;;
    HAProxy) start "" HAProxy haproxy -f "$work/haproxy.cfg" -db ;;
    Nginx) start "" Nginx nginx -c "$work/nginx.conf" -p "$work" ;;
    ProxyHost) host_config 793 >"$work/config/proxyhost.json"; start "" ProxyHost dotnet "$host_dll" --config "$work/config/proxyhost.json" ;;
    SocketsHost) host_config 794 >"$work/config/socketshost.json"; start "" SocketsHost "${app[@]}" host --transport sockets --config "$work/config/socketshost.json" ;;
    ProxyHostLogged) host_config 795 >"$work/config/proxyhostlogged.json"
      start "" ProxyHostLogged env Logging__LogLevel__Yarp.SockmapForwarder.AccessLog=Information dotnet "$host_dll" --config "$work/config/proxyhostlogged.json" ;;
    *) echo "unknown subject $s" >&2; exit 2 ;;
  esac
  [[ $s == Direct ]] && continue
  for b in "${backends[@]}"; do wait_port "${base[$s]}${b: -1}" || exit 1; done
done
# A dotnet host is ready once its summary is printed (the routes listen before that).
for s in ProxyHost SocketsHost ProxyHostLogged; do
  [[ " $subjects " == *" $s "* ]] || continue
  for _ in $(seq 1 200); do grep -q "ready" "$work/$s.log" && break; sleep 0.1; done
done

proc_ticks() { # utime+stime of a process and its children (nginx workers), in clock ticks
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    [[ -r /proc/$p/stat ]] && total=$((total + $(awk '{print $14 + $15}' /proc/$p/stat)))
  done
  echo $total
}
hz=$(getconf CLK_TCK)
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$samples"; }
port_of() { if [[ $1 == Direct ]]; then echo "790$2"; else echo "${base[$1]}$2"; fi; }

conn_run() { # conn_run <scenario> <subject> <concurrency> <backend digit> [greeting]
  local scenario=$1 s=$2 c=$3 digit=$4 greeting=${5:-0} pid=${proxy_pid[$2]:-} t0 t1 line
  t0=$([[ -n $pid ]] && proc_ticks "$pid" || echo 0)
  local cpus0; cpus0=$(cpu_stat)
  line=$(taskset -c 0 "${app[@]}" client --port "$(port_of "$s" "$digit")" --concurrency "$c" --seconds "$secs" --warmup "$warm" --size 1024 --greeting "$greeting" 2>&1)
  t1=$([[ -n $pid ]] && proc_ticks "$pid" || echo 0)
  local cpu idle
  while read -r cpu idle; do record "$scenario" "$s" "idle_$cpu" "$idle"; done < <(cpu_idle "$cpus0" "$(cpu_stat)")
  python3 - "$line" "$scenario" "$s" "$((t1 - t0))" "$hz" "$greeting" >>"$samples" <<'PY' || echo "  $scenario $s failed: $line" >&2
import json, sys
d = json.loads(sys.argv[1]); scenario, s, ticks, hz, greeting = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
if d["errors"]: print(f"{scenario}\t{s}\terrors\t{d['errors']}")
if greeting:
    print(f"{scenario}\t{s}\tttfb_p50_us\t{d['ttfb_p50_us']}"); print(f"{scenario}\t{s}\tttfb_p99_us\t{d['ttfb_p99_us']}")
else:
    print(f"{scenario}\t{s}\tconns_per_sec\t{d['conns_per_sec']}")
    print(f"{scenario}\t{s}\tp50_us\t{d['p50_us']}"); print(f"{scenario}\t{s}\tp99_us\t{d['p99_us']}")
    if s != "Direct" and d["total"]:
        print(f"{scenario}\t{s}\tcpu_s_per_1k\t{ticks / hz / d['total'] * 1000:.4f}")
PY
}

redis_run() { # redis_run <subject> <k0: 0|1>
  local s=$1 k0=$2 n=$redis_n args=() out
  ((k0)) && { n=$redis_k0_n; args=(-k 0); }
  out=$(taskset -c 0 redis-benchmark -h 127.0.0.1 -p "$(port_of "$s" 4)" -t get -c 50 -n "$n" "${args[@]}" --csv 2>/dev/null | tail -1)
  local rps; rps=$(echo "$out" | awk -F'","' '{print $2}')
  [[ -n $rps ]] && record "redis-benchmark get -c 50$( ((k0)) && echo ' -k 0')" "$s" rps "$rps" || echo "  redis $s failed: $out" >&2
}

pg_run() { # pg_run <subject> <connect per transaction: 0|1>
  local s=$1 c=$2 args=() out tps
  ((c)) && args=(-C)
  out=$(taskset -c 0 pgbench -n -S -c 8 -j 1 -T "$pg_secs" "${args[@]}" -h 127.0.0.1 -p "$(port_of "$s" 5)" -U postgres postgres 2>&1)
  tps=$(echo "$out" | awk '/^tps = /{print $3; exit}')
  [[ -n $tps ]] && record "pgbench -S -c 8$( ((c)) && echo ' -C')" "$s" tps "$tps" || echo "  pgbench $s failed: $(echo "$out" | tail -2)" >&2
}

# Warm every subject before the first measured run: 5 s at 16 clients, then 3 s at one. A .NET host's JIT replaces its
# first code (tier 0) in the first seconds of traffic; measured on a fresh ProxyHost (one client, 1 s runs): p99
# 1.3-3.0 ms for the first 4-14 s of traffic, 0.6-0.9 ms after, and 0.6-0.8 ms in the first run after this warm-up.
# WARMUP=0 measures the cold host instead.
if [[ ${WARMUP:-1} != 0 && $suites == *conn* ]]; then
  for s in $subjects; do
    taskset -c 0 "${app[@]}" client --port "$(port_of "$s" 2)" --concurrency 16 --seconds 5 --warmup 0 --size 1024 >/dev/null 2>&1
    taskset -c 0 "${app[@]}" client --port "$(port_of "$s" 2)" --concurrency 1 --seconds 3 --warmup 0 --size 1024 >/dev/null 2>&1
  done
fi

started=$(date +%s)
# Subjects alternate run by run within each level (the paired ratios compare neighbours in time: the machine is shared).
for rep in $(seq 1 "$reps"); do
  if [[ $suites == *conn* ]]; then
    for c in "${levels[@]}"; do for s in $subjects; do conn_run "conn c=$c" "$s" "$c" 2; done; done
    for c in "${first_levels[@]}"; do for s in $subjects; do conn_run "server-first c=$c" "$s" "$c" 3 1024; done; done
  fi
  for s in $subjects; do
    if [[ $suites == *redis* && " ${backends[*]} " == *" 7904 "* ]]; then redis_run "$s" 0; redis_run "$s" 1; fi
    if [[ $suites == *pg* && -n $pg_bin ]]; then pg_run "$s" 0; pg_run "$s" 1; fi
  done
  echo "  rep $rep done ($(( $(date +%s) - started ))s)"
done

# What the hosts chose (path per route) and whether anything went wrong, for the notes.
for s in ProxyHost SocketsHost ProxyHostLogged; do
  [[ " $subjects " == *" $s "* ]] || continue
  curl -s "http://127.0.0.1:${base[$s]}8/bpfsteer/status" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in d.get("routes", []): print(f"'"$s"' route {r[\"id\"]}: mode {r[\"mode\"]}, {r[\"totalConnections\"]} connections")' >>"$work/notes.txt" 2>/dev/null
  grep -c "fail\|error" "$work/$s.log" | sed "s/^/$s log lines with fail|error: /" >>"$work/notes.txt"
done
cp "$work/samples.tsv" "$raw/connrate-samples.tsv"
RUN_INFO="$invocation; finished $(date -u '+%Y-%m-%d %H:%M') UTC, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  python3 benchmarks/connrate/summarize.py "$samples" "$mode" "$work/notes.txt" "$raw/connrate.json" benchmarks/results/connrate.md
echo "== connrate benchmark done in $(( $(date +%s) - started ))s: $raw/connrate.json, benchmarks/results/connrate.md"
