#!/usr/bin/env bash
# Forwarder data-path benchmark: direct vs sockmap route vs user-space route vs HAProxy `mode tcp` (splice) vs
# nginx `stream`, in one run, in two CPU placements:
#   spread : client on cpu0, backends (iperf3 -s, echo) on cpu1, proxies unpinned
#   onecpu : client, backends and proxies all on cpu0 (unbounded sockmap is slower than user space there:
#            docs/design.md, "CPU affinity: the placement rule")
#   isolated (RFS steering comparison only): client and backend on cpu0, proxies pinned to cpu1, route CPU 1
# Metrics: iperf3 1 and 4 streams (Gbit/s), 1 KiB ping-pong p50/p99 (us), new connections/s (1 KiB request and
# reply per connection), system CPU seconds per GB moved (from /proc/stat during the 1-stream run), and the seed's
# measurement: sender speed vs receiver speed of the same iperf3 run (a ratio far above 1 means bytes pile up in
# the proxy), with the queue bound (sockmap parking) and without it (--max-queued 0), and for Auto (placement rule);
# and the same with RFS steering to route CPU 1 (SockmapRfs: --max-queued 0 --budget 68719476736 --cpu 1 --steer rfs, RFS on lo turned on
# by this script only around those runs and restored) against SockmapUnbounded measured right before it (RFS off).
# Every figure is a ratio against a peer measured in the same run, repeated, median [min-max].
# Output: benchmarks/results/raw/forwarder.json (schema: benchmarks/README.md) and benchmarks/results/forwarder.md.
# Usage: benchmarks/forwarder/run.sh [--quick|--full]
set -uo pipefail
cd "$(dirname "$0")/../.."
source benchmarks/forwarder/haproxy.sh
root=$(pwd)

case "${1:---quick}" in
  --quick) mode=quick; secs=1; reps=3; pings=1000; connsecs=0.3 ;;
  --full)  mode=full;  secs=5; reps=3; pings=20000; connsecs=3 ;;
  *) echo "usage: $0 [--quick|--full]" >&2; exit 2 ;;
esac

for tool in iperf3 haproxy nginx taskset python3; do
  command -v $tool >/dev/null || { echo "missing $tool: run bash eng/install-prereqs.sh --bench" >&2; exit 1; }
done
app_dll=benchmarks/BpfSteer.Benchmarks/bin/Release/net10.0/BpfSteer.Benchmarks.dll
# Always build (incremental: seconds when nothing changed), so a run never measures a stale build.
dotnet build benchmarks/BpfSteer.Benchmarks -c Release -nologo -clp:ErrorsOnly || exit 1
app=(dotnet "$app_dll" forwarder)
nginx_stream=$(ls /usr/lib/nginx/modules/ngx_stream_module.so 2>/dev/null || true)

raw=benchmarks/results/raw
mkdir -p "$raw"
work=$(mktemp -d /tmp/fwdbench.XXXXXX)
samples=$work/samples.tsv
: >"$samples"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1.5  # the proxies print their per-route counters on SIGTERM
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  pids=()
}
trap 'cleanup; rfs_restore; rm -rf "$work"' EXIT

# Ports: iperf3 backend 7101, echo backend 7102; each proxy listens on <base>1 (-> iperf3) and <base>2 (-> echo).
declare -A base=([Direct]=710 [SockmapRoute]=720 [UserSpaceRoute]=730 [HAProxy]=740 [Nginx]=750 [SockmapUnbounded]=760 [AutoRoute]=770 [SockmapRfs]=780)

# RFS on lo only around the SockmapRfs runs (it changes where every loopback flow is processed, so the other
# subjects run with the machine's own setting); the previous values come back on exit too.
rfs_files=(/proc/sys/net/core/rps_sock_flow_entries /sys/class/net/lo/queues/rx-0/rps_flow_cnt)
rfs_saved=()
for f in "${rfs_files[@]}"; do rfs_saved+=("$(cat "$f" 2>/dev/null)"); done
rfs_restore() { for i in "${!rfs_files[@]}"; do [[ -n ${rfs_saved[$i]} ]] && echo "${rfs_saved[$i]}" >"${rfs_files[$i]}" 2>/dev/null; done; }
rfs_on() { echo 32768 >"${rfs_files[0]}" 2>/dev/null && echo 32768 >"${rfs_files[1]}" 2>/dev/null; }
rfs_ok=1
if ! rfs_on; then rfs_ok=0; echo "  RFS cannot be configured here (needs root): SockmapRfs runs skipped" >&2; fi
rfs_restore

