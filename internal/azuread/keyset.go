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

// Package azuread verifies Entra ID (Azure AD) managed-identity tokens: it
// discovers each trusted provider's signing keys (OIDC discovery + JWKS),
// keeps them fresh in the background, and checks a token's header,
// signature and claims against one AzureAuthenticator.
//
// One long-lived key set is kept per provider (issuer + CA bundle). Requests
// trigger a fetch only for a provider never fetched yet and, rate-limited,
// for an unknown key id; they then wait for the one fetch in flight, which
// runs on its own deadline so that no caller can cancel it for the others.
// It does not know about hosts: matching claims to an AzureHost is policy's
// job.
//
// It imports only the domain packages; never the controllers, the HTTP
// side (authn) or the assembly.
package azuread

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-logr/logr"

	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Options tune the key sets; zero values take the defaults in brackets.
type Options struct {
	// DialContext dials the providers, or the proxy [net.Dialer]. Tests
	// pass a loopback-only dialer.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// Proxy picks the proxy of a discovery or JWKS request
	// [http.ProxyFromEnvironment]: clusters often reach Entra ID only
	// through an egress proxy (HTTPS_PROXY, NO_PROXY). It is an option
	// because Go reads the environment once per process and never proxies
	// loopback, so tests could not exercise the proxy path otherwise.
	Proxy func(*http.Request) (*url.URL, error)
	// HTTPTimeout bounds one whole fetch (discovery and JWKS), and so how
	// long a request may wait for one [10s].
	HTTPTimeout time.Duration
	// RefreshInterval is the background refresh period [5m]. Short, so a
	// withdrawn key is refused within RefreshInterval + DropAfter;
	// conditional GETs keep it cheap.
	RefreshInterval time.Duration
	// RetryInterval is the refresh period while a provider fails [30s].
	RetryInterval time.Duration
	// ForcedRefreshCooldown is the least time between the end of a fetch
	// that a refresh forced by an unknown key id started or joined and the
	// next forced refresh, per provider [30s]: random kids cannot make us
	// hammer the provider, nor starve a real rotation. It counts from the
	// end of the fetch, whatever its outcome, never from a caller who gave
	// up; background fetches do not count, so a rotation seen just after
	// one is still healed in the same request.
	ForcedRefreshCooldown time.Duration
	// DropAfter: a cached key is dropped once two successful fetches at
	// least this far apart both lack it; the second is scheduled for then
	// [3m]. Emergency rollovers take effect within minutes; one flapping
	// response changes nothing.
	DropAfter time.Duration
	Log       logr.Logger
	Clock     clock.PassiveClock // [the real clock]
}

func (o *Options) defaults() {
	o.HTTPTimeout = cmp.Or(o.HTTPTimeout, 10*time.Second)
	o.RefreshInterval = cmp.Or(o.RefreshInterval, 5*time.Minute)
	o.RetryInterval = cmp.Or(o.RetryInterval, 30*time.Second)
	o.ForcedRefreshCooldown = cmp.Or(o.ForcedRefreshCooldown, 30*time.Second)
	o.DropAfter = cmp.Or(o.DropAfter, 3*time.Minute)
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	if o.Proxy == nil {
		o.Proxy = http.ProxyFromEnvironment
	}
}

// Limits on what a provider may send us.
const (
	maxDocumentBytes  = 1 << 20
	maxKeys           = 100
	maxValidatorBytes = 512      // an ETag or Last-Modified we keep for conditional GETs
	maxHeaderBytes    = 64 << 10 // all response headers of one reply
)

// asymmetricAlgs are the only algorithms ever accepted, whatever a
// provider advertises.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// KeySets holds one key set per provider.
type KeySets struct {
	opts Options
	mu   sync.Mutex
	sets map[setID]*keySet
}

type setID struct {
	issuer string
	ca     [32]byte
}

func idOf(p policy.Provider) setID {
	return setID{issuer: p.Issuer, ca: sha256.Sum256(p.CABundle)}
}

// NewKeySets returns an empty collection; call Sync to add providers and
// Run to keep them fresh.
func NewKeySets(opts Options) *KeySets {
	opts.defaults()
	return &KeySets{opts: opts, sets: map[setID]*keySet{}}
}

// Health reports a provider's cached state; it never fetches.
func (k *KeySets) Health(p policy.Provider) policy.ProviderHealth {
	k.mu.Lock()
	s := k.sets[idOf(p)]
	k.mu.Unlock()
	if s == nil {
		return policy.ProviderHealth{Err: "keys not fetched yet"}
	}
	return s.health()
}

