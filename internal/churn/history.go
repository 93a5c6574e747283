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
	"sort"
	"sync"
	"time"
)

// Bound is the product's documented revocation bound: a change the API
// server acknowledged is in effect everywhere within it.
const Bound = 5 * time.Second

// Write is one change, as the writer made it.
type Write struct {
	Kind string
	// Objects are the keys (see objectKey) of what the write changed.
	Objects []string
	// Revokes: the writer knows the write takes something away that
	// the clients ask for (a revocation delay is then expected).
	Revokes bool
	// Sent: just before the API call; Acked: when it returned. From Sent
	// on the new state may be in force; until Acked the old one may still
	// be (and, the bound allowing, for Bound after).
	Sent, Acked time.Time
	// After is the state the write leaves; nil until acknowledged.
	After *State
}

// History is the linear sequence of states one serial writer makes:
// entry 0 is the state before the first write, entry i the state after
// write i. Safe for one writer and any number of readers.
type History struct {
	mu   sync.Mutex
	cond *sync.Cond
	// writes[i - base] is write i; writes[0] is a pseudo-write holding the
	// initial state (or, after pruning, the oldest state still kept).
	writes []Write
	base   int
	failed bool
}

// NewHistory starts a history at initial.
func NewHistory(initial *State) *History {
	h := &History{writes: []Write{{Kind: "initial", After: initial}}}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// Begin records that a write is being sent now (sent), before the API
// call, and returns its index. The previous write must be acknowledged.
func (h *History) Begin(kind string, objects []string, revokes bool, sent time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes = append(h.writes, Write{Kind: kind, Objects: objects, Revokes: revokes, Sent: sent})
	return h.base + len(h.writes) - 1
}

// Ack records that write i returned at acked, leaving after.
func (h *History) Ack(i int, acked time.Time, after *State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := &h.writes[i-h.base]
	w.Acked, w.After = acked, after
	h.cond.Broadcast()
}

// Fail records that the write in flight failed: its effect is unknown, so
// no request answered after it was sent can be judged any more.
func (h *History) Fail() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed = true
	h.cond.Broadcast()
}

// Latest is the newest acknowledged state.
func (h *History) Latest() *State {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.writes) - 1; i >= 0; i-- {
		if h.writes[i].After != nil {
			return h.writes[i].After
		}
	}
	return nil
}

// window is the states a request may have been decided under, copied out
// of the history: states[0] is write lo's, the last one write hi's.
type window struct {
	lo, hi int
	fresh  int // the first index in force when the request was sent (see Check)
	states []*State
	writes []Write // writes lo..hi (Objects, Sent, Acked)
	ok     bool    // false: the history no longer knows (failed, or pruned)
}

// windowFor returns the states possibly in force for a request sent at
// sent and answered at resp: from the state in force at sent - Bound (the
// last whose write was acknowledged by then; a write sent but not yet
// acknowledged leaves its predecessor possible) to the last state whose
// write was sent before resp. It waits while such a write is unacknowledged.
func (h *History) windowFor(sent, resp time.Time) window {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if h.failed {
			return window{}
		}
		hi := h.lastSentBefore(resp)
		if h.writes[hi-h.base].After != nil {
			break
		}
		h.cond.Wait()
	}
	hi := h.lastSentBefore(resp)
	lo := h.lastAckedBy(sent.Add(-Bound))
	fresh := h.lastAckedBy(sent)
	if lo < h.base {
		return window{}
	}
	w := window{lo: lo, hi: hi, fresh: fresh, ok: true}
	for i := lo; i <= hi; i++ {
		w.states = append(w.states, h.writes[i-h.base].After)
		w.writes = append(w.writes, h.writes[i-h.base])
	}
	return w
}

// lastSentBefore is the index of the last write sent before t (the oldest
// kept entry when none was).
func (h *History) lastSentBefore(t time.Time) int {
	n := sort.Search(len(h.writes)-1, func(i int) bool { return !h.writes[i+1].Sent.Before(t) })
	return h.base + n
}

// lastAckedBy is the index of the last write acknowledged at or before t
// (the initial state counts as acknowledged at the zero time); base-1 when
// pruning has dropped it.
func (h *History) lastAckedBy(t time.Time) int {
	if h.base > 0 && h.writes[0].Acked.After(t) {
		return h.base - 1
	}
	n := sort.Search(len(h.writes)-1, func(i int) bool {
		a := h.writes[i+1].Acked
		return a.IsZero() || a.After(t)
	})
	return h.base + n
}

// Prune forgets states superseded before cutoff: no request sent after
// cutoff + Bound can need them.
func (h *History) Prune(cutoff time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// Keep the last state acknowledged by cutoff and everything after it.
	keep := h.lastAckedBy(cutoff) - h.base
	if keep <= 0 {
		return
	}
	h.writes = append([]Write(nil), h.writes[keep:]...)
	h.base += keep
}

// Len is the number of writes made (the initial state excluded).
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.base + len(h.writes) - 1
}
