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

// Command benchreport writes docs/performance.md from what hack/bench.sh
// measured: go test -bench output (ratios to the crypto floor, index
// latency and memory), hack/loadgen's JSON (server CPU per request
// against the bare reference, throughput, latency, a concurrency sweep)
// and a CPU profile of the product server, shared out by stage. Every
// target of issue 11 is listed beside the figure measured and whether it is
// met. The plots go to SVG files in a directory named after the report
// (docs/performance/).
//
//	go run ./hack/benchreport --in bin/bench --out docs/performance.md
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	in := flag.String("in", "bin/bench", "directory hack/bench.sh wrote")
	out := flag.String("out", "docs/performance.md", "the report")
	halfRate := flag.String("half-rate", "", "print half the product's median saturation rate in this loadgen JSON file, and exit")
	stagesOf := flag.String("stages", "", "print how this CPU profile shares out by stage, with each stage's top functions, and exit")
	flag.Parse()
	if *stagesOf != "" {
		p, err := readProfile(*stagesOf)
		if err == nil {
			err = explain(os.Stdout, p, 8)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		return
	}
	if *halfRate != "" {
		rs, err := loads(*halfRate)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		fmt.Println(max(1, int(field(rs, "product", func(r loadResult) float64 { return r.PerSecond })/2)))
		return
	}
	if err := write(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// benchMetrics maps "Benchmark/sub" to unit to value, from go test -bench
// output files.
func benchMetrics(paths ...string) (map[string]map[string]float64, error) {
	m := map[string]map[string]float64{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
				continue
			}
			name := fields[0]
			if i := strings.LastIndexByte(name, '-'); i > 0 {
				name = name[:i] // the GOMAXPROCS suffix
			}
			m[name] = map[string]float64{}
			for i := 2; i+1 < len(fields); i += 2 {
				if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
					m[name][fields[i+1]] = v
				}
			}
		}
		_ = f.Close()
	}
	return m, nil
}

type loadResult struct {
	Mode      string  `json:"mode"`
	Round     int     `json:"round"`
	Clients   int     `json:"clients"`
	Rate      int     `json:"rate"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	PerSecond float64 `json:"per_second"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	ServerCPU float64 `json:"server_cpu_us_per_request"`
}

func loads(path string) ([]loadResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r []loadResult
	return r, json.Unmarshal(b, &r)
}