// Sync makes the collection hold exactly the given providers: new ones
// are created (fetched by Run), others are forgotten.
func (k *KeySets) Sync(providers []policy.Provider) {
	k.mu.Lock()
	defer k.mu.Unlock()
	want := map[setID]bool{}
	for _, p := range providers {
		id := idOf(p)
		want[id] = true
		if k.sets[id] == nil {
			s, err := newKeySet(p, k.opts)
			if err != nil {
				k.opts.Log.Error(err, "Cannot use provider", "issuer", p.Issuer)
				continue
			}
			k.sets[id] = s
		}
	}
	for id := range k.sets {
		if !want[id] {
			delete(k.sets, id)
		}
	}
}

// Run refreshes every key set when due, until ctx ends. tick is how often
// it looks (1s in production keeps new providers prompt). It never waits
// for a fetch: a slow provider must not delay the others, and each fetch
// ends on its own within HTTPTimeout, even after ctx ends.
func (k *KeySets) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		k.refreshDue()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshDue starts the fetch of every key set that is due and returns
// the fetches in flight it started or found.
func (k *KeySets) refreshDue() []*fetchCall {
	now := k.opts.Clock.Now()
	k.mu.Lock()
	sets := make([]*keySet, 0, len(k.sets))
	for _, s := range k.sets {
		sets = append(sets, s)
	}
	k.mu.Unlock()
	var calls []*fetchCall
	for _, s := range sets {
		if c := s.fetchIfDue(now); c != nil {
			calls = append(calls, c)
		}
	}
	return calls
}

// ensure returns the provider's key set, creating it (unfetched) when a
// request arrives before Sync has seen its authenticator.
func (k *KeySets) ensure(p policy.Provider) (*keySet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	id := idOf(p)
	if s := k.sets[id]; s != nil {
		return s, nil
	}
	s, err := newKeySet(p, k.opts)
	if err != nil {
		return nil, err
	}
	k.sets[id] = s
	return s, nil
}

// serves reports whether the provider's key set holds pub under kid now
// (without fetching): a key withdrawn from the JWKS, or replaced under the
// same id, no longer serves.
func (k *KeySets) serves(p policy.Provider, kid string, pub crypto.PublicKey) bool {
	k.mu.Lock()
	s := k.sets[idOf(p)]
	k.mu.Unlock()
	if s == nil {
		return false
	}
	cur, _, found, _ := s.lookup(kid)
	eq, ok := cur.(interface{ Equal(crypto.PublicKey) bool })
	return found && ok && eq.Equal(pub)
}

// keySet is one provider's keys.
type keySet struct {
	provider policy.Provider
	opts     Options
	client   *http.Client

	// The last documents with their validators, for conditional GETs.
	// Only the fetch in flight touches them; fetches are one at a time and
	// ordered by mu (inflight is set and cleared under it).
	discoveryDoc, jwksDoc cachedDoc

	mu          sync.RWMutex
	keys        map[string]*cachedKey
	algs        []string // allowed: advertised ∩ asymmetricAlgs
	issuer      string   // as discovered
	inflight    *fetchCall
	lastAttempt time.Time // when the last fetch ended, whatever its outcome
	lastSuccess time.Time
	lastErr     error
	lastForced  time.Time // when the last fetch a forced refresh needed ended
}

type cachedKey struct {
	key          crypto.PublicKey
	missingSince time.Time // first successful fetch that lacked it; zero if present
}

// cachedDoc is a document as last served with 200, and its validators.
type cachedDoc struct {
	url, etag, lastModified string
	body                    []byte
}

// fetchCall is one fetch of a provider's keys, shared by every caller
// that needs it while it runs. It runs on a context of its own, so no
// caller can cancel it for the others.
type fetchCall struct {
	done   chan struct{}
	forced bool  // a forced refresh started or joined it; guarded by keySet.mu
	err    error // the outcome; read only once done is closed
}

