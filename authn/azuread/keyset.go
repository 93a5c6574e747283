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
// One long-lived key set is kept per provider (issuer + CA bundle); requests
// never trigger discovery, except the rate-limited synchronous refresh on an
// unknown key id. It does not know about hosts: matching claims to an
// AzureHost is policy's job.
package azuread

import (
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

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-logr/logr"

	"github.com/azure-authenticator/azure-authenticator/authn/policy"
)

// Options tune the key sets; zero values take the defaults in brackets.
type Options struct {
	// DialContext dials the providers [net.Dialer]. Tests pass a
	// loopback-only dialer.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// HTTPTimeout bounds one discovery or JWKS request [10s].
	HTTPTimeout time.Duration
	// RefreshInterval is the background refresh period [1h].
	RefreshInterval time.Duration
	// RetryInterval is the refresh period while a provider fails [30s].
	RetryInterval time.Duration
	// ForcedRefreshCooldown is the least time between two refreshes forced
	// by unknown key ids, per provider [30s]: random kids cannot make us
	// hammer the provider, nor starve a real rotation.
	ForcedRefreshCooldown time.Duration
	// DropAfter: a cached key is dropped once two successful fetches at
	// least this far apart both lack it [3m]. Emergency rollovers take
	// effect within minutes; one flapping response changes nothing.
	DropAfter time.Duration
	// OnRefresh is called after every fetch attempt (metrics).
	OnRefresh func(issuer string, err error)
	Log       logr.Logger
	Now       func() time.Time
}

func (o *Options) defaults() {
	if o.HTTPTimeout == 0 {
		o.HTTPTimeout = 10 * time.Second
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = time.Hour
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = 30 * time.Second
	}
	if o.ForcedRefreshCooldown == 0 {
		o.ForcedRefreshCooldown = 30 * time.Second
	}
	if o.DropAfter == 0 {
		o.DropAfter = 3 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
}

// Limits on what a provider may send us.
const (
	maxDocumentBytes = 1 << 20
	maxKeys          = 100
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
// it looks (1s in production keeps new providers prompt).
func (k *KeySets) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		k.mu.Lock()
		due := make([]*keySet, 0, len(k.sets))
		for _, s := range k.sets {
			if s.due(k.opts.Now()) {
				due = append(due, s)
			}
		}
		k.mu.Unlock()
		var wg sync.WaitGroup
		for _, s := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = s.refresh(ctx, false)
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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

// keySet is one provider's keys.
type keySet struct {
	provider policy.Provider
	opts     Options
	client   *http.Client

	refreshMu sync.Mutex // serializes fetches: one in flight per provider

	mu          sync.RWMutex
	keys        map[string]*cachedKey
	algs        []string // allowed: advertised ∩ asymmetricAlgs
	issuer      string   // as discovered
	fetches     uint64   // attempts so far; lets a waiting caller see that someone else fetched
	lastAttempt time.Time
	lastSuccess time.Time
	lastErr     error
	lastForced  time.Time
}

type cachedKey struct {
	key          crypto.PublicKey
	missingSince time.Time // first successful fetch that lacked it; zero if present
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
		DialContext:           opts.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: opts.HTTPTimeout,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       90 * time.Second,
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

func (s *keySet) due(now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.lastAttempt.IsZero() {
		return true
	}
	interval := s.opts.RefreshInterval
	if s.lastErr != nil {
		interval = s.opts.RetryInterval
	}
	return now.Sub(s.lastAttempt) >= interval
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

// refresh fetches the provider's keys. A forced refresh (unknown kid) is
// skipped when one happened within the cooldown; concurrent callers wait
// for the fetch in flight instead of starting their own.
func (s *keySet) refresh(ctx context.Context, forced bool) error {
	s.mu.RLock()
	seen := s.fetches
	s.mu.RUnlock()
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	started := s.opts.Now()
	s.mu.Lock()
	if s.fetches != seen {
		// Someone fetched while we waited for the lock: use theirs.
		err := s.lastErr
		s.mu.Unlock()
		return err
	}
	if forced {
		if !s.lastForced.IsZero() && started.Sub(s.lastForced) < s.opts.ForcedRefreshCooldown {
			s.mu.Unlock()
			return nil
		}
		s.lastForced = started
	}
	s.mu.Unlock()

	fetched, algs, issuer, err := s.fetch(ctx)
	now := s.opts.Now()
	s.mu.Lock()
	s.fetches++
	s.lastAttempt = now
	s.lastErr = err
	if err == nil {
		s.merge(fetched, now)
		s.algs, s.issuer, s.lastSuccess = algs, issuer, now
	}
	s.mu.Unlock()
	if s.opts.OnRefresh != nil {
		s.opts.OnRefresh(s.provider.Issuer, err)
	}
	if err != nil {
		s.opts.Log.Info("Provider key refresh failed; keeping the last good keys", "issuer", s.provider.Issuer, "error", err.Error(), "forced", forced)
	} else {
		s.opts.Log.V(1).Info("Provider keys refreshed", "issuer", s.provider.Issuer, "keys", len(fetched), "forced", forced)
	}
	return err
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
	if err := s.getJSON(ctx, base+"/.well-known/openid-configuration", &doc); err != nil {
		return nil, nil, "", fmt.Errorf("discovery: %w", err)
	}
	if strings.TrimSuffix(doc.Issuer, "/") != base {
		return nil, nil, "", fmt.Errorf("discovery: issuer %q does not match the configured %q", doc.Issuer, s.provider.Issuer)
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, nil, "", fmt.Errorf("discovery: jwks_uri %q is not an https URL", doc.JWKSURI)
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
			return nil, nil, "", fmt.Errorf("discovery: no asymmetric signing algorithm advertised (%v)", doc.Algs)
		}
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := s.getJSON(ctx, doc.JWKSURI, &set); err != nil {
		return nil, nil, "", fmt.Errorf("jwks: %w", err)
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
		return nil, nil, "", errors.New("jwks: no usable signing key")
	}
	return keys, algs, doc.Issuer, nil
}

func (s *keySet) getJSON(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocumentBytes)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: invalid JSON: %w", u, err)
	}
	return nil
}

// genericFetchError turns a fetch error into a reason without URLs or TLS
// details, fit for status.
func genericFetchError(err error) string {
	var nerr net.Error
	switch {
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timed out reaching the provider"
	case strings.Contains(err.Error(), "x509") || strings.Contains(err.Error(), "tls"):
		return "TLS failure reaching the provider"
	case strings.HasPrefix(err.Error(), "discovery:"):
		return "OIDC discovery failed"
	case strings.HasPrefix(err.Error(), "jwks:"):
		return "fetching the signing keys failed"
	default:
		return "the provider could not be reached"
	}
}
