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
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_000_000, 0)

func at(seconds float64) time.Time {
	return t0.Add(time.Duration(math.Round(seconds*1e6)) * time.Microsecond)
}

// world0 is a state in which host ns/h0 (uid u1, generation 3) may log in
// through service s and read ns/x/k.
func world0() *State {
	v := granted()
	s := EmptyState()
	s.Authenticators["s"] = v.Authenticator
	s.Hosts[HostID{"ns", "h0"}] = v.Host
	s.Namespaces["ns"] = v.Namespace
	s.Secrets[SecretID{"ns", "x"}] = v.Secret
	return s
}

// write appends a write sent at sent and acknowledged at acked that
// changes s with change.
func write(h *History, kind, key string, sent, acked time.Time, change func(*State)) *State {
	next := h.Latest().clone()
	change(next)
	i := h.Begin(kind, []string{key}, true, sent)
	h.Ack(i, acked, next)
	return next
}

// ungrant takes ns/x away from h0 (a revocation, acknowledged 10 ms after
// it was sent).
func ungrant(h *History, sent float64) {
	write(h, KindSecretGrant, secretKey(SecretID{"ns", "x"}), at(sent), at(sent+0.01), func(s *State) {
		x := *s.Secrets[SecretID{"ns", "x"}]
		x.AllowedHosts = "nobody"
		s.Secrets[SecretID{"ns", "x"}] = &x
	})
}

func fetched(sent, answered float64, status int) Record {
	o := Outcome{Status: status}
	if status == 200 {
		o.Value = "v"
	}
	return Record{Request: fetchReq(), Sent: at(sent), Answered: at(answered), Observed: o}
}

// The window of a request: states from the one in force Bound before it
// was sent (a write sent but not acknowledged leaves its predecessor
// possible) to the last whose write was sent before the answer.
func TestCheckJudgesAgainstTheWindow(t *testing.T) {
	for _, c := range []struct {
		name string
		rec  Record
		want Verdict
	}{
		{"granted before the write", fetched(0.5, 0.6, 200), Fresh},
		{"refused before the write was sent: no state says so", fetched(0.5, 0.9, 403), Wrong},
		{"refused while the write is in flight", fetched(1.001, 1.002, 403), Fresh},
		{"granted while the write is in flight", fetched(1.001, 1.002, 200), Fresh},
		{"refused after the write", fetched(2, 2.01, 403), Fresh},
		{"granted 1 s after the acknowledgment: stale, within the bound", fetched(2.01, 2.02, 200), Stale},
		{"granted 4.98 s after it", fetched(5.99, 6.0, 200), Stale},
		{"granted 5.1 s after it: wrong", fetched(6.11, 6.12, 200), Wrong},
		{"404: no state says so", fetched(2, 2.01, 404), Wrong},
		{"200 with another value", Record{Request: fetchReq(), Sent: at(0.5), Answered: at(0.6), Observed: Outcome{Status: 200, Value: "w"}}, Wrong},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := NewHistory(world0())
			ungrant(h, 1)
			ch := NewChecker(h, acct)
			if got := ch.Check(c.rec); got != c.want {
				t.Fatalf("verdict %v, want %v", got, c.want)
			}
			var rep Report
			ch.report(&rep)
			if c.want == Wrong && (rep.Wrong != 1 || len(rep.WrongSamples) != 1 || !strings.Contains(rep.WrongSamples[0], "fetch ns/x/k")) {
				t.Fatalf("a wrong decision is not reported as one: %+v", rep)
			}
		})
	}
}

// An authentication whose access token names another host version than
// any state's is wrong, even with the right status.
func TestCheckJudgesTheIssuedTokenToo(t *testing.T) {
	h := NewHistory(world0())
	ch := NewChecker(h, acct)
	ok := Record{Request: authReq(), Sent: at(1), Answered: at(1.1), Observed: Outcome{Status: 200, UID: "u1", Generation: 3}}
	if v := ch.Check(ok); v != Fresh {
		t.Fatalf("the right token: %v", v)
	}
	old := ok
	old.Observed.Generation = 2
	if v := ch.Check(old); v != Wrong {
		t.Fatalf("a token of an older generation: %v, want Wrong", v)
	}
}

