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

package health

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/clock"
)

// Contact measures how stale this replica's view may be: the larger
// of the time since it last reached the API server and the staleness of
// the index's informers (Informers). The two fail differently: a replica
// cut off from the API server notices nothing from its informers until
// their watches time out, so it asks the API server for its version
// (readable by everyone, cheap) every Every, never per request; a watch
// that fails on its own (its RBAC removed) leaves /version reachable, so
// the informers' own health counts too. A stale replica keeps serving its
// last state, reports its staleness (metrics, log, readyz with
// MaxStaleness) and, with MaxStaleness set, answers 503 once the view is
// older than that.
//
// The Secret informers are tracked in Informers as well but do not count:
// a namespace whose Secrets cannot be listed answers 503 for its own
// Secrets at once (secrets.Store), and must not turn authentication away
// for every namespace.
type Contact struct {
	Discovery discovery.ServerVersionInterface
	Every     time.Duration      // [1s]
	Timeout   time.Duration      // [2s]
	Clock     clock.PassiveClock // [the real clock]
	Log       logr.Logger
	// Informers, when set, track the informers; those registered as view
	// informers count towards Staleness, and all are published each Every.
	Informers *Informers

	last atomic.Int64 // unix nanos of the last successful contact
}

// NeedLeaderElection is false: every replica has its own view.
func (t *Contact) NeedLeaderElection() bool { return false }

// Staleness is how old the view may be: the larger of the time since the
// last successful contact and the index's informers' staleness. Before the
// first attempt the contact part is zero (startup is gated by the index
// sync instead).
func (t *Contact) Staleness() time.Duration {
	s := t.contactAge()
	if t.Informers != nil {
		s = max(s, t.Informers.ViewStaleness())
	}
	return s
}

func (t *Contact) contactAge() time.Duration {
	last := t.last.Load()
	if last == 0 {
		return 0
	}
	return t.now().Sub(time.Unix(0, last))
}

func (t *Contact) now() time.Time {
	if t.Clock != nil {
		return t.Clock.Now()
	}
	return time.Now()
}

// Start probes until ctx ends.
func (t *Contact) Start(ctx context.Context) error {
	every, timeout := t.Every, t.Timeout
	if every == 0 {
		every = time.Second
	}
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	t.last.Store(t.now().UnixNano())
	tick := time.NewTicker(every)
	defer tick.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		done := make(chan error, 1)
		go func() { _, err := t.Discovery.ServerVersion(); done <- err }()
		var err error
		select {
		case err = <-done:
		case <-time.After(timeout):
			err = context.DeadlineExceeded
		}
		if err == nil {
			t.last.Store(t.now().UnixNano())
			if warned {
				t.Log.Info("Reached the API server again")
				warned = false
			}
		}
		if t.Informers != nil {
			t.Informers.publish()
		}
		viewStaleness.Set(t.Staleness().Seconds())
		if stale := t.contactAge(); err != nil && stale > 10*time.Second && !warned {
			t.Log.Info("Cannot reach the API server: serving the last known state", "staleness", stale.String(), "error", err.Error())
			warned = true
		}
	}
}