func newKeySet(p policy.Provider, opts Options) (*keySet, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(p.CABundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(p.CABundle) {
			return nil, errors.New("caBundle contains no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	transport := &http.Transport{
		Proxy:                  opts.Proxy,
		DialContext:            opts.DialContext,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  opts.HTTPTimeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        90 * time.Second,
	}
	return &keySet{
		provider: p,
		opts:     opts,
		client: &http.Client{
			Transport: transport,
			Timeout:   opts.HTTPTimeout,
			// Discovery must not be redirected off the issuer's https URLs.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		keys: map[string]*cachedKey{},
	}, nil
}

func (s *keySet) health() policy.ProviderHealth {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := policy.ProviderHealth{Keys: len(s.keys), LastRefresh: s.lastSuccess}
	if s.lastErr != nil {
		h.Err = genericFetchError(s.lastErr)
	}
	return h
}

func (s *keySet) lastError() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastErr
}

func (s *keySet) due(now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dueLocked(now)
}

// dueLocked: never fetched; or the refresh (retry) interval has passed
// since the last fetch ended; or a key missing from a fetch can now be
// confirmed missing and dropped, which must not wait for the next
// interval. A fetch in flight is never due again.
func (s *keySet) dueLocked(now time.Time) bool {
	if s.inflight != nil {
		return false
	}
	if s.lastAttempt.IsZero() {
		return true
	}
	interval := s.opts.RefreshInterval
	if s.lastErr != nil {
		interval = s.opts.RetryInterval
	}
	next := s.lastAttempt.Add(interval)
	for _, k := range s.keys {
		if k.missingSince.IsZero() {
			continue
		}
		// Only until one fetch ended at or after the drop time: if that
		// one failed, the retry interval paces the next, not every tick.
		if dropAt := k.missingSince.Add(s.opts.DropAfter); s.lastAttempt.Before(dropAt) && dropAt.Before(next) {
			next = dropAt
		}
	}
	return !now.Before(next)
}

// lookup returns the key with kid, the allowed algorithms, whether kid was
// found, and whether the keys were ever fetched successfully.
func (s *keySet) lookup(kid string) (key crypto.PublicKey, algs []string, found, fetched bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fetched = !s.lastSuccess.IsZero()
	k, ok := s.keys[kid]
	if !ok {
		return nil, s.algs, false, fetched
	}
	return k.key, s.algs, true, fetched
}

// fetchIfDue joins the fetch in flight, or starts one when due; nil when
// neither.
func (s *keySet) fetchIfDue(now time.Time) *fetchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil || s.dueLocked(now) {
		return s.startLocked()
	}
	return nil
}

// forceFetch joins the fetch in flight, or starts one unless a fetch that
// a forced refresh needed ended less than ForcedRefreshCooldown ago; nil
// then. The floor is consumed when such a fetch ends, whatever its outcome
// (a fresh answer, an error and a timeout are all reasons not to ask again
// so soon), and never by a caller: one who gives up leaves the fetch
// running.
func (s *keySet) forceFetch(now time.Time) *fetchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == nil && !s.lastForced.IsZero() && now.Sub(s.lastForced) < s.opts.ForcedRefreshCooldown {
		return nil
	}
	c := s.startLocked()
	c.forced = true
	return c
}

// refreshNow joins the fetch in flight or starts one, and waits for it
// (tests, and callers that need an answer whatever the schedule).
func (s *keySet) refreshNow(ctx context.Context) error {
	s.mu.Lock()
	c := s.startLocked()
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the keys of %s: %w", s.provider.Issuer, ctx.Err())
	}
}

func (s *keySet) startLocked() *fetchCall {
	if s.inflight == nil {
		c := &fetchCall{done: make(chan struct{})}
		s.inflight = c
		go s.run(c)
	}
	return s.inflight
}

// run performs one fetch on a context bounded by HTTPTimeout only, and
// records its outcome before releasing the callers that wait for it.
func (s *keySet) run(c *fetchCall) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.HTTPTimeout)
	defer cancel()
	fetched, algs, issuer, err := s.fetchRecovered(ctx)
	now := s.opts.Clock.Now()
	s.mu.Lock()
	s.lastAttempt = now
	s.lastErr = err
	if err == nil {
		s.merge(fetched, now)
		s.algs, s.issuer, s.lastSuccess = algs, issuer, now
	}
	if c.forced {
		s.lastForced = now
	}
	cached := len(s.keys)
	c.err = err
	s.inflight = nil
	s.mu.Unlock()
	close(c.done)
	countRefresh(s.provider.Issuer, err)
	if err != nil {
		s.opts.Log.Info("Provider key refresh failed; keeping the last good keys", "issuer", s.provider.Issuer, "error", err.Error())
	} else {
		s.opts.Log.V(1).Info("Provider keys refreshed", "issuer", s.provider.Issuer, "published", len(fetched), "cached", cached)
	}
}

