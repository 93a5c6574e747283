#!/usr/bin/env bash
# make fuzz: runs every fuzz target of the module for FUZZTIME each
# (default 30s), one after another, and stops at the first failure, whose
# input go test writes under the package's testdata/fuzz/<target>/ (commit
# it: it then runs as a seed in every `make test`). Loopback only; nothing
# here needs the API server.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-30s}"
# How long go test may shrink an input: by default it spends up to a minute
# on every new interesting input, and a run whose FUZZTIME ends during that
# fails with "context deadline exceeded" although nothing was found.
minimize="${FUZZMINIMIZETIME:-2s}"
count=0
while read -r file; do
  dir="./$(dirname "$file")"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "== $target ($dir, $fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$dir"
    count=$((count + 1))
  done
done < <(git ls-files '*_test.go' | grep -v '^hack/vaultbench/' | xargs grep -l '^func Fuzz' | sort)
echo "fuzz: $count targets, $fuzztime each, no failure"
