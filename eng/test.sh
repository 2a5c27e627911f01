#!/usr/bin/env bash
# The test command: installs prerequisites, builds bpf/ and every project, runs every test against the real kernel.
# Results (TRX) land in artifacts/test-results/. Needs root (or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON) like CI.
set -uo pipefail
cd "$(dirname "$0")/.."

bash eng/install-prereqs.sh || exit 1

results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"

dotnet build Solution.sln -c Release -nologo -clp:ErrorsOnly || exit 1

# One test assembly at a time (-m:1): tests pin threads to CPUs and measure locality on a 2-core machine.
dotnet test Solution.sln -c Release --no-build -m:1 \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
  -- RunConfiguration.TestSessionTimeout=1500000