// fetchRecovered is fetch, with a panic (a parser meeting a hostile
// document) turned into a failed fetch: it runs outside any request, where
// nothing else would recover it, and must neither crash the process nor
// leave its callers waiting.
func (s *keySet) fetchRecovered(ctx context.Context) (keys map[string]crypto.PublicKey, algs []string, issuer string, err error) {
	defer func() {
		if p := recover(); p != nil {
			keys, algs, issuer = nil, nil, ""
			err = &FetchError{Stage: StageJWKS, Err: fmt.Errorf("fetch panicked: %v", p)}
		}
	}()
	return s.fetch(ctx)
}

// merge adds fetched keys and drops a cached key only when two successful
// fetches at least DropAfter apart both lacked it.
func (s *keySet) merge(fetched map[string]crypto.PublicKey, now time.Time) {
	for kid, key := range fetched {
		s.keys[kid] = &cachedKey{key: key}
	}
	for kid, k := range s.keys {
		if _, ok := fetched[kid]; ok {
			continue
		}
		switch {
		case k.missingSince.IsZero():
			k.missingSince = now
		case now.Sub(k.missingSince) >= s.opts.DropAfter:
			delete(s.keys, kid)
		}
	}
}

type discoveryDoc struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

func (s *keySet) fetch(ctx context.Context) (map[string]crypto.PublicKey, []string, string, error) {
	base := strings.TrimSuffix(s.provider.Issuer, "/")
	var doc discoveryDoc
	if err := s.getJSON(ctx, base+"/.well-known/openid-configuration", &s.discoveryDoc, &doc); err != nil {
		return nil, nil, "", fetchError(StageDiscovery, err)
	}
	if strings.TrimSuffix(doc.Issuer, "/") != base {
		return nil, nil, "", fetchError(StageDiscovery, fmt.Errorf("issuer %q does not match the configured %q", doc.Issuer, s.provider.Issuer))
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, nil, "", fetchError(StageDiscovery, fmt.Errorf("jwks_uri %q is not an https URL", doc.JWKSURI))
	}
	algs := []string{"RS256"} // what OIDC requires when nothing is advertised
	if len(doc.Algs) > 0 {
		algs = nil
		for _, a := range doc.Algs {
			if slices.Contains(asymmetricAlgs, a) && !slices.Contains(algs, a) {
				algs = append(algs, a)
			}
		}
		if len(algs) == 0 {
			return nil, nil, "", fetchError(StageDiscovery, fmt.Errorf("no asymmetric signing algorithm advertised (%v)", doc.Algs))
		}
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := s.getJSON(ctx, doc.JWKSURI, &s.jwksDoc, &set); err != nil {
		return nil, nil, "", fetchError(StageJWKS, err)
	}
	keys := map[string]crypto.PublicKey{}
	for _, raw := range set.Keys {
		if len(keys) >= maxKeys {
			break
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil || jwk.KeyID == "" || (jwk.Use != "" && jwk.Use != "sig") {
			continue // skip what we cannot use; other keys may be fine
		}
		switch pub := jwk.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() >= 2048 {
				keys[jwk.KeyID] = pub
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
			keys[jwk.KeyID] = pub
		}
	}
	if len(keys) == 0 {
		return nil, nil, "", fetchError(StageJWKS, errors.New("no usable signing key"))
	}
	return keys, algs, doc.Issuer, nil
}

// getJSON GETs u into into. With a cached copy of u it asks only for a
// change (If-None-Match, If-Modified-Since), and a 304 reuses the copy: it
// is checked again exactly as a fresh one would be.
func (s *keySet) getJSON(ctx context.Context, u string, cache *cachedDoc, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	conditional := cache.url == u && cache.body != nil
	if conditional {
		if cache.etag != "" {
			req.Header.Set("If-None-Match", cache.etag)
		}
		if cache.lastModified != "" {
			req.Header.Set("If-Modified-Since", cache.lastModified)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	var body []byte
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		body = cache.body
	case resp.StatusCode == http.StatusOK:
		if body, err = io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1)); err != nil {
			return fmt.Errorf("GET %s: %w", u, err)
		}
		if len(body) > maxDocumentBytes {
			return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocumentBytes)
		}
	default:
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: invalid JSON: %w", u, err)
	}
	if resp.StatusCode == http.StatusOK {
		*cache = cachedDoc{}
		etag, modified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if len(etag) > maxValidatorBytes {
			etag = ""
		}
		if len(modified) > maxValidatorBytes {
			modified = ""
		}
		if etag != "" || modified != "" {
			*cache = cachedDoc{url: u, etag: etag, lastModified: modified, body: body}
		}
	}
	return nil
}
