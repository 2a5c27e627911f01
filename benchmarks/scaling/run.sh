#!/usr/bin/env bash
# Scaling scenario: 1 -> 1,000 concurrent connections (wrk -c), requests/s and p99, through
#   - the transport: ScalingApp on BpfSteer vs the same app on Kestrel's Sockets transport;
#   - the forwarder: wrk -> ProxyHost TCP route (Mode=Sockmap, Mode=UserSpace) -> ScalingApp (Sockets) vs wrk -> ScalingApp direct.
# Every point is repeated (quick 3x, full 5x); runs of subject and peer alternate so drift hits both alike.
# Writes benchmarks/results/raw/scaling.json (schema: benchmarks/README.md). Expects a Release build (benchmarks/run.sh does it).
# Usage: benchmarks/scaling/run.sh [--quick|--full]
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=quick
case "${1:---quick}" in
  --quick) mode=quick; levels=(1 100 1000); duration=1; reps=3 ;;
  --full)  mode=full;  levels=(1 10 100 300 1000); duration=5; reps=3 ;;
  *) echo "usage: $0 [--quick|--full]" >&2; exit 2 ;;
esac

raw=benchmarks/results/raw
work=$(mktemp -d /tmp/bpfsteer-scaling.XXXXXX)
mkdir -p "$raw"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
app=benchmarks/scaling/ScalingApp/bin/Release/net10.0/ScalingApp.dll
proxyhost=samples/ProxyHost/bin/Release/net10.0/ProxyHost.dll
for f in "$app" "$proxyhost"; do
  [[ -f $f ]] || { echo "missing $f: build Release first (benchmarks/run.sh does)" >&2; exit 1; }
done

