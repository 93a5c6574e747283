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
	"container/list"
	"crypto"
	"crypto/sha256"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// VerifiedCache remembers the Azure tokens Verify accepted, so that a
// workload presenting the same token again (it keeps one for hours) costs
// no RS256 verification. Only what verification established is kept: the
// signature by the provider's key, issuer, tenant and audience, and the
// parsed claims. Expiry, not-before and issued-at are checked again on
// every use, and host match, admission and client address are the
// caller's, on every request.
//
// An entry is keyed by the authenticator (service, UID, generation: any
// change of its spec is another key) and the SHA-256 of the whole token.
// It is used only while the key that verified it is still the provider's
// key of that id (a key withdrawn from the JWKS, or replaced under the same
// id, ends it), and the least recently used entry goes first when the
// cache is full. Failures are never cached.
type VerifiedCache struct {
	max int

	mu    sync.Mutex
	items map[cacheKey]*list.Element // of *cacheEntry
	order *list.List                 // most recently used first
}

// NewVerifiedCache holds at most entries tokens (about 1 KiB each); nil
// when entries is 0 or less: no cache.
func NewVerifiedCache(entries int) *VerifiedCache {
	if entries <= 0 {
		return nil
	}
	return &VerifiedCache{max: entries, items: map[cacheKey]*list.Element{}, order: list.New()}
}

type cacheKey struct {
	service, uid string
	generation   int64
	token        [sha256.Size]byte
}

func cacheKeyOf(a *policy.Authenticator, raw string) cacheKey {
	return cacheKey{service: a.ServiceID, uid: a.UID, generation: a.Generation, token: sha256.Sum256([]byte(raw))}
}

type cacheEntry struct {
	key      cacheKey
	claims   Claims
	provider policy.Provider
	kid      string
	pub      crypto.PublicKey
}

// Len is the number of tokens held.
func (c *VerifiedCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *VerifiedCache) get(k cacheKey) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

func (c *VerifiedCache) add(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.items[e.key] = c.order.PushFront(e)
	for len(c.items) > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry).key)
	}
	tokenCacheEntries.Set(float64(len(c.items)))
}

func (c *VerifiedCache) remove(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.order.Remove(el)
		delete(c.items, k)
	}
	tokenCacheEntries.Set(float64(len(c.items)))
}

var (
	tokenCacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_verified_token_cache_lookups_total",
		Help: "Lookups of the verified-token cache by result: hit (no signature verification needed) or miss.",
	}, []string{"result"})

	tokenCacheEntries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_verified_token_cache_entries",
		Help: "Azure tokens held by the verified-token cache (--verified-token-cache bounds it).",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(tokenCacheLookups, tokenCacheEntries)
	for _, r := range []string{"hit", "miss"} {
		tokenCacheLookups.WithLabelValues(r)
	}
}
