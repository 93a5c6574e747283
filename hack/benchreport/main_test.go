/*
Copyright 2026 The azure-authenticator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeReport writes files into a directory, runs the report over it and
// returns the report and the directory.
func writeReport(t *testing.T, files map[string]string, extra func(dir string)) (string, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if extra != nil {
		extra(dir)
	}
	out := filepath.Join(dir, "performance.md")
	if err := write(dir, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), dir
}

// The report lists every target beside the figure measured, met or not,
// from go test -bench output and loadgen JSON.
func TestReportPutsEachFigureBesideItsTarget(t *testing.T) {
	files := map[string]string{
		"authn.txt": "BenchmarkAuthenticateVsFloor-2   3000   200000 ns/op   1.10 x-base   55.0 µs-authenticate   50.0 µs-base   44 allocs-authenticate   100 B/op   70 allocs/op\n" +
			"BenchmarkFetchVsFloor/single-2   3000   1 ns/op   1.30 x-base\n",
		"policy.txt": "BenchmarkDecideAtScale-2   10   1 ns/op   700 B/host   1.5 p99-1M/1k\n",
		"vault.txt":  "BenchmarkVaultLoginVsFloor-2   3000   1 ns/op   2.20 x-base   398 allocs-vault\n",
		"load.json": `[{"mode":"product","round":1,"server_cpu_us_per_request":110,"per_second":1000},
			{"mode":"bare","round":1,"server_cpu_us_per_request":100,"per_second":1100}]`,
		"load-half.json": `[{"mode":"product","round":1,"p99_ms":3.5}]`,
	}
	report, _ := writeReport(t, files, nil)
	for _, want := range []string{
		"| over HTTPS, uncached: server CPU per authentication / bare reference | ≤ 1.15 | 1.100× | yes |",
		"| in process: one authentication / crypto floor (RS256 verify + access-token signature) | ≤ 1.25 | 1.10× | yes |",
		"| in process: allocations per authentication (the product's own, without the test's request and recorder) | ≤ 60 | 44 | yes |",
		"| HashiCorp Vault's JWT plugin, login handler alone / the same crypto floor (hack/vaultbench) | - | 2.20× | - |",
		"| one authentication / Vault's login handler alone (each against its floor, same run) | < 1 | 0.50× | yes |",
		"| secret fetch / Ed25519 verification of the access token (in process) | ≤ 1.2 | 1.30× | **no** |",
		"| index lookup p99 at 1M hosts / at 1k | ≤ 2 | 1.50× | yes |",
		"| p99 at half the saturation rate, product (ms) | ≤ 5 | 3.5 ms | yes |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
}

// With a sweep and a profile, the report has their tables and links its
// plots, written beside it in a directory named after it.
func TestReportHasTheSweepAndTheStagesWithPlots(t *testing.T) {
	files := map[string]string{
		"authn.txt":      "",
		"policy.txt":     "",
		"load.json":      `[]`,
		"load-half.json": `[]`,
		"sweep.json": `[{"mode":"product","round":1,"clients":1,"per_second":1000,"p50_ms":0.5,"p99_ms":1.5,"server_cpu_us_per_request":220},
			{"mode":"bare","round":1,"clients":1,"per_second":1100,"p50_ms":0.4,"p99_ms":1.2,"server_cpu_us_per_request":200},
			{"mode":"product","round":1,"clients":64,"per_second":6000,"p50_ms":9,"p99_ms":30,"server_cpu_us_per_request":180},
			{"mode":"bare","round":1,"clients":64,"per_second":6100,"p50_ms":8,"p99_ms":28,"server_cpu_us_per_request":200}]`,
		"profile.json": `[{"mode":"product","round":1,"clients":32,"requests":20000,"server_cpu_us_per_request":200}]`,
	}
	report, dir := writeReport(t, files, func(dir string) {
		f, err := os.Create(filepath.Join(dir, "product.pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := handProfile([][]string{rsaLeaf, jsonAlloc}, []int64{50, 50}).Write(f); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	})
	for _, want := range []string{
		"![throughput against concurrency](performance/throughput.svg)",
		"![p99 latency against concurrency](performance/p99.svg)",
		"![CPU per request by stage](performance/cpu-by-stage.svg)",
		"| 1 | product | 1000 | 0.50 | 1.50 | 220.0 | 1.10× |",
		"| 64 | bare | 6100 | 8.00 | 28.00 | 200.0 | - |",
		"(3.0 s, 20000 requests, 200.0 µs of server CPU per request from /proc)",
		"| 50.0% | 100.0 |",
		"The crypto floor, RS256 verification and the access-token signature, is 50.0% of it.",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	if strings.Index(report, "| 1 | product") > strings.Index(report, "| 64 | product") {
		t.Error("the sweep is not in the order of client counts")
	}
	for _, svg := range []string{"throughput.svg", "p99.svg", "cpu-by-stage.svg"} {
		if _, err := os.Stat(filepath.Join(dir, "performance", svg)); err != nil {
			t.Error(err)
		}
	}
}

// Without a sweep or a profile the report says so, and writes no plot.
func TestReportSaysWhatWasNotMeasured(t *testing.T) {
	b, dir := writeReport(t, map[string]string{"authn.txt": "", "policy.txt": "", "load.json": `[]`, "load-half.json": `[]`}, nil)
	if !strings.Contains(b, "Not measured in this run (no sweep.json)") || !strings.Contains(b, "Not measured in this run (no product.pprof)") {
		t.Errorf("report:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "performance")); err == nil {
		t.Error("a plot directory without plots")
	}
}