// ratio is the median over rounds of mode's server CPU per request over
// the bare reference's in the same round.
func ratio(rs []loadResult, mode string) float64 {
	bare := map[int]float64{}
	for _, r := range rs {
		if r.Mode == "bare" {
			bare[r.Round] = r.ServerCPU
		}
	}
	var v []float64
	for _, r := range rs {
		if r.Mode == mode && bare[r.Round] > 0 {
			v = append(v, r.ServerCPU/bare[r.Round])
		}
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func field(rs []loadResult, mode string, get func(loadResult) float64) float64 {
	var v []float64
	for _, r := range rs {
		if r.Mode == mode {
			v = append(v, get(r))
		}
	}
	return median(v)
}

func write(in, out string) error {
	b, err := benchMetrics(filepath.Join(in, "authn.txt"), filepath.Join(in, "policy.txt"))
	if err != nil {
		return err
	}
	// Vault's module is fetched and built on first use; a run without it
	// reports the rest.
	if v, err := benchMetrics(filepath.Join(in, "vault.txt")); err == nil {
		maps.Copy(b, v)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	sat, err := loads(filepath.Join(in, "load.json"))
	if err != nil {
		return err
	}
	half, err := loads(filepath.Join(in, "load-half.json"))
	if err != nil {
		return err
	}
	get := func(bench, unit string) float64 { return b[bench][unit] }
	var scale struct {
		Hosts             int     `json:"hosts"`
		AllReadySeconds   float64 `json:"all_ready_seconds"`
		Reconciles        float64 `json:"reconciles"`
		Events            int     `json:"events"`
		HeapMiB           float64 `json:"heap_mib"`
		CreateToAuthP99Ms float64 `json:"create_to_authenticated_p99_ms"`
		CreateToAuthMaxMs float64 `json:"create_to_authenticated_max_ms"`
		DeleteToDenyP99Ms float64 `json:"delete_to_denied_p99_ms"`
		DeleteToDenyMaxMs float64 `json:"delete_to_denied_max_ms"`
		GrantP99Ms        float64 `json:"grant_to_success_p99_ms"`
		GrantMaxMs        float64 `json:"grant_to_success_max_ms"`
		RevokeP99Ms       float64 `json:"revoke_to_denied_p99_ms"`
		RevokeMaxMs       float64 `json:"revoke_to_denied_max_ms"`
		StartupHosts      int     `json:"startup_hosts"`
		StartupReady      float64 `json:"startup_ready_seconds"`
		StartupFirstAuth  float64 `json:"startup_first_auth_seconds"`
		StartupList       float64 `json:"startup_list_seconds"`
		StartupBytes      float64 `json:"startup_heap_index_and_informer_cache_bytes_per_host"`
	}
	if raw, err := os.ReadFile(filepath.Join(in, "scale.json")); err == nil {
		if err := json.Unmarshal(raw, &scale); err != nil {
			return err
		}
	}
	type row struct {
		what, target string
		value        float64
		format       string
		met          bool
	}
	p99Half := field(half, "product", func(r loadResult) float64 { return r.P99Ms })
	vsVault := 0.0
	if v := get("BenchmarkVaultLoginVsFloor", "x-base"); v > 0 {
		vsVault = get("BenchmarkAuthenticateVsFloor", "x-base") / v
	}
	rows := []row{
		{"over HTTPS, uncached: server CPU per authentication / bare reference", "≤ 1.15", ratio(sat, "product"), "%.3f×", ratio(sat, "product") <= 1.15},
		{"over HTTPS, verified-token cache on, token reused: / bare reference", "≤ 0.70", ratio(sat, "product-cached"), "%.3f×", ratio(sat, "product-cached") <= 0.70},
		{"in process: one authentication / crypto floor (RS256 verify + access-token signature)", "≤ 1.25", get("BenchmarkAuthenticateVsFloor", "x-base"), "%.2f×", get("BenchmarkAuthenticateVsFloor", "x-base") <= 1.25},
		{"in process: allocations per authentication (the product's own, without the test's request and recorder)", "≤ 60", get("BenchmarkAuthenticateVsFloor", "allocs-authenticate"), "%.0f", get("BenchmarkAuthenticateVsFloor", "allocs-authenticate") <= 60},
		{"in process, cache on: one authentication / uncached crypto floor", "-", get("BenchmarkAuthenticateCachedVsFloor", "x-base"), "%.2f×", true},
		{"HashiCorp Vault's JWT plugin, login handler alone / the same crypto floor (hack/vaultbench)", "-", get("BenchmarkVaultLoginVsFloor", "x-base"), "%.2f×", true},
		{"one authentication / Vault's login handler alone (each against its floor, same run)", "< 1", vsVault, "%.2f×", vsVault > 0 && vsVault < 1},
		{"Vault's login handler: allocations per login", "-", get("BenchmarkVaultLoginVsFloor", "allocs-vault"), "%.0f", true},
		{"p99 at half the saturation rate, product (ms)", "≤ 5", p99Half, "%.1f ms", p99Half <= 5},
		{"p99 at half the saturation rate, bare reference (ms)", "-", field(half, "bare", func(r loadResult) float64 { return r.P99Ms }), "%.1f ms", true},
		{"secret fetch / Ed25519 verification of the access token (in process)", "≤ 1.2", get("BenchmarkFetchVsFloor/single", "x-base"), "%.2f×", get("BenchmarkFetchVsFloor/single", "x-base") <= 1.2},
		{"batch of 10 / one fetch (in process)", "≤ 1.5", get("BenchmarkFetchVsFloor/batch10", "x-base"), "%.2f×", get("BenchmarkFetchVsFloor/batch10", "x-base") <= 1.5},
		{"index lookup p99 at 1M hosts / at 1k", "≤ 2", get("BenchmarkDecideAtScale", "p99-1M/1k"), "%.2f×", get("BenchmarkDecideAtScale", "p99-1M/1k") <= 2},
		{"index memory per host at 1M hosts", "≤ 1024 B", get("BenchmarkDecideAtScale", "B/host"), "%.0f B", get("BenchmarkDecideAtScale", "B/host") <= 1024},
		{"index reader p99.9 while a writer applies ~1,000 updates/s", "< 10 µs", get("BenchmarkDecideWhileWriting", "p99.9-ns") / 1e3, "%.1f µs", get("BenchmarkDecideWhileWriting", "p99.9-ns") < 10e3},
		{"… the same reader's p99.9 while the writer pauses (same run: this machine's floor)", "-", get("BenchmarkDecideWhileWriting", "p99.9-ns-quiet") / 1e3, "%.1f µs", true},
		{fmt.Sprintf("%d AzureHosts created as fast as the API server takes them: first create to last Ready (s)", scale.Hosts), "≤ 60", scale.AllReadySeconds, "%.1f s", scale.Hosts > 0 && scale.AllReadySeconds <= 60},
		{"create → authenticates, p99 (ms)", "< 1000", scale.CreateToAuthP99Ms, "%.0f ms", scale.Hosts > 0 && scale.CreateToAuthP99Ms < 1000},
		{"create → authenticates, max (ms)", "< 5000", scale.CreateToAuthMaxMs, "%.0f ms", scale.Hosts > 0 && scale.CreateToAuthMaxMs < 5000},
		{"delete → denied, p99 (ms)", "< 1000", scale.DeleteToDenyP99Ms, "%.0f ms", scale.Hosts > 0 && scale.DeleteToDenyP99Ms < 1000},
		{"delete → denied, max (ms)", "< 5000", scale.DeleteToDenyMaxMs, "%.0f ms", scale.Hosts > 0 && scale.DeleteToDenyMaxMs < 5000},
		{"Secret grant → the host reads it, p99 (ms)", "< 1000", scale.GrantP99Ms, "%.0f ms", scale.Hosts > 0 && scale.GrantP99Ms < 1000},
		{"Secret grant → the host reads it, max (ms)", "< 5000", scale.GrantMaxMs, "%.0f ms", scale.Hosts > 0 && scale.GrantMaxMs < 5000},
		{"Secret grant withdrawn → denied, p99 (ms)", "< 1000", scale.RevokeP99Ms, "%.0f ms", scale.Hosts > 0 && scale.RevokeP99Ms < 1000},
		{"Secret grant withdrawn → denied, max (ms)", "< 5000", scale.RevokeMaxMs, "%.0f ms", scale.Hosts > 0 && scale.RevokeMaxMs < 5000},
		{fmt.Sprintf("a replica starting with %d AzureHosts stored: start → index synced and ready (s)", scale.StartupHosts), "-", scale.StartupReady, "%.1f s", true},
		{"… start → first authentication (s)", "-", scale.StartupFirstAuth, "%.1f s", true},
		{"… one plain List of those hosts by a client, for scale (s)", "-", scale.StartupList, "%.1f s", true},
		{"… heap per host, index and informer cache together (B)", "-", scale.StartupBytes, "%.0f B", true},
		{"manager heap with those hosts (MiB, in-process, includes the load tool's client)", "-", scale.HeapMiB, "%.0f MiB", true},
		{"status reconciles for those hosts", "-", scale.Reconciles, "%.0f", true},
		{"refusal timing, unknown / known service, bad signature", "≈ 1", get("BenchmarkRefusalTimings", "unknown/known-bad-signature"), "%.2f", true},
		{"refusal timing, unknown / known service, foreign issuer", "≈ 1", get("BenchmarkRefusalTimings", "unknown/known-foreign-issuer"), "%.2f", true},
		{"refusal timing, unknown / known service, malformed token", "≈ 1", get("BenchmarkRefusalTimings", "unknown/known-malformed"), "%.2f", true},
	}
	var s strings.Builder
	fmt.Fprintf(&s, "# Performance\n\nGenerated by `make bench` (hack/bench.sh, hack/benchreport) on %s, %d cores, %s, %s.\n", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version(), cpuModel())
	s.WriteString("Absolute times on this shared machine swing by tens of percent between runs; every figure below is a ratio to a reference measured in the same run, or a latency and memory measured in one run.\n\n")
	s.WriteString("## Targets (issue 11)\n\n| what | target | measured | met |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		met := "yes"
		if !r.met {
			met = "**no**"
		}
		if r.target == "-" || r.target == "≈ 1" {
			met = "-"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s |\n", r.what, r.target, fmt.Sprintf(r.format, r.value), met)
	}
	s.WriteString("\n## Load over HTTPS (hack/loadgen)\n\n")
	s.WriteString("Each mode is a process of its own on loopback, driven by the same keep-alive HTTPS clients presenting the tokens of 100 identities; rounds alternate between modes. `bare` is TLS, form parsing, go-jose RS256 parse+verify, one Ed25519 signature and JSON out, nothing else; `null` an empty 200 on the same transport. Server CPU comes from /proc; the load tool runs on the same two cores.\n\n")
	s.WriteString("| run | mode | req/s | p50 ms | p99 ms | max ms | errors | server µs/req |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, set := range []struct {
		name string
		rs   []loadResult
	}{{"saturation", sat}, {"half rate", half}} {
		for _, mode := range []string{"product", "product-cached", "bare", "null"} {
			if !slices.ContainsFunc(set.rs, func(r loadResult) bool { return r.Mode == mode }) {
				continue
			}
			fmt.Fprintf(&s, "| %s | %s | %.0f | %.2f | %.2f | %.2f | %.0f | %.1f |\n", set.name, mode,
				field(set.rs, mode, func(r loadResult) float64 { return r.PerSecond }),
				field(set.rs, mode, func(r loadResult) float64 { return r.P50Ms }),
				field(set.rs, mode, func(r loadResult) float64 { return r.P99Ms }),
				field(set.rs, mode, func(r loadResult) float64 { return r.MaxMs }),
				field(set.rs, mode, func(r loadResult) float64 { return float64(r.Errors) }),
				field(set.rs, mode, func(r loadResult) float64 { return r.ServerCPU }))
		}
	}
	s.WriteString("\n(medians over rounds)\n\n")
	if err := writeSweepAndStages(&s, in, out); err != nil {
		return err
	}
	s.WriteString("## In process (go test -bench)\n\n| benchmark | metric | value |\n| --- | --- | --- |\n")
	for _, name := range slices.Sorted(maps.Keys(b)) {
		units := b[name]
		for _, u := range slices.Sorted(maps.Keys(units)) {
			fmt.Fprintf(&s, "| %s | %s | %.4g |\n", name, u, units[u])
		}
	}
	s.WriteString(methodNotes)
	return os.WriteFile(out, []byte(s.String()), 0o644)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// methodNotes: § stands for a backtick.
var methodNotes = strings.ReplaceAll(`
## Method

- §make bench§ runs §hack/bench.sh§: the in-process benchmarks of §authn§ (each alternates the product's work with its crypto floor in one loop and reports both medians and their ratio) and §internal/policy§ (index lookups at 1k, 100k and 1M hosts; lookups while a writer applies about 1,000 updates a second); then §hack/loadgen§ flat out, at half the product's saturation rate, over a sweep of client counts and under a CPU profile; then this report.
- The crypto floor of an authentication is one RS256 verification of the Azure token plus one Ed25519 access-token signature; of a secret fetch, one Ed25519 verification of the access token.
- The verified-token cache (§--verified-token-cache§) is off in §product§ and on in §product-cached§, where the clients present the same 100 tokens again, as workloads do for hours.
- §hack/scalebench§ runs the manager in process against envtest's kube-apiserver and etcd (built from source by §hack/build-envtest.sh§) and creates the hosts with 16 writers and no client-side rate limit; propagation is timed from the API server acknowledging a create or delete to the first 200 or 401 of the authenticator, polled every 2 ms.
- The concurrency sweep runs §hack/loadgen --clients 1,2,4,...,128§ against §product§ and §bare§, one short round per count and mode, the modes alternating; before each round, as many requests as clients at once open the connections, so that no TLS handshake falls into a round.
- The CPU profile is of the §product§ server process (§loadgen --cpuprofile§, runtime/pprof at 100 Hz) over one flat-out round after its warm-up. Each sample goes to one stage: the audit log and the metrics take every sample with one of their frames on the stack; otherwise the frame nearest the leaf that belongs to a stage decides, and frames of no stage (the allocator, memmove, hashing, base64, bigmod, bufio) are passed over, so that allocating and hashing count to the stage that asked for them. The collector's work, in its background workers or as an allocation's mark assist, and stacks of the runtime alone (the scheduler) are §GC and runtime§. µs/request is the stage's share times the server's CPU per request in that round, from /proc.
- §hack/vaultbench§ (a module of its own, so that Vault's dependencies stay out of the product's §go.mod§) benchmarks HashiCorp Vault's JWT auth plugin's login handler alone, configured as an Azure authenticator (static RS256 key, the ARM audience, an §xms_mirid§ glob), against the same crypto floor in the same way; no Vault core, so no token issuance, storage, audit or HTTP on its side. Each of the two is stated against its own floor, measured in the same process; their ratio compares them.
- Secret grant propagation is timed from the API server acknowledging the Secret's §authn.dap.io/allowed-hosts§ change to the first 200 (granted) or 403 (withdrawn) of a fetch with a valid access token, polled every 2 ms.
- The start-up run stores 100,000 AzureHosts (created with no manager running), then starts a standby replica (another holds the leader lease, so only the index is built) and times its Start to ready and to the first authentication; its heap growth after a GC counts the informer cache as well as the index.
`, "§", "`")

// writeSweepAndStages adds the concurrency sweep and the CPU by stage, with
// their plots, where hack/bench.sh measured them (sweep.json; product.pprof
// and profile.json), and says so where it did not.
func writeSweepAndStages(s *strings.Builder, in, out string) error {
	plotDir := strings.TrimSuffix(out, filepath.Ext(out))
	rel := filepath.Base(plotDir) // the report links its plots relative to itself
	sweep, err := loads(filepath.Join(in, "sweep.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.WriteString("## Concurrency sweep\n\nNot measured in this run (no sweep.json).\n\n")
	case err != nil:
		return err
	default:
		if err := os.MkdirAll(plotDir, 0o755); err != nil {
			return err
		}
		if err := writeSweep(s, sweep, plotDir, rel); err != nil {
			return err
		}
	}
	prof, err := readProfile(filepath.Join(in, "product.pprof"))
	if errors.Is(err, fs.ErrNotExist) {
		s.WriteString("## Product server CPU by stage\n\nNot measured in this run (no product.pprof).\n\n")
		return nil
	}
	if err != nil {
		return fmt.Errorf("product.pprof: %w", err)
	}
	profiled, err := loads(filepath.Join(in, "profile.json"))
	if err != nil {
		return err
	}
	st, err := byStage(prof)
	if err != nil {
		return fmt.Errorf("product.pprof: %w", err)
	}
	if err := os.MkdirAll(plotDir, 0o755); err != nil {
		return err
	}
	return writeStages(s, st, profiled, prof.DurationNanos, plotDir, rel)
}

func writeSweep(s *strings.Builder, sweep []loadResult, plotDir, rel string) error {
	var counts []int
	var modes []string
	for _, r := range sweep {
		if !slices.Contains(counts, r.Clients) {
			counts = append(counts, r.Clients)
		}
	}
	slices.Sort(counts)
	for _, m := range []string{"product", "product-cached", "bare", "null"} {
		if slices.ContainsFunc(sweep, func(r loadResult) bool { return r.Mode == m }) {
			modes = append(modes, m)
		}
	}
	// at is the median of one figure over the rounds with so many clients.
	at := func(mode string, clients int, get func(loadResult) float64) float64 {
		var v []float64
		for _, r := range sweep {
			if r.Mode == mode && r.Clients == clients {
				v = append(v, get(r))
			}
		}
		return median(v)
	}
	perSecond := func(r loadResult) float64 { return r.PerSecond }
	p99 := func(r loadResult) float64 { return r.P99Ms }
	fmt.Fprintf(s, "## Concurrency sweep\n\nThe same load at %s keep-alive clients, flat out, one round per count and mode.\n\n", joinInts(counts))
	tput, lat := linePlot{title: "Throughput against concurrency", xLabel: "concurrent clients (log scale)", yLabel: "requests per second", log2X: true},
		linePlot{title: "p99 latency against concurrency", xLabel: "concurrent clients (log scale)", yLabel: "p99 latency (ms, log scale)", log2X: true, log10Y: true}
	for _, m := range modes {
		var xs, ys, ls []float64
		for _, c := range counts {
			xs, ys, ls = append(xs, float64(c)), append(ys, at(m, c, perSecond)), append(ls, at(m, c, p99))
		}
		tput.series = append(tput.series, series{name: m, xs: xs, ys: ys})
		lat.series = append(lat.series, series{name: m, xs: xs, ys: ls})
	}
	if err := os.WriteFile(filepath.Join(plotDir, "throughput.svg"), tput.svg(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(plotDir, "p99.svg"), lat.svg(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s, "![throughput against concurrency](%s/throughput.svg)\n\n![p99 latency against concurrency](%s/p99.svg)\n\n", rel, rel)
	s.WriteString("| clients | mode | req/s | p50 ms | p99 ms | server µs/req | server CPU / bare |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, c := range counts {
		for _, m := range modes {
			cpu := at(m, c, func(r loadResult) float64 { return r.ServerCPU })
			vsBare := "-"
			if bare := at("bare", c, func(r loadResult) float64 { return r.ServerCPU }); m != "bare" && bare > 0 {
				vsBare = fmt.Sprintf("%.2f×", cpu/bare)
			}
			fmt.Fprintf(s, "| %d | %s | %.0f | %.2f | %.2f | %.1f | %s |\n", c, m, at(m, c, perSecond),
				at(m, c, func(r loadResult) float64 { return r.P50Ms }), at(m, c, p99), cpu, vsBare)
		}
	}
	s.WriteString("\n")
	return nil
}

func writeStages(s *strings.Builder, st []stageCPU, profiled []loadResult, durationNanos int64, plotDir, rel string) error {
	perReq := field(profiled, "product", func(r loadResult) float64 { return r.ServerCPU })
	reqs := field(profiled, "product", func(r loadResult) float64 { return float64(r.Requests) })
	chart := barChart{title: fmt.Sprintf("Product server CPU per request, by stage (%.0f µs in all)", perReq), xLabel: "µs of CPU per request"}
	floor := 0.0
	for _, x := range st {
		if x.Name == "RS256 verification" || x.Name == "access-token signature" {
			floor += x.Share
		}
		chart.bars = append(chart.bars, bar{label: x.Name, value: x.Share * perReq, note: fmt.Sprintf("%.1f µs (%.1f%%)", x.Share*perReq, 100*x.Share)})
	}
	if err := os.WriteFile(filepath.Join(plotDir, "cpu-by-stage.svg"), chart.svg(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s, "## Product server CPU by stage\n\nA CPU profile of the `product` server over one flat-out round (%.1f s, %.0f requests, %.1f µs of server CPU per request from /proc), its samples shared out by stage. The crypto floor, RS256 verification and the access-token signature, is %.1f%% of it.\n\n", float64(durationNanos)/1e9, reqs, perReq, 100*floor)
	fmt.Fprintf(s, "![CPU per request by stage](%s/cpu-by-stage.svg)\n\n| stage | covers | share | µs/request |\n| --- | --- | --- | --- |\n", rel)
	for _, x := range st {
		fmt.Fprintf(s, "| %s | %s | %.1f%% | %.1f |\n", x.Name, x.Covers, 100*x.Share, x.Share*perReq)
	}
	s.WriteString("\n")
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