// Each kind of object reaches the server through its own watch, so two
// writes to different objects may be seen in either order: a decision
// only such a mix explains is Mixed, not Wrong, while the bound allows
// the older version.
func TestCheckExplainsReorderedObjectsAsMixed(t *testing.T) {
	h := NewHistory(world0())
	// Write 1: the host moves to another resource group (401 from then).
	write(h, KindHostResourceGroup, hostKey(HostID{"ns", "h0"}), at(1), at(1.01), func(s *State) {
		x := *s.Hosts[HostID{"ns", "h0"}]
		x.ResourceGroup, x.Generation = "rg-2", 4
		s.Hosts[HostID{"ns", "h0"}] = &x
	})
	// Write 2: its namespace is no longer admitted (still 401: the match
	// comes first).
	write(h, KindNamespaceLabel, namespaceKey("ns"), at(2), at(2.01), func(s *State) {
		s.Namespaces["ns"] = &Namespace{Labels: map[string]string{"run": "p", "admit": "no"}}
	})
	ch := NewChecker(h, acct)
	// 403 is the namespace change seen before the host change.
	forbidden := Record{Request: authReq(), Sent: at(2.5), Answered: at(2.6), Observed: Outcome{Status: 403}}
	if v := ch.Check(forbidden); v != Mixed {
		t.Fatalf("verdict %v, want Mixed", v)
	}
	// Once the host change is older than the bound, the mix is wrong.
	forbidden.Sent, forbidden.Answered = at(6.5), at(6.6)
	if v := ch.Check(forbidden); v != Wrong {
		t.Fatalf("verdict %v, want Wrong", v)
	}
}

// A request answered after a write was sent waits for its acknowledgment
// (the new state is not known before), then is judged with it.
func TestCheckWaitsForTheWriteInFlight(t *testing.T) {
	h := NewHistory(world0())
	ch := NewChecker(h, acct)
	i := h.Begin(KindSecretGrant, []string{secretKey(SecretID{"ns", "x"})}, true, at(1))
	done := make(chan Verdict)
	go func() { done <- ch.Check(fetched(1.001, 1.002, 403)) }()
	select {
	case v := <-done:
		t.Fatalf("judged (%v) before the write was acknowledged", v)
	case <-time.After(50 * time.Millisecond):
	}
	next := h.Latest().clone()
	x := *next.Secrets[SecretID{"ns", "x"}]
	x.AllowedHosts = "nobody"
	next.Secrets[SecretID{"ns", "x"}] = &x
	h.Ack(i, at(1.01), next)
	select {
	case v := <-done:
		if v != Fresh {
			t.Fatalf("verdict %v, want Fresh", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after the acknowledgment")
	}
}

// A failed write makes later answers unjudgeable, not wrong.
func TestCheckAfterAFailedWriteJudgesNothing(t *testing.T) {
	h := NewHistory(world0())
	ch := NewChecker(h, acct)
	h.Begin(KindSecretGrant, []string{secretKey(SecretID{"ns", "x"})}, true, at(1))
	h.Fail()
	if v := ch.Check(fetched(1.5, 1.6, 403)); v != Unjudged {
		t.Fatalf("verdict %v, want Unjudged", v)
	}
	var rep Report
	ch.report(&rep)
	if rep.Wrong != 0 || rep.Unexplained() != 1 {
		t.Fatalf("report %+v", rep)
	}
}

// Errors are counted by kind, with a sample; the README's 503s are
// explained, everything else is unexplained.
func TestErrorsAreCountedAndExplained(t *testing.T) {
	h := NewHistory(world0())
	ch := NewChecker(h, acct)
	for _, r := range []Record{
		{Err: "503 AZAUTH018E", Detail: "503 namespace"},
		{Err: "503 AZAUTH018E"},
		{Err: ErrTransport, Detail: "connection reset"},
	} {
		if v := ch.Check(r); v != Unjudged {
			t.Fatalf("an error judged %v", v)
		}
	}
	var rep Report
	ch.report(&rep)
	if rep.Requests != 0 || rep.Errors["503 AZAUTH018E"] != 2 || rep.Unexplained() != 1 || rep.ErrorSamples[ErrTransport] != "connection reset" {
		t.Fatalf("report %+v", rep)
	}
	if s := rep.String(); !strings.Contains(s, "cannot be read now") || !strings.Contains(s, "UNEXPLAINED") {
		t.Fatalf("report text:\n%s", s)
	}
}

// classify keeps decisions (200, the generic 401, documented 403 and 404)
// and names everything else.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		route  Route
		status int
		body   string
		want   string
	}{
		{Fetch, 200, "v", ""},
		{Authenticate, 401, GenericUnauthorized, ""},
		{Authenticate, 401, `{"error":{"code":"unauthorized","message":"CONJ00007E host not found"}}`, ErrBody401},
		{Authenticate, 403, `{"error":{"code":"forbidden","message":"CONJ00006E 'host/a/b' does not have 'authenticate' privilege on x"}}`, ""},
		{Fetch, 403, `{"error":{"code":"forbidden","message":"AZAUTH999E"}}`, ErrBody403},
		{Fetch, 404, `{"error":{"code":"not_found","message":"CONJ00076E Variable a/b/c is empty or not found."}}`, ""},
		{Authenticate, 404, `{"error":{"code":"not_found","message":"CONJ00076E Variable"}}`, "404 CONJ00076E"},
		{Fetch, 503, `{"error":{"code":"service_unavailable","message":"AZAUTH018E The Secrets of namespace 'a' cannot be read now"}}`, "503 AZAUTH018E"},
		{Fetch, 500, `oops`, "500"},
	} {
		if got := classify(c.route, c.status, []byte(c.body)); got != c.want {
			t.Errorf("classify(%v, %d, %s) = %q, want %q", c.route, c.status, c.body, got, c.want)
		}
	}
}

