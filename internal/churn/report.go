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

package churn

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is what a run saw.
type Report struct {
	Seed     uint64
	Clients  int
	Duration time.Duration // clients and writer running

	// Requests is the number of decisions judged; Outcomes counts them by
	// route and status ("authenticate 200", "fetch 404", ...).
	Requests int64
	Outcomes map[string]int64
	// Fresh, Stale, Mixed and Wrong count the verdicts (see Verdict).
	// Wrong must be 0.
	Fresh, Stale, Mixed, Wrong int64
	// Staleness is, over the stale decisions, how long the newest state
	// that decides so had been superseded (its successor acknowledged)
	// when the request was sent.
	Staleness Percentiles
	// Visibility is, over the churn writes, how long after its
	// acknowledgment a request was still decided without it (0 when
	// none was): the README's "takes effect within 1 s at p99". A server
	// that is slow, or wrong in a way an older state happens to explain,
	// shows here long before a 5 s window makes a decision Wrong.
	Visibility   Percentiles
	WrongSamples []string

	// Errors are answers that are not decisions, by kind ("transport
	// error", "503 AZAUTH018E", ...), with one sample each.
	Errors       map[string]int64
	ErrorSamples map[string]string

	// Writes counts the churn writes by kind; WriteLatency is the time
	// from sending each to the API server's acknowledgment.
	Writes       map[string]int
	WriteLatency Percentiles

	Revocation Revocation
	// CheckerLag is the longest a decision waited to be judged after its
	// answer (the checker keeps up when it stays well under a second).
	CheckerLag time.Duration

	// Memory of the whole process (the product in process), after a
	// garbage collection, once the world was set up and once the run was
	// over and its connections closed.
	HeapInuseBefore, HeapInuseAfter   uint64
	GoroutinesBefore, GoroutinesAfter int
	// HeapInuseDuring samples the heap (after a collection) every tenth
	// of the run.
	HeapInuseDuring []uint64
}

// Revocation summarises the revoking writes. A write's revocation delay
// is the time from its acknowledgment to the first request sent after
// which every request asking for what it took away was refused, among
// the requests sent within Bound of the acknowledgment. It includes the
// wait for the first such request (the clients aim half their requests
// at what the latest write changed). Before that first refused request, a
// request may still have been granted ("leaks", allowed within Bound).
type Revocation struct {
	Writes int // revoking writes followed
	// Delay is over the writes with at least one such request and a
	// refused last one.
	Delay Percentiles
	// Unobserved: no request asked for what the write took away within
	// Bound; Censored: the last one asking was still granted.
	Unobserved, Censored int
	Leaks                int64
	MaxLeak              time.Duration
}

// Percentiles of a set of durations.
type Percentiles struct {
	N             int
	P50, P99, Max time.Duration
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Percentiles{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1]}
}

// percentilesOfAll are the percentiles of n values of which tail are the
// non-zero ones (the rest are 0).
func percentilesOfAll(tail []time.Duration, n int) Percentiles {
	if n == 0 {
		return Percentiles{}
	}
	s := slices.Clone(tail)
	slices.Sort(s)
	zeros := n - len(s)
	at := func(q float64) time.Duration {
		if rank := min(n-1, int(q*float64(n))); rank >= zeros {
			return s[rank-zeros]
		}
		return 0
	}
	return Percentiles{N: n, P50: at(0.50), P99: at(0.99), Max: at(1)}
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %v, p99 %v, max %v (n=%d)", round(p.P50), round(p.P99), round(p.Max), p.N)
}

func round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

// HeapGrowth is HeapInuse after the run minus before, in bytes.
func (r *Report) HeapGrowth() int64 {
	return int64(r.HeapInuseAfter) - int64(r.HeapInuseBefore) //nolint:gosec // heaps are far below 2^63 bytes
}

