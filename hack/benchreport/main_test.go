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

// The report lists every target beside the figure measured, met or not,
// from go test -bench output and loadgen JSON.
func TestReportPutsEachFigureBesideItsTarget(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"authn.txt": "BenchmarkAuthenticateVsFloor-2   3000   200000 ns/op   1.10 x-base   55.0 µs-authenticate   50.0 µs-base   100 B/op   50 allocs/op\n" +
			"BenchmarkFetchVsFloor/single-2   3000   1 ns/op   1.30 x-base\n",
		"policy.txt": "BenchmarkDecideAtScale-2   10   1 ns/op   700 B/host   1.5 p99-1M/1k\n",
		"load.json": `[{"mode":"product","round":1,"server_cpu_us_per_request":110,"per_second":1000},
			{"mode":"bare","round":1,"server_cpu_us_per_request":100,"per_second":1100}]`,
		"load-half.json": `[{"mode":"product","round":1,"p99_ms":3.5}]`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "performance.md")
	if err := write(dir, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	for _, want := range []string{
		"| over HTTPS, uncached: server CPU per authentication / bare reference | ≤ 1.15 | 1.100× | yes |",
		"| in process: one authentication / crypto floor (RS256 verify + access-token signature) | ≤ 1.25 | 1.10× | yes |",
		"| in process: allocations per authentication | ≤ 60 | 50 | yes |",
		"| secret fetch / Ed25519 verification of the access token (in process) | ≤ 1.2 | 1.30× | **no** |",
		"| index lookup p99 at 1M hosts / at 1k | ≤ 2 | 1.50× | yes |",
		"| p99 at half the saturation rate, product (ms) | ≤ 5 | 3.5 ms | yes |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
}
