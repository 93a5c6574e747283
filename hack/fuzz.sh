#!/usr/bin/env bash
# make fuzz: runs every fuzz target of the module for FUZZTIME each
# (default 30s), one after another, and stops at the first failure, whose
# input go test writes under the package's testdata/fuzz/<target>/ (commit
# it: it then runs as a seed in every `make test`). Loopback only; nothing
# here needs the API server.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-30s}"
# How long go test may shrink a new interesting input (default: a minute
# each, which would eat short runs).
minimize="${FUZZMINIMIZETIME:-2s}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
count=0
while read -r file; do
  dir="./$(dirname "$file")"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "== $target ($dir, $fuzztime)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$dir" 2>&1 | tee "$log"; then
      # go test fails a run whose FUZZTIME ends while a worker is still
      # shrinking an input, with "context deadline exceeded" and no input
      # written. That is its own race, not a finding: anything the target
      # found (a failure, a panic, a hang) is written under testdata/fuzz
      # and fails here.
      if grep -q 'Failing input written' "$log" || ! grep -qE '^\s+context deadline exceeded$' "$log"; then
        exit 1
      fi
      echo "   (go test's deadline fell while it was shrinking an input; nothing was found)"
    fi
    count=$((count + 1))
  done
done < <(git ls-files '*_test.go' | grep -v '^hack/vaultbench/' | xargs grep -l '^func Fuzz' | sort)
echo "fuzz: $count targets, $fuzztime each, no failure"
