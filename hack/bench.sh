#!/usr/bin/env bash
# make bench: the performance measurements of docs/performance.md. Runs on
# loopback only, bounded in time (about twelve minutes on 2 cores), never in CI:
# in-process benchmarks against their crypto floor, the index at scale,
# hack/loadgen flat out and at half the product's saturation rate, over a
# sweep of client counts, and once more under a CPU profile of the product
# server, hack/vaultbench (Vault's JWT login handler against the same
# floor), hack/scalebench (10,000 AzureHosts to Ready, propagation, a
# replica starting with 100,000), then
# hack/benchreport writes docs/performance.md and its plots
# (docs/performance/*.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bin/bench
mkdir -p "$out"
unset KUBEBUILDER_ASSETS # only hack/scalebench needs an API server, and builds its own

echo "== in-process benchmarks (authn)"
go test -run '^$' -bench 'VsFloor|RefusalTimings' -benchtime 5000x ./authn/ | tee "$out/authn.txt"
echo "== HashiCorp Vault's JWT login handler against the same floor (hack/vaultbench; its module is fetched and built the first time)"
(cd hack/vaultbench && go test -run '^$' -bench VsFloor -benchtime 5000x .) | tee "$out/vault.txt"
echo "== index benchmarks (internal/policy)"
go test -run '^$' -bench 'DecideAtScale|DecideWhileWriting' -benchtime 2s ./internal/policy/ | tee "$out/policy.txt"

go build -o "$out/loadgen" ./hack/loadgen
echo "== load, flat out"
"$out/loadgen" --clients 32 --identities 100 --round 3s --rounds 3 --json "$out/load.json"
# Half of the product's saturation rate (its median req/s over the rounds).
half=$(go run ./hack/benchreport --half-rate "$out/load.json")
echo "== load at half the saturation rate: $half req/s"
"$out/loadgen" --clients 32 --identities 100 --round 3s --rounds 3 --rate "$half" --modes product,bare --json "$out/load-half.json"
echo "== concurrency sweep (about 40 s)"
"$out/loadgen" --clients 1,2,4,8,16,32,64,128 --identities 100 --round 2s --rounds 1 --modes product,bare --json "$out/sweep.json"
echo "== CPU profile of the product server over one flat-out round"
"$out/loadgen" --clients 32 --identities 100 --round 4s --rounds 1 --modes product --cpuprofile "$out/product.pprof" --json "$out/profile.json"
go run ./hack/benchreport --stages "$out/product.pprof" | tee "$out/stages.txt"

echo "== scale: 10,000 AzureHosts against envtest, create/delete and grant propagation, then a replica starting with 100,000 (about 5 minutes)"
KUBEBUILDER_ASSETS="$(hack/build-envtest.sh)" go run ./hack/scalebench --hosts 10000 --changes 50 --startup-hosts 100000 --timeout 30m \
  --json "$out/scale.json" 2>"$out/scale.log"

go run ./hack/benchreport --in "$out" --out docs/performance.md
echo "wrote docs/performance.md"