// The revocation delay of a write: from its acknowledgment to the first
// request, of those asking for what it took away, after which all were
// refused; requests granted before that are leaks.
func TestRevocationDelay(t *testing.T) {
	h := NewHistory(world0())
	ungrant(h, 1) // acknowledged at 1.01
	ch := NewChecker(h, acct)
	for _, r := range []Record{
		fetched(1.02, 1.021, 200), // a leak, 10 ms after the acknowledgment
		fetched(1.03, 1.031, 403),
		fetched(1.025, 1.04, 200), // a later-answered leak, sent at 1.025
		fetched(1.05, 1.051, 403),
		fetched(1.04, 1.06, 403),
	} {
		if v := ch.Check(r); v == Wrong {
			t.Fatalf("%+v judged wrong", r)
		}
	}
	// Another revoking write nobody asks about.
	write(h, KindHostLabel, hostKey(HostID{"ns", "h9"}), at(2), at(2.01), func(s *State) {
		s.Hosts[HostID{"ns", "h9"}] = &Host{UID: "u9", Generation: 1}
	})
	ch.Check(fetched(2.1, 2.11, 403))
	ch.Finish()
	var rep Report
	ch.report(&rep)
	rv := rep.Revocation
	if rv.Writes != 2 || rv.Unobserved != 1 || rv.Delay.N != 1 || rv.Leaks != 2 {
		t.Fatalf("revocation %+v", rv)
	}
	if rv.Delay.Max != 20*time.Millisecond || rv.MaxLeak != 15*time.Millisecond {
		t.Fatalf("delay %v (want 20ms: 1.01 -> 1.03), longest leak %v (want 15ms)", rv.Delay.Max, rv.MaxLeak)
	}
}

// A write whose last probe within the bound was still granted is
// censored: its delay is not known (and later grants are wrong).
func TestRevocationStillGrantedIsCensored(t *testing.T) {
	h := NewHistory(world0())
	ungrant(h, 1)
	ch := NewChecker(h, acct)
	ch.Check(fetched(1.5, 1.6, 403))
	ch.Check(fetched(2, 2.1, 200))
	ch.Finish()
	var rep Report
	ch.report(&rep)
	if rep.Revocation.Censored != 1 || rep.Revocation.Delay.N != 0 {
		t.Fatalf("revocation %+v", rep.Revocation)
	}
}

// Pruning forgets old states without changing the verdicts of requests
// that cannot need them.
func TestPruneKeepsWhatRecentRequestsNeed(t *testing.T) {
	h := NewHistory(world0())
	for i := range 20 {
		write(h, KindHostLabel, hostKey(HostID{"ns", "h1"}), at(float64(i)), at(float64(i)+0.01), func(s *State) {
			s.Hosts[HostID{"ns", "h1"}] = &Host{UID: "u", Generation: int64(i + 1)}
		})
	}
	ungrant(h, 20)
	h.Prune(at(14))
	ch := NewChecker(h, acct)
	if v := ch.Check(fetched(21, 21.1, 200)); v != Stale {
		t.Fatalf("a leak within the bound after pruning: %v", v)
	}
	if v := ch.Check(fetched(26, 26.1, 200)); v != Wrong {
		t.Fatalf("a grant beyond the bound after pruning: %v", v)
	}
	if v := ch.Check(fetched(10, 10.1, 200)); v != Unjudged {
		t.Fatalf("a request older than what was kept: %v", v)
	}
}

// Staleness: how long the newest state deciding so had been superseded
// when a stale request was sent; visibility: per write, the longest it was
// not yet in effect after its acknowledgment (0 for the writes always in
// effect), percentiles over the writes.
func TestStalenessAndVisibility(t *testing.T) {
	h := NewHistory(world0())
	ungrant(h, 1) // acknowledged at 1.01
	ch := NewChecker(h, acct)
	ch.Check(fetched(3.01, 3.02, 200))
	ch.Check(fetched(3.1, 3.2, 403))
	ch.Check(fetched(2.01, 2.02, 200))
	var rep Report
	ch.report(&rep)
	if rep.Stale != 2 || rep.Staleness.Max != 2*time.Second || rep.Staleness.P50 != 2*time.Second || rep.Staleness.N != 2 {
		t.Fatalf("staleness %+v of %d stale decisions", rep.Staleness, rep.Stale)
	}
	for n, want := range map[int]Percentiles{
		1:   {N: 1, P50: 2 * time.Second, P99: 2 * time.Second, Max: 2 * time.Second},
		100: {N: 100, P99: 2 * time.Second, Max: 2 * time.Second},
		200: {N: 200, Max: 2 * time.Second},
	} {
		if got := ch.visibility(n); got != want {
			t.Errorf("visibility over %d writes: %+v, want %+v", n, got, want)
		}
	}
}
