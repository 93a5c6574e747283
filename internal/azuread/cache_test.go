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
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
)

// cachedRig is a verifier with a verified-token cache over one fake
// provider, and a way to count the signature verifications it makes.
func cachedRig(t *testing.T, entries int, keys ...testKey) (*testRig, func(string) (*Claims, int64, error)) {
	r := newRig(t, Options{DropAfter: 3 * time.Minute}, keys...)
	r.v.Cache = NewVerifiedCache(entries)
	verify := func(token string) (*Claims, int64, error) {
		var n atomic.Int64
		c, err := r.v.Verify(WithVerificationCounter(context.Background(), &n), r.auth, token)
		return c, n.Load(), err
	}
	return r, verify
}

// A token verified once is accepted again without a signature
// verification, with the same claims; the hit and the miss are counted.
func TestCacheSparesTheVerificationOfATokenSeenBefore(t *testing.T) {
	k := rsaKey(t, 0)
	r, verify := cachedRig(t, 10, k)
	token := r.idp.sign(k, r.clock.Now())
	hits, misses := testutil.ToFloat64(tokenCacheLookups.WithLabelValues("hit")), testutil.ToFloat64(tokenCacheLookups.WithLabelValues("miss"))
	first, n, err := verify(token)
	if err != nil || n != 1 {
		t.Fatalf("first: %v, %d verifications", err, n)
	}
	again, n, err := verify(token)
	if err != nil || n != 0 || *again != *first {
		t.Fatalf("again: %v, %d verifications, claims %+v want %+v", err, n, again, first)
	}
	if got := testutil.ToFloat64(tokenCacheLookups.WithLabelValues("hit")) - hits; got != 1 {
		t.Fatalf("hits moved by %v", got)
	}
	if got := testutil.ToFloat64(tokenCacheLookups.WithLabelValues("miss")) - misses; got != 1 {
		t.Fatalf("misses moved by %v", got)
	}
	// Another authenticator generation is another key.
	changed := *r.auth
	changed.Generation++
	var count atomic.Int64
	if _, err := r.v.Verify(WithVerificationCounter(context.Background(), &count), &changed, token); err != nil || count.Load() != 1 {
		t.Fatalf("after the authenticator changed: %v, %d verifications, want 1", err, count.Load())
	}
}

// Expiry is checked on every use: a cached token past exp is refused.
func TestCachedTokenExpires(t *testing.T) {
	k := rsaKey(t, 0)
	r, verify := cachedRig(t, 10, k)
	token := r.idp.sign(k, r.clock.Now()) // valid an hour
	if _, _, err := verify(token); err != nil {
		t.Fatal(err)
	}
	r.clock.Step(time.Hour + 2*time.Minute) // past exp + skew
	if _, n, err := verify(token); codeOf(err) != failure.TokenExpired || n != 0 {
		t.Fatalf("expired and cached: %v (%d verifications), want %s", err, n, failure.TokenExpired)
	}
}

// A key withdrawn from the JWKS stops its cached tokens once the key set
// drops it (two fetches DropAfter apart without it), as uncached tokens.
func TestCachedTokenStopsWhenItsKeyLeavesTheJWKS(t *testing.T) {
	k0, k1 := rsaKey(t, 0), rsaKey(t, 1)
	r, verify := cachedRig(t, 10, k0)
	token := r.idp.sign(k0, r.clock.Now())
	if _, _, err := verify(token); err != nil {
		t.Fatal(err)
	}
	r.idp.publish(k1)
	ctx := context.Background()
	for range 2 {
		r.clock.Step(3 * time.Minute)
		if err := r.set(t).refreshNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, found, _ := r.set(t).lookup(k0.id); found {
		t.Fatal("the withdrawn key is still held: the test proves nothing")
	}
	if _, _, err := verify(token); codeOf(err) != failure.TokenDecodeFailed {
		t.Fatalf("cached token of a withdrawn key: %v, want %s", err, failure.TokenDecodeFailed)
	}
	if r.v.Cache.Len() != 0 {
		t.Fatalf("the entry of a withdrawn key stayed: %d entries", r.v.Cache.Len())
	}
}

// New key material under the same key id ends the cached tokens of the old.
func TestCachedTokenStopsWhenItsKeyIDGetsOtherMaterial(t *testing.T) {
	k0 := rsaKey(t, 0)
	impostor := testKey{id: k0.id, priv: rsaKey(t, 1).priv}
	r, verify := cachedRig(t, 10, k0)
	token := r.idp.sign(k0, r.clock.Now())
	if _, _, err := verify(token); err != nil {
		t.Fatal(err)
	}
	r.idp.publish(impostor)
	if err := r.set(t).refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, n, err := verify(token); err == nil || n != 1 {
		t.Fatalf("token of replaced key material: %v after %d verifications, want refused after a real verification", err, n)
	}
}

// Failures are never cached, and the cache holds at most its bound,
// dropping the least recently used token first.
func TestCacheKeepsNoFailureAndStaysBounded(t *testing.T) {
	k0, k1 := rsaKey(t, 0), rsaKey(t, 1)
	r, verify := cachedRig(t, 2, k0)
	forged := r.idp.sign(k1, r.clock.Now()) // kid rsa-1 is not published
	for range 2 {
		if _, n, err := verify(forged); err == nil || n != 1 {
			t.Fatalf("forged token: %v, %d verifications", err, n)
		}
	}
	var tokens []string
	for i := range 3 {
		tokens = append(tokens, r.idp.sign(k0, r.clock.Now().Add(time.Duration(i)*time.Second)))
	}
	for _, tok := range tokens[:2] {
		if _, _, err := verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, n, _ := verify(tokens[0]); n != 0 { // now the most recent
		t.Fatal("the first token was not cached")
	}
	if _, _, err := verify(tokens[2]); err != nil { // evicts tokens[1]
		t.Fatal(err)
	}
	if got := r.v.Cache.Len(); got != 2 {
		t.Fatalf("%d entries, want the bound 2", got)
	}
	// Most recent first: tokens[2], tokens[0]; tokens[1] went.
	if _, n, _ := verify(tokens[1]); n != 1 {
		t.Fatal("the least recently used token was not the one evicted")
	}
	// Now tokens[1], tokens[2]; tokens[0] went.
	if _, n, _ := verify(tokens[2]); n != 0 {
		t.Fatal("a recently used token was evicted")
	}
	if NewVerifiedCache(0) != nil {
		t.Fatal("a cache of 0 entries is not off")
	}
}
