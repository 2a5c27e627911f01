#!/usr/bin/env bash
# Where a proxied connection's time goes (issue 13): runs the connection-per-exchange load (connect, 1 KiB each way,
# close) through one proxy and reports, per connection: CPU time, context switches, syscalls (by name), and a perf
# call-graph profile with .NET frames resolved (DOTNET_PerfMapEnabled=1; DOTNET_EnableWriteXorExecute=0, because
# perf only looks JIT code up in the map when it sits in anonymous memory, not in the W^X double mapping).
# Usage: benchmarks/connrate/profile.sh [proxyhost|socketshost|haproxy|nginx] [concurrency] [seconds]
# Output: $OUT (default /tmp/connrate-profile): stat.txt, syscalls.txt, perf.data, report-*.txt
set -uo pipefail
cd "$(dirname "$0")/../.."
subject=${1:-proxyhost}; conc=${2:-1}; secs=${3:-4}
out=${OUT:-/tmp/connrate-profile}
mkdir -p "$out"
app_dll=benchmarks/BpfSteer.Benchmarks/bin/Release/net10.0/BpfSteer.Benchmarks.dll
host_dll=samples/ProxyHost/bin/Release/net10.0/ProxyHost.dll
app=(dotnet "$app_dll" connrate)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
wait_port() { for _ in $(seq 1 300); do grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp && return 0; sleep 0.05; done; return 1; }

taskset -c 1 "${app[@]}" backend --port 7952 >"$out/backend.log" 2>&1 & pids+=($!)
mkdir -p "$out/config"  # apart from proxy.log: the host watches its config directory
cat >"$out/config/host.json" <<JSON
{ "ReverseProxy": { "Routes": {}, "TcpRoutes": { "r": { "Listen": "127.0.0.1:7962", "ClusterId": "c" } },
  "Clusters": { "c": { "Destinations": { "d": { "Address": "tcp://127.0.0.1:7952" } } } } } }
JSON
case $subject in
  proxyhost) DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet "$host_dll" --config "$out/config/host.json" >"$out/proxy.log" 2>&1 & ;;
  socketshost) DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 "${app[@]}" host --transport sockets --config "$out/config/host.json" >"$out/proxy.log" 2>&1 & ;;
  haproxy) printf 'global\n  maxconn 8000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\nlisten r\n  bind 127.0.0.1:7962\n  server s 127.0.0.1:7952\n' >"$out/haproxy.cfg"
    haproxy -f "$out/haproxy.cfg" -db >"$out/proxy.log" 2>&1 & ;;
  nginx) printf 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\nworker_processes auto; daemon off; pid %s/nginx.pid; error_log %s/nginx-error.log;\nevents { worker_connections 8000; }\nstream { server { listen 127.0.0.1:7962; proxy_pass 127.0.0.1:7952; } }\n' "$out" "$out" >"$out/nginx.conf"
    nginx -c "$out/nginx.conf" -p "$out" >"$out/proxy.log" 2>&1 & ;;
  *) echo "usage: $0 [proxyhost|socketshost|haproxy|nginx] [concurrency] [seconds]" >&2; exit 2 ;;
esac
proxy=$!; pids+=($proxy)
wait_port 7952 && wait_port 7962 || { echo "did not start" >&2; cat "$out/proxy.log" >&2; exit 1; }
sleep 1
client() { taskset -c 0 "${app[@]}" client --port 7962 --concurrency "$conc" --seconds "$1" --warmup 0 --size 1024; }
client 1 >/dev/null   # warm-up (JIT, pools)

# Counted per cgroup (system-wide, so threads the proxy creates later count too): the proxy and its children
# (nginx workers) join a cgroup v2 group of their own; the per-connection denominator is its connect() calls.
cg=connrate-profile; cgdir=/sys/fs/cgroup/unified/$cg
[[ -d /sys/fs/cgroup/unified ]] || cgdir=/sys/fs/cgroup/$cg
mkdir -p "$cgdir" || exit 1
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.5; rmdir "$cgdir" 2>/dev/null' EXIT
for p in $proxy $(pgrep -P $proxy); do echo "$p" >"$cgdir/cgroup.procs"; done
per_connection() { # per_connection <perf stat -x, file>: every event / connect() count
  local n; n=$(awk -F, '$3 ~ /sys_enter_connect$/ {print $1}' "$1")
  awk -F, -v n="${n:-1}" '$1 ~ /^[0-9.]+$/ && $1 > 0 { e = $3; sub("syscalls:sys_enter_", "", e); printf "%10.2f  %s\n", $1 / n, e }' "$1" | sort -rn
}

# 1. CPU, context switches, migrations, syscalls per connection.
perf stat -a --for-each-cgroup $cg -x, -o "$out/stat.txt" \
  -e task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter,syscalls:sys_enter_connect -- sleep $((secs + 2)) &
statpid=$!
sleep 1
res=$(client "$secs"); wait $statpid
echo "client: $res" | tee "$out/summary.txt"
echo "per connection (task-clock in ms):" | tee -a "$out/summary.txt"
per_connection "$out/stat.txt" | tee -a "$out/summary.txt"

# 2. Syscalls by name per connection (every sys_enter tracepoint takes seconds to set up: start the load after it).
perf stat -a --for-each-cgroup $cg -x, -o "$out/sys.txt" -e 'syscalls:sys_enter_*' -- sleep $((secs + 8)) &
statpid=$!
sleep 7
client "$secs" >/dev/null; wait $statpid
echo "syscalls per connection:" | tee "$out/syscalls.txt"
per_connection "$out/sys.txt" | tee -a "$out/syscalls.txt" | head -30

# 3. Call graph (.NET frames from /tmp/perf-PID.map).
perf record -a -e cpu-clock -G $cg -F 4999 -g -o "$out/perf.data" -q -- sleep $((secs + 1)) >"$out/perf-record.log" 2>&1 &
recpid=$!
sleep 0.5
client "$secs" >/dev/null; wait $recpid
perf report -i "$out/perf.data" --stdio --no-children --sort dso,symbol --percent-limit 0.5 -g none 2>/dev/null >"$out/report-self.txt"
perf report -i "$out/perf.data" --stdio --children --sort symbol --percent-limit 1 -g none 2>/dev/null >"$out/report-children.txt"
echo "reports: $out/report-self.txt, $out/report-children.txt"
