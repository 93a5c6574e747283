#!/usr/bin/env bash
# Runs every test, under the race detector, against the real control plane
# (kube-apiserver + etcd built by hack/build-envtest.sh; a missing binary
# fails, nothing skips), and prints one summary line:
# "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

KUBEBUILDER_ASSETS="$(hack/build-envtest.sh)" || { echo "tests: could not build the envtest control plane" >&2; exit 1; }
export KUBEBUILDER_ASSETS
echo "Using control plane from $KUBEBUILDER_ASSETS"

log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT
status=0

run() { # name, dir, go test args...
  local name=$1 dir=$2; shift 2
  echo "== (cd $dir && go test $*)"
  if ! (cd "$dir" && go test -count=1 -v "$@") >"$log_dir/$name.log" 2>&1; then status=1; fi
  # Package verdicts, and every failure with its output.
  grep -E '^(ok|FAIL|panic:|--- FAIL)|^\s+--- FAIL|^\s+\S+\.go:[0-9]+:' "$log_dir/$name.log" || true
}

run all . -race ./...
# A module of its own (Prometheus's rule parser is too heavy for go.mod).
run promrules hack/promrules ./...

passed=$(cat "$log_dir"/*.log | grep -cE '^\s*--- PASS' || true)
failed=$(cat "$log_dir"/*.log | grep -cE '^\s*--- FAIL' || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A build failure or a panic fails no named test: show the log.
  cat "$log_dir"/*.log | tail -n 100
  failed=1
fi
echo "tests: $passed passed, $failed failed"
exit "$status"