// Unexplained counts the errors that are not a 503 the README documents.
func (r *Report) Unexplained() int64 {
	var n int64
	for kind, c := range r.Errors {
		if _, ok := documented[kind]; !ok {
			n += c
		}
	}
	return n
}

func (r *Report) errorCount() int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// String is the report for a log: one line of totals, then the details.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "churn: %d clients for %v (seed %d): %d requests (%.0f/s), %d wrong, %d errors (%d unexplained), %d writes (%.1f/s)\n",
		r.Clients, r.Duration.Round(time.Millisecond), r.Seed, r.Requests, float64(r.Requests)/r.Duration.Seconds(),
		r.Wrong, r.errorCount(), r.Unexplained(), sum(r.Writes), float64(sum(r.Writes))/r.Duration.Seconds())
	fmt.Fprintf(&b, "  decisions: %d fresh, %d stale within the %v bound (by %v), %d explained only by per-object versions, %d wrong\n",
		r.Fresh, r.Stale, Bound, r.Staleness, r.Mixed, r.Wrong)
	fmt.Fprintf(&b, "  writes not yet in effect for a request sent after their acknowledgment: %v\n", r.Visibility)
	fmt.Fprintf(&b, "  outcomes: %s\n", counts(r.Outcomes))
	fmt.Fprintf(&b, "  writes: %s; API latency %v\n", counts(r.Writes), r.WriteLatency)
	rv := r.Revocation
	fmt.Fprintf(&b, "  revocation delay: %v; of %d revoking writes %d unobserved, %d censored; %d requests granted after a revocation's acknowledgment (longest %v after)\n",
		rv.Delay, rv.Writes, rv.Unobserved, rv.Censored, rv.Leaks, round(rv.MaxLeak))
	fmt.Fprintf(&b, "  checker: judged every decision within %v of its answer\n", round(r.CheckerLag))
	var during []string
	for _, h := range r.HeapInuseDuring {
		during = append(during, fmt.Sprintf("%.1f", mib(h)))
	}
	fmt.Fprintf(&b, "  memory: heap in use %.1f MiB -> %.1f MiB (%+.1f MiB; during the run: %s MiB); goroutines %d -> %d\n",
		mib(r.HeapInuseBefore), mib(r.HeapInuseAfter), float64(r.HeapGrowth())/(1<<20), strings.Join(during, ", "), r.GoroutinesBefore, r.GoroutinesAfter)
	for _, kind := range slices.Sorted(maps.Keys(r.Errors)) {
		why := documented[kind]
		if why == "" {
			why = "UNEXPLAINED"
		}
		fmt.Fprintf(&b, "  error %q x%d: %s; e.g. %s\n", kind, r.Errors[kind], why, r.ErrorSamples[kind])
	}
	for _, s := range r.WrongSamples {
		fmt.Fprintf(&b, "  WRONG: %s\n", s)
	}
	return strings.TrimRight(b.String(), "\n")
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func sum[K comparable, V int | int64](m map[K]V) V {
	var n V
	for _, v := range m {
		n += v
	}
	return n
}

func counts[V int | int64](m map[string]V) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// report fills the checker's part of a report.
func (c *Checker) report(r *Report) {
	r.Requests = c.requests
	r.Outcomes = maps.Clone(c.outcomes)
	r.Fresh, r.Stale, r.Mixed, r.Wrong = c.verdicts[Fresh], c.verdicts[Stale], c.verdicts[Mixed], c.verdicts[Wrong]
	r.Staleness = percentiles(c.lags)
	r.WrongSamples = slices.Clone(c.wrongSamples)
	r.Errors = maps.Clone(c.errors)
	r.ErrorSamples = maps.Clone(c.errorSamples)
	r.Revocation = Revocation{
		Writes: len(c.delays) + c.unobserved + c.censored, Delay: percentiles(c.delays),
		Unobserved: c.unobserved, Censored: c.censored, Leaks: c.leaks, MaxLeak: c.maxLeak,
	}
}
