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

// Command loadgen measures the authenticator from outside, on loopback
// only: it starts each server mode as a process of its own (the product
// without and with the verified-token cache, a bare reference server that
// does only the cryptography any authenticator must do, and a null
// handler), drives it with N keep-alive HTTPS clients presenting the tokens
// of K identities, and alternates rounds between the modes so that every
// product figure comes with its ratio to the reference measured in the same
// run. Each round is bounded in time and requests; the whole run stops by
// itself.
//
//	go run ./hack/loadgen [--clients 32|1,2,4,...] [--identities 100] [--round 3s] [--rounds 3] [--rate N] [--modes ...] [--cpuprofile FILE] [--json FILE]
//
// Per round it prints throughput, p50/p90/p99/max latency, errors, the
// server's CPU per request (from /proc) and the load tool's own. A list of
// client counts is a concurrency sweep: the rounds are run for each count in
// turn, against the same server processes. --cpuprofile has the product
// server profile its own CPU over its measured rounds (runtime/pprof).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
)

func main() {
	if len(os.Args) > 3 && os.Args[1] == "serve" {
		identities, _ := strconv.Atoi(os.Args[3])
		profile := ""
		if len(os.Args) > 4 {
			profile = os.Args[4]
		}
		if err := serve(os.Args[2], identities, profile); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen serve:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "churn" {
		if err := runChurn(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen churn:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Result is one round against one mode.
type Result struct {
	Mode      string  `json:"mode"`
	Round     int     `json:"round"`
	Clients   int     `json:"clients"`
	Rate      int     `json:"rate"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	PerSecond float64 `json:"per_second"`
	P50Ms     float64 `json:"p50_ms"`
	P90Ms     float64 `json:"p90_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	ServerCPU float64 `json:"server_cpu_us_per_request"`
	LoaderCPU float64 `json:"loader_cpu_us_per_request"`
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	clientList := fs.String("clients", "32", "keep-alive HTTPS clients (1 to 512), or a comma-separated list of counts to sweep")
	identities := fs.Int("identities", 100, "distinct Azure identities whose tokens the clients present (1 to 10000)")
	round := fs.Duration("round", 3*time.Second, "length of one round (100ms to 1m)")
	rounds := fs.Int("rounds", 3, "rounds per mode, alternating between modes (1 to 20)")
	maxRequests := fs.Int64("max-requests", 1_000_000, "requests per round at most")
	modes := fs.String("modes", strings.Join([]string{modeProduct, modeBare, modeProductCached, modeNull}, ","), "server modes, in the order each round visits them")
	rate := fs.Int("rate", 0, "requests per second across all clients (0: as fast as the server answers)")
	jsonOut := fs.String("json", "", "also write the results to this file as JSON")
	cpuProfile := fs.String("cpuprofile", "", "have the product server write a CPU profile of its measured rounds to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	counts, err := parseClients(*clientList)
	if err != nil {
		return err
	}
	switch {
	case *identities < 1 || *identities > 10000, *round < 100*time.Millisecond || *round > time.Minute, *rounds < 1 || *rounds > 20:
		return errors.New("a flag is out of its range (see -h)")
	}
	names := strings.Split(*modes, ",")
	if *cpuProfile != "" && !slices.Contains(names, modeProduct) {
		return errors.New("--cpuprofile profiles the product mode, which --modes leaves out")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	servers := map[string]*child{}
	defer func() {
		for _, c := range servers {
			c.stop()
		}
	}()
	for _, m := range names {
		profile := ""
		if m == modeProduct {
			profile = *cpuProfile
		}
		if servers[m], err = start(self, m, *identities, profile); err != nil {
			return fmt.Errorf("starting %s: %w", m, err)
		}
	}
	var results []Result
	for _, clients := range counts {
		if len(counts) > 1 {
			_, _ = fmt.Fprintf(out, "== %d clients\n", clients)
		}
		_, _ = fmt.Fprintf(out, "%-15s %5s %9s %8s %8s %8s %8s %7s %12s %12s\n", "mode", "round", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "server µs/req", "loader µs/req")
		for r := 1; r <= *rounds; r++ {
			for _, m := range names {
				c := servers[m]
				if err := c.warmUp(clients); err != nil {
					return fmt.Errorf("%s round %d: %w", m, r, err)
				}
				// The profile starts after the first warm-up and runs on
				// across the product's rounds: between them its server
				// idles while the other modes run, which adds no samples.
				if c.profile != "" && !c.profiling {
					if err := c.command("profile-start"); err != nil {
						return err
					}
					c.profiling = true
				}
				res, err := c.round(clients, *round, *maxRequests, *rate)
				if err != nil {
					return fmt.Errorf("%s round %d: %w", m, r, err)
				}
				res.Mode, res.Round = m, r
				results = append(results, res)
				_, _ = fmt.Fprintf(out, "%-15s %5d %9.0f %8.2f %8.2f %8.2f %8.2f %7d %12.1f %12.1f\n", m, r, res.PerSecond, res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs, res.Errors, res.ServerCPU, res.LoaderCPU)
			}
		}
	}
	for _, c := range servers {
		if c.profiling {
			// Waits for the server to have written the profile.
			if err := c.command("profile-stop"); err != nil {
				return err
			}
			c.profiling = false
		}
	}
	summarize(out, results)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		return os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// parseClients reads --clients: one count, or a comma-separated list of
// counts for a concurrency sweep.
func parseClients(s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 512 {
			return nil, fmt.Errorf("--clients %q: each count must be a number from 1 to 512", s)
		}
		if slices.Contains(counts, n) {
			return nil, fmt.Errorf("--clients %q: %d is there twice", s, n)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// summarize prints, per round, the server CPU per request of each mode
// over the bare reference's in the same round (and with as many clients),
// and their median; per client count when there are several.
func summarize(out io.Writer, results []Result) {
	type key struct{ clients, round int }
	byRound := map[key]map[string]Result{}
	var counts []int
	for _, r := range results {
		k := key{r.Clients, r.Round}
		if byRound[k] == nil {
			byRound[k] = map[string]Result{}
		}
		byRound[k][r.Mode] = r
		if !slices.Contains(counts, r.Clients) {
			counts = append(counts, r.Clients)
		}
	}
	for _, clients := range counts {
		ratios := map[string][]float64{}
		for k, modes := range byRound {
			bare, ok := modes[modeBare]
			if k.clients != clients || !ok || bare.ServerCPU == 0 {
				continue
			}
			for m, r := range modes {
				if m != modeBare {
					ratios[m] = append(ratios[m], r.ServerCPU/bare.ServerCPU)
				}
			}
		}
		if len(counts) > 1 {
			_, _ = fmt.Fprintf(out, "\n%d clients: server CPU per request / bare reference, same round (median, min-max):\n", clients)
		} else {
			_, _ = fmt.Fprintln(out, "\nserver CPU per request / bare reference, same round (median, min-max):")
		}
		for _, m := range slices.Sorted(maps.Keys(ratios)) {
			v := ratios[m]
			slices.Sort(v)
			_, _ = fmt.Fprintf(out, "  %-15s %.2f  (%.2f-%.2f)\n", m, v[len(v)/2], v[0], v[len(v)-1])
		}
	}
}

// child is a server process and a client pool for it.
type child struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	stdout    *bufio.Reader
	ready     ready
	client    *http.Client
	profile   string // where the server writes its CPU profile, if anywhere
	profiling bool
}

func start(self, mode string, identities int, profile string) (*child, error) {
	args := []string{"serve", mode, strconv.Itoa(identities)}
	if profile != "" {
		args = append(args, profile)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), profile: profile}
	line, err := c.stdout.ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &c.ready) != nil {
		c.stop()
		return nil, fmt.Errorf("no ready line from the server: %v", err)
	}
	tr, err := loopback.TransportTrusting([]byte(c.ready.CAPEM))
	if err != nil {
		c.stop()
		return nil, err
	}
	tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = 512, 512
	c.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return c, nil
}

// command sends the server one line of its control protocol (see serve)
// and waits for its answer.
func (c *child) command(cmd string) error {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: no answer from the server: %w", cmd, err)
	}
	if line = strings.TrimSpace(line); line != "ok" {
		return fmt.Errorf("%s: %s", cmd, line)
	}
	return nil
}

func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

func (c *child) post(i int) (time.Duration, bool) {
	body := "jwt=" + c.ready.Tokens[i%len(c.ready.Tokens)]
	start := time.Now()
	resp, err := c.client.Post(c.ready.URL+c.ready.Path, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		return 0, false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return time.Since(start), resp.StatusCode == http.StatusOK
}

// warmUp fetches provider keys and fills caches, and opens about as many
// connections as there will be clients, all at once, so that no TLS
// handshake falls into the measured round: with a sweep's 128 clients,
// handshakes there would be the p99.
func (c *child) warmUp(clients int) error {
	if _, ok := c.post(0); !ok { // alone: the provider keys are fetched once
		return errors.New("the warm-up request failed")
	}
	var failed atomic.Bool
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			if _, ok := c.post(i); !ok {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return errors.New("a warm-up request failed")
	}
	return nil
}

// round drives the warmed-up server with clients for d (or maxRequests),
// and measures it.
func (c *child) round(clients int, d time.Duration, maxRequests int64, rate int) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var paced chan struct{} // nil: flat out
	if rate > 0 {
		paced = make(chan struct{}, clients)
		// Every millisecond, release the requests due since the round
		// began: a ticker per request drops ticks on a busy machine (its
		// channel holds one), which capped the rate near 3,000/s here.
		go func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			begin, released := time.Now(), 0
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				for due := int(time.Since(begin).Seconds() * float64(rate)); released < due; released++ {
					select {
					case paced <- struct{}{}:
					default: // the clients fell behind: the rate is not reached
					}
				}
			}
		}()
	}
	var count, errs atomic.Int64
	lat := make([][]time.Duration, clients)
	serverBefore, loaderBefore := cpuOf(c.cmd.Process.Pid), cpuOf(os.Getpid())
	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i += clients {
				if paced != nil {
					select {
					case <-paced:
					case <-ctx.Done():
						return
					}
				}
				if count.Add(1) > maxRequests {
					return
				}
				t, ok := c.post(i)
				if !ok {
					errs.Add(1)
					continue
				}
				lat[w] = append(lat[w], t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	serverCPU, loaderCPU := cpuOf(c.cmd.Process.Pid)-serverBefore, cpuOf(os.Getpid())-loaderBefore
	all := slices.Concat(lat...)
	slices.Sort(all)
	n := int64(len(all))
	if n == 0 {
		return Result{}, errors.New("no request succeeded")
	}
	q := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1e3
	}
	return Result{Clients: clients, Rate: rate, Requests: n, Errors: errs.Load(), PerSecond: float64(n) / elapsed.Seconds(),
		P50Ms: q(0.50), P90Ms: q(0.90), P99Ms: q(0.99), MaxMs: float64(all[len(all)-1].Microseconds()) / 1e3,
		ServerCPU: float64(serverCPU.Microseconds()) / float64(n), LoaderCPU: float64(loaderCPU.Microseconds()) / float64(n)}, nil
}

// cpuOf is the user+system CPU time of a process, from /proc (100 Hz).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
