#!/usr/bin/env bash
# Prints "N passed, N failed" from the TRX files of the last test run (artifacts/test-results/*.trx).
set -euo pipefail
cd "$(dirname "$0")/.."
passed=0; failed=0
shopt -s nullglob
for trx in artifacts/test-results/*.trx; do
  line=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$line"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$line")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$line"); t=$(sed -n 's/.* timeout="\([0-9]*\)".*/\1/p' <<<"$line")
  a=$(sed -n 's/.* aborted="\([0-9]*\)".*/\1/p' <<<"$line")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0}))
done
echo "$passed passed, $failed failed"
