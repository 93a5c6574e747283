#!/usr/bin/env bash
# make soak: the long runs that make test keeps short. First the churn
# load (hack/loadgen churn: the product in process on its own control
# plane, SOAK_CLIENTS HTTPS clients for SOAK_DURATION while one writer
# changes hosts, authenticators, namespace labels and Secret grants; every
# decision checked, see internal/churn), then the API-server suites'
# outage and churn tests with SOAK=1 (their long cycles) and
# CHURN_DURATION (default 2m) under the race detector, one package at a
# time. Loopback only. Prints one summary line; fails if either part does.
set -uo pipefail
cd "$(dirname "$0")/.."

duration="${SOAK_DURATION:-10m}"
clients="${SOAK_CLIENTS:-32}"
KUBEBUILDER_ASSETS="$(hack/build-envtest.sh)" || { echo "soak: could not build the envtest control plane" >&2; exit 1; }
export KUBEBUILDER_ASSETS
export CHURN_DURATION="${CHURN_DURATION:-2m}"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "== go run ./hack/loadgen churn --duration $duration --clients $clients"
go run ./hack/loadgen churn --duration "$duration" --clients "$clients" 2>&1 | tee "$log"
load_status=${PIPESTATUS[0]}
load_line="$(grep -m1 -E '^churn: [0-9]+ clients for' "$log" || echo "churn: no report")"

echo "== SOAK=1 CHURN_DURATION=$CHURN_DURATION go test -count=1 -race -p 1 -timeout 3h -v -run 'Outage|Churn' ./test/..."
SOAK=1 go test -count=1 -race -p 1 -timeout 3h -v -run 'Outage|Churn' ./test/... 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
if [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

verdict=ok
if [ "$load_status" -ne 0 ] || [ "$test_status" -ne 0 ]; then verdict=FAILED; fi
echo "soak: $verdict; loadgen ($( [ "$load_status" -eq 0 ] && echo pass || echo FAIL )): ${load_line#churn: }; tests: $passed passed, $failed failed"
[ "$verdict" = ok ]