wait_port() { for _ in $(seq 1 200); do grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp && return 0; sleep 0.05; done; echo "port $1 never listened" >&2; return 1; }

start() { # start <cpu-list|""> <name> cmd...
  local cpus=$1 name=$2; shift 2
  if [[ -n $cpus ]]; then taskset -c "$cpus" "$@" >"$work/$name.log" 2>&1 &
  else "$@" >"$work/$name.log" 2>&1 &
  fi
  pids+=($!)
}

start_all() { # start_all <client cpu> <server cpu> <proxy cpu or "">
  local srv=$2 px=$3
  start "$srv" iperf-server iperf3 -s -B 127.0.0.1 -p 7101
  start "$srv" echo "${app[@]}" echo --listen 7102
  start "$px" sockmap "${app[@]}" proxy --mode Sockmap --cpu "$srv" --route 7201=7101 --route 7202=7102
  start "$px" userspace "${app[@]}" proxy --mode UserSpace --route 7301=7101 --route 7302=7102
  start "$px" unbounded "${app[@]}" proxy --mode Sockmap --max-queued 0 --budget 68719476736 --route 7601=7101 --route 7602=7102
  start "$px" auto "${app[@]}" proxy --mode Auto --route 7701=7101 --route 7702=7102
  start "$px" steered "${app[@]}" proxy --mode Sockmap --max-queued 0 --budget 68719476736 --cpu 1 --steer rfs --route 7801=7101 --route 7802=7102
  haproxy_config "$work/haproxy.cfg" iperf:7401:7101 echo:7402:7102
  start "$px" haproxy haproxy -f "$work/haproxy.cfg" -db
  cat >"$work/nginx.conf" <<CFG
${nginx_stream:+load_module $nginx_stream;}
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 8000; }
stream {
  server { listen 127.0.0.1:7501; proxy_pass 127.0.0.1:7101; }
  server { listen 127.0.0.1:7502; proxy_pass 127.0.0.1:7102; }
}
CFG
  start "$px" nginx nginx -c "$work/nginx.conf" -p "$work"
  for p in 7101 7102 7201 7202 7301 7302 7401 7402 7501 7502 7601 7602 7701 7702 7801 7802; do wait_port $p || return 1; done
}

busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$samples"; }

iperf() { # iperf <placement> <subject> <streams> <client cpu>
  local placement=$1 subject=$2 streams=$3 cli=$4 port=${base[$2]}1 out=$work/iperf.json
  [[ $subject == Direct ]] && port=7101
  local j0; j0=$(busy_jiffies)
  if ! taskset -c "$cli" iperf3 -c 127.0.0.1 -p "$port" -P "$streams" -t "$secs" -J >"$out" 2>/dev/null; then
    echo "  iperf3 $subject -P $streams failed" >&2; return
  fi
  local j1; j1=$(busy_jiffies)
  python3 - "$out" "$placement" "$subject" "$streams" "$((j1 - j0))" >>"$samples" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); placement, subject, streams, jiffies = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
end = doc["end"]; rcv = end["sum_received"]; snd = end["sum_sent"]
print(f"{placement}\t{subject}\tiperf{streams}_gbps\t{rcv['bits_per_second'] / 1e9:.3f}")
if streams == "1":
    print(f"{placement}\t{subject}\tcpu_s_per_gb\t{(jiffies / 100) / max(rcv['bytes'] / 1e9, 1e-9):.3f}")
    print(f"{placement}\t{subject}\tsend_gbps\t{snd['bits_per_second'] / 1e9:.3f}")
    print(f"{placement}\t{subject}\trecv_gbps\t{rcv['bits_per_second'] / 1e9:.3f}")
PY
}

