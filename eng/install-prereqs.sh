#!/usr/bin/env bash
# Installs what BpfSteer needs to build, test and run, from Debian's packages, only when missing.
# Usage: eng/install-prereqs.sh [--bench]   (--bench adds the benchmark peers)
set -euo pipefail

packages=(
  clang libbpf-dev libbpf1 bpftool        # build bpf/*.bpf.c; libbpf.so.1 is the P/Invoke target
  curl wrk nghttp2-client iperf3           # real clients used by the tests
  redis-server redis-tools postgresql      # real servers behind TCP routes in the tests (redis-benchmark, redis-cli, psql, pgbench)
  chromium                                 # headless page test of /bpfsteer
  socat util-linux libcap2-bin iproute2    # setpriv/capsh for the capability-drop test, ip/ss
)
# The other 64-bit architecture's C headers (Debian cross packages, headers only): the struct layout tests compile
# against the headers of x64 and arm64, the two architectures BpfSteer runs on.
case "$(dpkg --print-architecture)" in
  amd64) packages+=(libc6-dev-arm64-cross linux-libc-dev-arm64-cross) ;;
  arm64) packages+=(libc6-dev-amd64-cross linux-libc-dev-amd64-cross) ;;
esac
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(haproxy nginx-light libnginx-mod-stream python3 python3-matplotlib)   # python3: merges results JSON and draws the charts
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v dotnet >/dev/null; then
  echo "The .NET 10 SDK is required (https://dotnet.microsoft.com/download); 'dotnet' is not on PATH." >&2
  exit 1
fi
