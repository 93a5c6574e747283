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

package azuread

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// waitRecorder is a wait hook that counts calls and resumes, and signals
// each call on waiting.
type waitRecorder struct {
	calls, resumes atomic.Int64
	waiting        chan struct{}
}

func newWaitRecorder(buffer int) *waitRecorder {
	return &waitRecorder{waiting: make(chan struct{}, buffer)}
}

func (w *waitRecorder) ctx(parent context.Context) context.Context {
	return WithWaitHook(parent, func() func() {
		w.calls.Add(1)
		w.waiting <- struct{}{}
		var once atomic.Bool
		return func() {
			if !once.CompareAndSwap(false, true) {
				panic("resume called twice")
			}
			w.resumes.Add(1)
		}
	})
}

// A request that gives up while an unknown kid's forced refresh runs
// returns at once with its own error; the fetch goes on, its keys are
// kept, the provider is not marked failing, and the background refresh
// joins that fetch instead of starting (or adopting) another.
func TestCancelledCallerStopsWaitingButTheFetchGoesOn(t *testing.T) {
	old, rotated := rsaKey(t, 0), rsaKey(t, 1)
	r := newRig(t, Options{}, old)
	if err := r.set(t).refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.idp.publish(old, rotated)
	r.idp.hold()
	r.clock.Step(time.Minute) // past the forced-refresh floor

	rec := newWaitRecorder(1)
	ctx, cancel := context.WithCancel(rec.ctx(context.Background()))
	defer cancel()
	token := r.idp.sign(rotated, r.clock.Now())
	result := make(chan error, 1)
	go func() {
		_, err := r.v.Verify(ctx, r.auth, token)
		result <- err
	}()
	<-rec.waiting // the caller is blocked on the fetch
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want its context's error", err)
	}
	if rec.calls.Load() != 1 || rec.resumes.Load() != 1 {
		t.Fatalf("hook calls %d, resumes %d; want 1 and 1", rec.calls.Load(), rec.resumes.Load())
	}

	fetch := r.inflight(t) // still running, on its own context
	r.clock.Step(10 * time.Minute)
	if due := r.ks.refreshDue(); len(due) != 1 || due[0] != fetch {
		t.Fatalf("the background refresh did not join the fetch in flight: %v", due)
	}
	r.idp.release()
	<-fetch.done
	if fetch.err != nil {
		t.Fatalf("the fetch failed after its first caller left: %v", fetch.err)
	}
	if h := r.ks.Health(r.idp.provider()); h.Err != "" || h.Keys != 2 {
		t.Fatalf("health = %+v", h)
	}
	if r.set(t).forceFetch(r.clock.Now()) != nil {
		t.Fatal("the forced fetch ended without consuming the floor")
	}
	before := r.idp.discovery.Load()
	if _, err := r.v.Verify(context.Background(), r.auth, token); err != nil {
		t.Fatalf("the rotated key fetched for the cancelled caller is not used: %v", err)
	}
	if r.idp.discovery.Load() != before {
		t.Fatal("the next request fetched again")
	}
}

// A caller whose context has already ended starts no fetch, so it cannot
// consume the forced-refresh floor.
func TestEndedCallerStartsNoFetch(t *testing.T) {
	old, rotated := rsaKey(t, 0), rsaKey(t, 1)
	r := newRig(t, Options{}, old)
	if err := r.set(t).refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.idp.publish(old, rotated)
	r.clock.Step(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	token := r.idp.sign(rotated, r.clock.Now())
	if _, err := r.v.Verify(ctx, r.auth, token); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := r.idp.discovery.Load(); n != 1 {
		t.Fatalf("%d discovery requests, want 1 (no fetch for an ended caller)", n)
	}
	if _, err := r.v.Verify(context.Background(), r.auth, token); err != nil {
		t.Fatalf("the next caller could not force the refresh: %v", err)
	}
}

// Callers that need a fetch while one runs join it: one request reaches the
// provider, and each caller's hook runs once, resume once.
func TestConcurrentCallersJoinTheOneFetchInFlight(t *testing.T) {
	old, rotated := rsaKey(t, 0), rsaKey(t, 1)
	r := newRig(t, Options{}, old)
	if err := r.set(t).refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.idp.publish(old, rotated)
	r.idp.hold()
	r.clock.Step(time.Minute)
	const callers = 8
	rec := newWaitRecorder(callers)
	token := r.idp.sign(rotated, r.clock.Now())
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.v.Verify(rec.ctx(context.Background()), r.auth, token)
			errs <- err
		}()
	}
	for range callers {
		<-rec.waiting
	}
	r.idp.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := r.idp.discovery.Load(); n != 2 {
		t.Fatalf("%d discovery requests, want 2 (the first load and one shared refresh)", n)
	}
	if rec.calls.Load() != callers || rec.resumes.Load() != callers {
		t.Fatalf("hook calls %d, resumes %d; want %d each", rec.calls.Load(), rec.resumes.Load(), callers)
	}
}

// The first-ever fetch is waited for through the hook too; a request that
// needs no fetch never calls it.
func TestWaitHookOnlyWhenBlocking(t *testing.T) {
	k := rsaKey(t, 0)
	r := newRig(t, Options{}, k)
	r.idp.hold()
	rec := newWaitRecorder(1)
	token := r.idp.sign(k, r.clock.Now())
	result := make(chan error, 1)
	go func() {
		_, err := r.v.Verify(rec.ctx(context.Background()), r.auth, token)
		result <- err
	}()
	<-rec.waiting
	r.idp.release()
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	if _, err := r.v.Verify(rec.ctx(context.Background()), r.auth, token); err != nil {
		t.Fatal(err)
	}
	if rec.calls.Load() != 1 || rec.resumes.Load() != 1 {
		t.Fatalf("hook calls %d, resumes %d; want 1 and 1", rec.calls.Load(), rec.resumes.Load())
	}
}

// A fetch that never gets an answer ends at HTTPTimeout, and with it the
// wait of its callers: CONJ00010E, and the hook resumed.
func TestWaitEndsWithTheFetchTimeout(t *testing.T) {
	k := rsaKey(t, 0)
	r := newRig(t, Options{HTTPTimeout: 200 * time.Millisecond}, k)
	r.idp.hold() // never answers; released at cleanup
	rec := newWaitRecorder(1)
	_, err := r.v.Verify(rec.ctx(context.Background()), r.auth, r.idp.sign(k, r.clock.Now()))
	if codeOf(err) != failure.ProviderDiscoveryTimeout {
		t.Fatalf("got %v, want CONJ00010E", err)
	}
	if rec.calls.Load() != 1 || rec.resumes.Load() != 1 {
		t.Fatalf("hook calls %d, resumes %d; want 1 and 1", rec.calls.Load(), rec.resumes.Load())
	}
}

// Background fetches leave the forced-refresh floor alone: a rotation seen
// right after one is still healed in the same request.
func TestRotationRightAfterABackgroundFetchIsHealed(t *testing.T) {
	old, rotated := rsaKey(t, 0), rsaKey(t, 1)
	r := newRig(t, Options{}, old)
	r.ks.Sync([]policy.Provider{r.idp.provider()})
	r.tick()
	r.idp.publish(old, rotated)
	if _, err := r.v.Verify(context.Background(), r.auth, r.idp.sign(rotated, r.clock.Now())); err != nil {
		t.Fatalf("rotation right after a background fetch: %v", err)
	}
	if n := r.idp.discovery.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}