pingpong() {
  local placement=$1 subject=$2 cli=$3 port=${base[$2]}2
  [[ $subject == Direct ]] && port=7102
  local line; line=$(taskset -c "$cli" "${app[@]}" pingpong --target "$port" --count "$pings" --size 1024 2>/dev/null) || { echo "  pingpong $subject failed" >&2; return; }
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); p,s=sys.argv[2],sys.argv[3]; print(p, s, "p50_us", d["p50_us"], sep="\t"); print(p, s, "p99_us", d["p99_us"], sep="\t")' "$line" "$placement" "$subject" >>"$samples"
}

connrate() {
  local placement=$1 subject=$2 cli=$3 port=${base[$2]}2
  [[ $subject == Direct ]] && port=7102
  local line; line=$(taskset -c "$cli" "${app[@]}" connrate --target "$port" --seconds "$connsecs" --size 1024 --parallel 4 2>/dev/null) || { echo "  connrate $subject failed" >&2; return; }
  record "$placement" "$subject" conns_per_sec "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["conns_per_sec"])' "$line")"
}

subjects=(Direct SockmapRoute UserSpaceRoute HAProxy Nginx)
started=$(date +%s)
for placement in spread onecpu; do
  if [[ $placement == spread ]]; then cli=0; srv=1; px=""; else cli=0; srv=0; px=0; fi
  echo "== placement $placement: client cpu$cli, backends cpu$srv, proxies $([[ -n $px ]] && echo "cpu$px" || echo unpinned)"
  start_all "$cli" "$srv" "$px" || { cleanup; continue; }
  for rep in $(seq 1 "$reps"); do
    for s in "${subjects[@]}"; do
      iperf $placement $s 1 $cli
      pingpong $placement $s $cli
      # Quick mode keeps the 4-stream and connection-rate runs to the spread placement and the main peers.
      if [[ $mode == full || ( $placement == spread && $s != Nginx ) ]]; then
        [[ $mode == full || $s != UserSpaceRoute ]] && iperf $placement $s 4 $cli
        connrate $placement $s $cli
      fi
    done
    iperf $placement AutoRoute 1 $cli
    iperf $placement SockmapUnbounded 1 $cli
    if (( rfs_ok )); then  # right after its peer, so both see the same machine
      rfs_on; iperf $placement SockmapRfs 1 $cli; rfs_restore
    fi
    echo "  rep $rep done ($(( $(date +%s) - started ))s)"
  done
  cleanup
  for f in sockmap userspace unbounded auto steered; do grep -h "^route\|sockmap not usable" "$work/$f.log" | sed "s/^/  $placement $f: /"; done >>"$work/notes.txt"
done

# isolated: the seed's set-up for the RFS steering comparison only — client and backend on cpu0, the proxies
# pinned to their own cpu1, route CPU 1 (without steering the sockmap work stays on the senders' cpu0).
if (( rfs_ok )); then
  placement=isolated
  echo "== placement isolated: client and backend cpu0, proxies cpu1 (SockmapUnbounded vs SockmapRfs only)"
  start 0 iperf-server iperf3 -s -B 127.0.0.1 -p 7101
  start 1 unbounded "${app[@]}" proxy --mode Sockmap --max-queued 0 --budget 68719476736 --route 7601=7101
  start 1 steered "${app[@]}" proxy --mode Sockmap --max-queued 0 --budget 68719476736 --cpu 1 --steer rfs --route 7801=7101
  ok=1; for p in 7101 7601 7801; do wait_port $p || ok=0; done
  if (( ok )); then
    for rep in $(seq 1 "$reps"); do
      iperf $placement SockmapUnbounded 1 0
      rfs_on; iperf $placement SockmapRfs 1 0; rfs_restore
      echo "  rep $rep done ($(( $(date +%s) - started ))s)"
    done
  fi
  cleanup
  for f in unbounded steered; do grep -h "^route 0\|sockmap not usable" "$work/$f.log" | sed "s/^/  $placement $f: /"; done >>"$work/notes.txt"
fi

python3 benchmarks/forwarder/summarize.py "$samples" "$mode" "$work/notes.txt" "$raw/forwarder.json" benchmarks/results/forwarder.md
echo "== forwarder benchmark done in $(( $(date +%s) - started ))s: $raw/forwarder.json, benchmarks/results/forwarder.md"
