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
	"net/http"
	"slices"
	"time"
)

// Record is one request as a client made it.
type Record struct {
	Request Request
	// Sent: just before the request was written; Answered: once its whole
	// response was read.
	Sent, Answered time.Time
	Observed       Outcome
	// Err is why the answer is not a decision (a transport error, a 5xx,
	// a status no route documents); "" for a decision.
	Err string
	// Detail is the error's text, for the report's samples.
	Detail string
}

// Verdict is what Check made of one record.
type Verdict int

// Verdicts, from the best to the worst.
const (
	// Fresh: the decision of a state in force while the request was
	// under way (from the last write acknowledged before it was sent).
	Fresh Verdict = iota
	// Stale: the decision of a state superseded (its successor
	// acknowledged) less than Bound before the request was sent.
	Stale
	// Mixed: no single state's decision, but that of a combination of
	// object versions each possibly in force in the window: each kind of
	// object reaches the server through a watch of its own, so two
	// changes to different objects may be seen in either order.
	Mixed
	// Wrong: no state and no combination in the window decides so.
	Wrong
	// Unjudged: an error (not a decision), or the history was lost.
	Unjudged
)

// Checker judges records against a History. Not safe for concurrent use:
// one goroutine checks, in the order records arrive.
type Checker struct {
	h       *History
	account string

	requests int64
	outcomes map[string]int64
	verdicts [Unjudged + 1]int64
	lags     []time.Duration // of the stale decisions
	// late: per write (by index), the longest it was not yet in effect
	// for a request sent after its acknowledgment (see Report.Visibility).
	late         map[int]time.Duration
	wrongSamples []string
	errors       map[string]int64
	errorSamples map[string]string

	// Revocations: per revoking write (by index), what the requests asking
	// for what it took away got, while the bound ran.
	trackers   map[int]*tracker
	closedTo   int // trackers of writes up to this index are closed
	delays     []time.Duration
	unobserved int
	censored   int
	leaks      int64
	maxLeak    time.Duration
}

// NewChecker judges decisions of a server that serves account.
func NewChecker(h *History, account string) *Checker {
	return &Checker{h: h, account: account, outcomes: map[string]int64{}, errors: map[string]int64{},
		errorSamples: map[string]string{}, trackers: map[int]*tracker{}, late: map[int]time.Duration{}}
}

// maxSamples bounds the descriptions of wrong decisions a report keeps.
const maxSamples = 10

// Check judges r: its decision must be the one Expect gives under a state
// possibly in force at some instant of [r.Sent - Bound, r.Answered], a
// write counting as possibly in force from its Sent and its predecessor
// until its Acked (History.windowFor). Check waits while a write sent
// before r.Answered is unacknowledged.
func (c *Checker) Check(r Record) Verdict {
	if r.Err != "" {
		c.errors[r.Err]++
		if _, ok := c.errorSamples[r.Err]; !ok {
			c.errorSamples[r.Err] = r.Detail
		}
		return Unjudged
	}
	w := c.h.windowFor(r.Sent, r.Answered)
	if !w.ok {
		c.errors["unjudged: the history was lost (a write failed or was pruned)"]++
		return Unjudged
	}
	c.requests++
	c.outcomes[fmt.Sprintf("%s %d", r.Request.Route, r.Observed.Status)]++
	v := c.judge(r, w)
	c.verdicts[v]++
	if v == Wrong && len(c.wrongSamples) < maxSamples {
		c.wrongSamples = append(c.wrongSamples, describe(r, w, c.account))
	}
	c.probe(r, w)
	return v
}

func (c *Checker) judge(r Record, w window) Verdict {
	decides := func(s *State) bool { return Expect(s.View(r.Request), r.Request, c.account) == r.Observed }
	for i := w.hi; i >= w.fresh; i-- {
		if decides(w.states[i-w.lo]) {
			return Fresh
		}
	}
	for i := w.fresh - 1; i >= w.lo; i-- {
		if decides(w.states[i-w.lo]) {
			// The state's successor was acknowledged this long before
			// the request was sent.
			// The server had not applied all of writes i+1.. for this
			// request; with writes applied in order, i+1 is the one.
			next := w.writes[i+1-w.lo]
			lag := r.Sent.Sub(next.Acked)
			c.lags = append(c.lags, lag)
			if next.Kind != KindSetup {
				c.late[i+1] = max(c.late[i+1], lag)
			}
			return Stale
		}
	}
	for _, v := range combinations(w.states, r.Request) {
		if Expect(v, r.Request, c.account) == r.Observed {
			return Mixed
		}
	}
	return Wrong
}

