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
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// tick is one turn of Run: start what is due and let it finish.
func (r *testRig) tick() {
	for _, c := range r.ks.refreshDue() {
		<-c.done
	}
}

// With the defaults, a key withdrawn by the provider is refused within
// RefreshInterval + DropAfter (8 minutes): the refresh at 5 minutes sees it
// missing, and the confirming fetch is scheduled 3 minutes later rather
// than at the next interval. Until that second fetch it is still accepted.
func TestWithdrawnKeyIsRefusedWithinEightMinutes(t *testing.T) {
	withdrawn, kept := rsaKey(t, 0), rsaKey(t, 1)
	r := newRig(t, Options{}, withdrawn, kept)
	r.ks.Sync([]policy.Provider{r.idp.provider()})
	start := r.clock.Now()
	r.tick()
	token := r.idp.sign(withdrawn, start)
	r.idp.publish(kept)

	var refusedAfter time.Duration
	var fetches int64
	for elapsed := time.Duration(0); elapsed <= 10*time.Minute; elapsed += 10 * time.Second {
		r.clock.Step(10 * time.Second)
		r.tick()
		fetches = r.idp.discovery.Load()
		_, err := r.v.Verify(context.Background(), r.auth, token)
		if err != nil {
			if codeOf(err) != failure.TokenDecodeFailed {
				t.Fatalf("refused with %v, want CONJ00035E", err)
			}
			refusedAfter = r.clock.Now().Sub(start)
			break
		}
	}
	if refusedAfter != 8*time.Minute {
		t.Fatalf("withdrawn key refused after %v, want at 8m (accepted until the confirming fetch, refused by it)", refusedAfter)
	}
	if fetches != 3 {
		t.Fatalf("%d background fetches, want 3 (start, 5m, 8m)", fetches)
	}
	if _, err := r.v.Verify(context.Background(), r.auth, r.idp.sign(kept, r.clock.Now())); err != nil {
		t.Fatalf("the kept key: %v", err)
	}
}

// The confirming fetch is scheduled once: if it fails, the retry interval
// paces the next attempt, not every tick of Run.
func TestConfirmingFetchDoesNotHammerAFailingProvider(t *testing.T) {
	withdrawn, kept := rsaKey(t, 0), rsaKey(t, 1)
	r := newRig(t, Options{}, withdrawn, kept)
	s := r.set(t)
	if err := s.refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.idp.publish(kept)
	r.clock.Step(5 * time.Minute)
	r.ks.Sync([]policy.Provider{r.idp.provider()})
	r.tick() // sees the key missing
	r.idp.set(func(f *fakeIdP) { f.status = 503 })
	r.clock.Step(3 * time.Minute)
	r.tick() // the confirming fetch fails
	if s.lastError() == nil {
		t.Fatal("the provider was down, yet the fetch succeeded")
	}
	if _, _, found, _ := s.lookup(withdrawn.id); !found {
		t.Fatal("a failed fetch dropped a key")
	}
	r.clock.Step(time.Second)
	if s.due(r.clock.Now()) {
		t.Fatal("due again one second after a failed confirming fetch")
	}
	r.clock.Step(29 * time.Second)
	if !s.due(r.clock.Now()) {
		t.Fatal("not due after the retry interval")
	}
}

// Discovery and JWKS are fetched with conditional GETs; a 304 reuses the
// cached document and counts as a successful fetch, also for dropping a
// withdrawn key.
func TestConditionalGETsReuseTheCachedDocuments(t *testing.T) {
	withdrawn, kept := rsaKey(t, 0), rsaKey(t, 1)
	r := newRig(t, Options{}, withdrawn, kept)
	r.idp.set(func(f *fakeIdP) { f.validators = true })
	s := r.set(t)
	if err := s.refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.refreshNow(context.Background()); err != nil {
		t.Fatalf("a fetch answered 304: %v", err)
	}
	if n := r.idp.notModified.Load(); n != 2 {
		t.Fatalf("%d answers 304, want 2 (discovery and JWKS unchanged)", n)
	}
	r.idp.set(func(f *fakeIdP) {
		for i, tag := range f.ifNoneMatch {
			if (i < 2) != (tag == "") {
				t.Errorf("request %d sent If-None-Match %q", i, tag)
			}
		}
	})
	if h := r.ks.Health(r.idp.provider()); h.Err != "" || h.Keys != 2 {
		t.Fatalf("health = %+v", h)
	}

	r.idp.publish(kept) // the JWKS changes: 200 with a new ETag
	r.clock.Step(time.Minute)
	if err := s.refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, found, _ := s.lookup(withdrawn.id); !found {
		t.Fatal("dropped on its first absence")
	}
	r.clock.Step(3 * time.Minute)
	before := r.idp.notModified.Load()
	if err := s.refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.idp.notModified.Load() != before+2 {
		t.Fatal("the confirming fetch was not answered 304")
	}
	if _, _, found, _ := s.lookup(withdrawn.id); found {
		t.Fatal("a 304 did not count as a successful fetch: the withdrawn key is still cached")
	}
}

// A 304 to a request that asked for no validation is not a document.
func TestUnsolicitedNotModifiedIsAFailure(t *testing.T) {
	r := newRig(t, Options{}, rsaKey(t, 0))
	r.idp.set(func(f *fakeIdP) { f.always304 = true })
	if err := r.set(t).refreshNow(context.Background()); err == nil {
		t.Fatal("an unsolicited 304 was accepted")
	}
	if h := r.ks.Health(r.idp.provider()); h.Keys != 0 || h.Err != "OIDC discovery failed" {
		t.Fatalf("health = %+v", h)
	}
}

func TestDefaultRefreshIntervalIsFiveMinutes(t *testing.T) {
	if got := NewKeySets(Options{}).opts.RefreshInterval; got != 5*time.Minute {
		t.Fatalf("RefreshInterval = %v", got)
	}
}