pids=()
cleanup() {
  # SIGTERM first (the graceful path), SIGKILL for whatever has not stopped 10 s later — and say so: a server that
  # ignores SIGTERM is a finding, not something to hide.
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do
    alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    ((${#alive[@]})) || break
    sleep 0.1
  done
  for p in "${alive[@]}"; do
    echo "  pid $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-120)) did not stop within 10 s of SIGTERM: killed" >&2
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# launch NAME COMMAND...: starts a server in the background, logging to $work/NAME.log; sets $pid. Not in a
# subshell, so the trap below knows every pid it must stop.
launch() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
}

# wait_line NAME PID REGEX: sets $found to the first match of REGEX in NAME's log (bounded: 60 s; fails at once if
# the process exited).
wait_line() {
  for _ in $(seq 600); do
    if found=$(grep -oP "$3" "$work/$1.log" 2>/dev/null | head -1) && [[ -n $found ]]; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "  $1 exited before printing /$3/; last lines of its log:" >&2
      tail -5 "$work/$1.log" | cut -c1-300 >&2
      return 1
    fi
    sleep 0.1
  done
  echo "  timed out waiting for /$3/ in $work/$1.log" >&2
  return 1
}

start_app() { # start_app NAME TRANSPORT: sets $url
  launch "$1" dotnet "$app" --transport "$2" --urls http://127.0.0.1:0
  wait_line "$1" "$pid" '^listening \Khttp://\S+'
  url=$found
}

start_route() { # start_route NAME MODE BACKEND_HOSTPORT: sets $route (HOST:PORT of the TCP route)
  cat >"$work/$1.json" <<JSON
{
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "Kestrel": { "Endpoints": { "Http": { "Url": "http://127.0.0.1:0" } } },
  "ReverseProxy": {
    "TcpRoutes": { "bench": { "Listen": "127.0.0.1:0", "ClusterId": "backend", "Mode": "$2" } },
    "Clusters": { "backend": { "Destinations": { "d1": { "Address": "tcp://$3" } } } }
  }
}
JSON
  route=""
  launch "$1" dotnet "$proxyhost" --config "$work/$1.json"
  wait_line "$1" "$pid" '^ProxyHost is \Kready' || return 1
  grep -oP "^  TCP route    bench: .*" "$work/$1.log" >"$work/$1.mode" || true
  route=$(grep -oP '^  tcp bench \K\S+' "$work/$1.log")
}

# One wrk run; appends "SUBJECT CONNECTIONS REP JSON" to the results file.
measure() { # measure SUBJECT URL CONNECTIONS REP
  local threads=$(( $3 < 2 ? 1 : 2 ))
  local line
  line=$(wrk -t"$threads" -c"$3" -d"${duration}s" --timeout 5s -s benchmarks/scaling/wrk-json.lua "$2" | grep '^WRKJSON ' | cut -d' ' -f2-)
  echo "$1 $3 $4 $line" >>"$work/results.txt"
  printf '  %-16s c=%-5s rep %s %s\n' "$1" "$3" "$4" "$line"
}

echo "scaling ($mode): levels ${levels[*]}, ${duration}s x $reps"
start_app bpfsteer bpfsteer && bpf_url=$url/plaintext
start_app sockets sockets && sock_url=$url/plaintext
start_app backend sockets && backend_url=$url
backend=${backend_url#http://}
# A route that cannot start (e.g. Mode=Sockmap without CAP_BPF) is reported as "no data"; the rest still runs.
sockmap=""; userspace=""
if start_route route-sockmap Sockmap "$backend"; then sockmap=$route; else echo "  sockmap route did not start: no data" >&2; fi
if start_route route-userspace UserSpace "$backend"; then userspace=$route; else echo "  user-space route did not start: no data" >&2; fi

# Warm-up (not recorded): JIT, connection pools and the first sockmap insertions happen here, not in rep 1.
for u in "$bpf_url" "$sock_url" "$backend_url/plaintext" ${sockmap:+"http://$sockmap/plaintext"} ${userspace:+"http://$userspace/plaintext"}; do
  wrk -t2 -c64 -d1s "$u" >/dev/null
done
echo "  transport: BpfSteer $bpf_url, Sockets $sock_url; forwarder: direct $backend, sockmap route $sockmap, user-space route $userspace"

: >"$work/results.txt"
for c in "${levels[@]}"; do
  for rep in $(seq "$reps"); do
    measure BpfSteer "$bpf_url" "$c" "$rep"
    measure Sockets "$sock_url" "$c" "$rep"
    measure Direct "$backend_url/plaintext" "$c" "$rep"
    [[ -n $sockmap ]] && measure SockmapRoute "http://$sockmap/plaintext" "$c" "$rep"
    [[ -n $userspace ]] && measure UserSpaceRoute "http://$userspace/plaintext" "$c" "$rep"
  done
done

python3 - "$work/results.txt" "$raw/scaling.json" "$mode" "$duration" "$reps" "$work" <<'PY'
import json, sys, os, platform
results, out, mode, duration, reps, work = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
runs = {}
for line in open(results):
    subject, c, rep, js = line.split(" ", 3)
    runs.setdefault((subject, int(c)), []).append(json.loads(js))
levels = sorted({c for _, c in runs})
def vals(subject, c, key): return [r[key] for r in runs.get((subject, c), [])]
def modes(name):
    p = os.path.join(work, name + ".mode")
    return open(p).read().strip() if os.path.exists(p) else ""
wrk = f"wrk -t{{T}} -c{{C}} -d{duration}s --timeout 5s -s benchmarks/scaling/wrk-json.lua URL/plaintext"
pairs = [("transport", "BpfSteer", "Sockets"), ("forwarder", "SockmapRoute", "Direct"),
         ("forwarder", "UserSpaceRoute", "Direct"), ("forwarder", "SockmapRoute", "UserSpaceRoute")]
entries = []
for c in levels:
    for area, subject, peer in pairs:
        for metric, key, unit, higher in (("requests/s", "rps", "req/s", True), ("p99 latency", "p99_us", "us", False)):
            entries.append({
                "scenario": f"scaling {area} c={c}", "metric": metric, "unit": unit, "higherIsBetter": higher,
                "subject": subject, "subjectValues": vals(subject, c, key),
                "peer": peer, "peerValues": vals(peer, c, key),
                "errors": {subject: sum(vals(subject, c, "errors")), peer: sum(vals(peer, c, "errors"))},
                "command": wrk.replace("{C}", str(c)).replace("{T}", "1" if c < 2 else "2"),
            })
series = [{"subject": s, "connections": c, "rps": vals(s, c, "rps"), "p99_us": vals(s, c, "p99_us")}
          for s in ("BpfSteer", "Sockets", "Direct", "SockmapRoute", "UserSpaceRoute") for c in levels]
doc = {
    "suite": "scaling", "mode": mode, "repetitions": reps,
    "command": f"benchmarks/scaling/run.sh --{mode}",
    "placement": f"{os.cpu_count()} CPUs, nothing pinned: BpfSteer pins one worker per CPU itself; wrk -t2 (-t1 at c=1), "
                 "ScalingApp and ProxyHost share the same CPUs (one machine, loopback).",
    "notes": [modes("route-sockmap"), modes("route-userspace")],
    "results": entries, "series": series,
}
json.dump(doc, open(out, "w"), indent=1)
print(f"wrote {out}")
PY