// combinations are the views made of every version of each object r reads
// that the states hold, in every combination.
func combinations(states []*State, r Request) []View {
	var auths []*Authenticator
	var hosts []*Host
	var nss []*Namespace
	var secs []*Secret
	for _, s := range states {
		v := s.View(r)
		auths = appendNew(auths, v.Authenticator)
		hosts = appendNew(hosts, v.Host)
		nss = appendNew(nss, v.Namespace)
		secs = appendNew(secs, v.Secret)
	}
	var out []View
	for _, a := range auths {
		for _, h := range hosts {
			for _, n := range nss {
				for _, s := range secs {
					out = append(out, View{Authenticator: a, Host: h, Namespace: n, Secret: s})
				}
			}
		}
	}
	return out
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// probe feeds the revocation trackers: r asks for something write k took
// away when the state before k granted it (200) and no state from k to the
// end of r's window does, for each write k acknowledged in the Bound
// before r was sent.
func (c *Checker) probe(r Record, w window) {
	keys := objectKeys(r.Request)
	for k := max(w.lo+1, c.closedTo+1); k <= w.fresh; k++ {
		wr := w.writes[k-w.lo]
		if wr.Revokes && c.trackers[k] == nil {
			c.trackers[k] = &tracker{acked: wr.Acked}
		}
		if !slices.ContainsFunc(wr.Objects, func(o string) bool { return slices.Contains(keys, o) }) {
			continue
		}
		if Expect(w.states[k-1-w.lo].View(r.Request), r.Request, c.account).Status != http.StatusOK {
			continue
		}
		revoked := true
		for j := k; j <= w.hi && revoked; j++ {
			revoked = Expect(w.states[j-w.lo].View(r.Request), r.Request, c.account).Status != http.StatusOK
		}
		if !revoked {
			continue
		}
		t := c.trackers[k]
		if t == nil {
			t = &tracker{acked: wr.Acked}
			c.trackers[k] = t
		}
		granted := r.Observed.Status == http.StatusOK
		t.probe(r.Sent, granted)
		if granted {
			c.leaks++
			c.maxLeak = max(c.maxLeak, r.Sent.Sub(wr.Acked))
		}
	}
}

// Settle closes the trackers of writes acknowledged before cutoff: no
// request still to be checked can be sent within Bound of them.
func (c *Checker) Settle(cutoff time.Time) {
	for k, t := range c.trackers {
		if t.acked.Before(cutoff) {
			c.close(t)
			delete(c.trackers, k)
			c.closedTo = max(c.closedTo, k)
		}
	}
}

// visibility is Report.Visibility over n churn writes.
func (c *Checker) visibility(n int) Percentiles {
	var late []time.Duration
	for _, d := range c.late {
		late = append(late, d)
	}
	return percentilesOfAll(late, max(n, len(late)))
}

// Finish closes every tracker, once no record is left to check.
func (c *Checker) Finish() { c.Settle(time.Now().Add(time.Hour)) }

func (c *Checker) close(t *tracker) {
	d, ok := t.delay()
	switch {
	case ok:
		c.delays = append(c.delays, d)
	case t.probes == 0:
		c.unobserved++
	default:
		c.censored++
	}
}

// tracker follows one revoking write: the probes sent within Bound of its
// acknowledgment.
type tracker struct {
	acked       time.Time
	probes      int
	lastGranted time.Time   // the latest probe sent that was still granted
	refused     []time.Time // the earliest refused probes sent after it, sorted
	maxRefused  time.Time
}

// maxRefusedKept bounds a tracker's memory; only the earliest refused
// probe after the last granted one matters.
const maxRefusedKept = 32

func (t *tracker) probe(sent time.Time, granted bool) {
	t.probes++
	if granted {
		if sent.After(t.lastGranted) {
			t.lastGranted = sent
			i := 0
			for i < len(t.refused) && !t.refused[i].After(sent) {
				i++
			}
			t.refused = t.refused[i:]
		}
		return
	}
	t.maxRefused = later(t.maxRefused, sent)
	if !t.lastGranted.IsZero() && !sent.After(t.lastGranted) {
		return
	}
	i, _ := slices.BinarySearchFunc(t.refused, sent, func(a, b time.Time) int { return a.Compare(b) })
	t.refused = slices.Insert(t.refused, i, sent)
	if len(t.refused) > maxRefusedKept {
		t.refused = t.refused[:maxRefusedKept]
	}
}

// delay is the revocation delay of the write: from its acknowledgment to
// the first probe sent after which every probe was refused. ok is false
// when there was no probe, or the last one was still granted.
func (t *tracker) delay() (time.Duration, bool) {
	switch {
	case len(t.refused) > 0:
		return t.refused[0].Sub(t.acked), true
	case t.maxRefused.After(t.lastGranted):
		// The earliest refused probes kept were all before a later grant:
		// the latest refused one bounds the delay from above.
		return t.maxRefused.Sub(t.acked), true
	}
	return 0, false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// objectKeys are the keys of the objects r's decision reads.
func objectKeys(r Request) []string {
	keys := []string{authenticatorKey(r.Service), hostKey(r.Host), namespaceKey(r.Host.Namespace)}
	if r.Route == Fetch {
		keys = append(keys, secretKey(SecretID{r.Variable.Namespace, r.Variable.Secret}))
	}
	return keys
}

func authenticatorKey(service string) string { return "azureauthenticator/" + service }
func hostKey(h HostID) string                { return "azurehost/" + h.String() }
func namespaceKey(ns string) string          { return "namespace/" + ns }
func secretKey(s SecretID) string            { return "secret/" + s.String() }

// describe explains a wrong decision: the request, what it got, and what
// the states at both ends of its window decide.
func describe(r Record, w window, account string) string {
	req := r.Request
	what := fmt.Sprintf("authenticate service=%s account=%s login=host/%s resource-group=%s", req.Service, req.Account, req.Host, req.ResourceGroup)
	if req.Route == Fetch {
		what = fmt.Sprintf("fetch %s account=%s with a token of service=%s host=%s uid=%s gen=%d", req.Variable, req.Account, req.Service, req.Host, req.Token.UID, req.Token.Generation)
	}
	first, last := w.states[0], w.states[len(w.states)-1]
	return fmt.Sprintf("%s: got %+v; states %d..%d (%d writes, request %v long) decide %+v .. %+v",
		what, r.Observed, w.lo, w.hi, w.hi-w.lo, r.Answered.Sub(r.Sent).Round(time.Microsecond),
		Expect(first.View(req), req, account), Expect(last.View(req), req, account))
}
