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

// Package azuretest is a faithful fake of Entra ID (Azure AD) for tests and
// the local emulator, in the spirit of net/http/httptest: it starts a TLS
// issuer on loopback that serves v1 and v2 OIDC discovery and JWKS for any
// tenant, rotates its signing keys on demand, can go down or slow down, and
// mints managed-identity tokens with the claims Azure puts in them for VMs,
// scale sets, App Service and Functions, Container Instances, Container Apps
// and user-assigned identities.
//
// Its issuers live on the emulator's own host (https://127.0.0.1:<port>/<tenant>/
// for v1, .../<tenant>/v2.0 for v2), so a verifier configured with such an
// issuer discovers and checks exactly as it would against Azure. It never
// contacts anything but loopback.
//
// A test fixture: only tests, hack/ and test/ import it; it imports only
// armid.
package azuretest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Key is one RSA signing key of the fake issuer.
type Key struct {
	ID      string
	Private *rsa.PrivateKey
}

// Server is a running fake Entra ID.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex
	published []*Key // served in JWKS, in this order
	signing   *Key   // signs minted tokens
	down      bool
	delay     time.Duration
	fakeIss   string // when set, discovery claims this issuer

	discoveryRequests atomic.Int64
	jwksRequests      atomic.Int64
	perTenant         sync.Map // tenant -> *atomic.Int64 of discovery requests

	// Now is the clock used for minted tokens; tests may replace it.
	Now func() time.Time
}

// NewServer starts a fake issuer on 127.0.0.1 with one signing key. Close it
// when done.
func NewServer() *Server {
	s := &Server{Now: time.Now}
	s.signing = newKey()
	s.published = []*Key{s.signing}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.StartTLS()
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's base URL, https://127.0.0.1:<port>.
func (s *Server) URL() string { return s.srv.URL }

// IssuerV1 is the v1 issuer of a tenant on this server, as in a v1 token's
// iss: <URL>/<tenant>/ (Azure: https://sts.windows.net/<tenant>/).
func (s *Server) IssuerV1(tenant string) string { return s.srv.URL + "/" + tenant + "/" }

// IssuerV2 is the v2 issuer: <URL>/<tenant>/v2.0
// (Azure: https://login.microsoftonline.com/<tenant>/v2.0).
func (s *Server) IssuerV2(tenant string) string { return s.srv.URL + "/" + tenant + "/v2.0" }

// CAPEM is the PEM certificate a client must trust to reach the server; put
// it in an AzureAuthenticator provider's caBundle.
func (s *Server) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Client returns an HTTP client that trusts the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// SigningKey is the key that signs newly minted tokens.
func (s *Server) SigningKey() *Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing
}

// RotateKeys publishes a new key and signs with it from now on; the old
// keys stay published (as Azure does during a rollover) until RetireKey.
func (s *Server) RotateKeys() *Key {
	k := newKey()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = append(s.published, k)
	s.signing = k
	return k
}

// RetireKey stops publishing a key.
func (s *Server) RetireKey(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.published[:0]
	for _, k := range s.published {
		if k.ID != id {
			kept = append(kept, k)
		}
	}
	s.published = kept
}

// SetDown makes every request fail with 503 (true) or work again (false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// SetDiscoveryIssuer makes discovery documents claim issuer instead of
// the real one ("" restores it): an impostor a verifier must refuse.
func (s *Server) SetDiscoveryIssuer(issuer string) {
	s.mu.Lock()
	s.fakeIss = issuer
	s.mu.Unlock()
}

// SetDelay makes every response wait d first (0: none). A waiting request
// ends early when its client gives up.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Requests returns how many discovery and JWKS requests were served.
func (s *Server) Requests() (discovery, jwks int64) {
	return s.discoveryRequests.Load(), s.jwksRequests.Load()
}

// DiscoveryRequests returns how many discovery requests named tenant.
func (s *Server) DiscoveryRequests(tenant string) int64 {
	if n, ok := s.perTenant.Load(tenant); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

func (s *Server) countDiscovery(tenant string) {
	s.discoveryRequests.Add(1)
	n, _ := s.perTenant.LoadOrStore(tenant, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

func newKey() *Key {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("azuretest: generating an RSA key: %v", err))
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(der)
	// Azure's kid and x5t are base64url thumbprints of this shape.
	return &Key{ID: base64.RawURLEncoding.EncodeToString(sum[:20]), Private: priv}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down, delay := s.down, s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if down {
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == "/admin/rotate" && r.Method == http.MethodPost {
		// Emulator admin call: publish a new key and sign with it.
		writeJSON(w, map[string]string{"kid": s.RotateKeys().ID})
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// /<tenant>/.well-known/openid-configuration, /<tenant>/v2.0/.well-known/...,
	// /<tenant>/discovery/keys, /<tenant>/discovery/v2.0/keys
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	tenant := parts[0]
	if !isGUID(tenant) {
		http.NotFound(w, r)
		return
	}
	rest := strings.Join(parts[1:], "/")
	switch rest {
	case ".well-known/openid-configuration":
		s.countDiscovery(tenant)
		writeJSON(w, s.discovery(tenant, false))
	case "v2.0/.well-known/openid-configuration":
		s.countDiscovery(tenant)
		writeJSON(w, s.discovery(tenant, true))
	case "discovery/keys":
		s.jwksRequests.Add(1)
		writeJSON(w, s.jwks(""))
	case "discovery/v2.0/keys":
		s.jwksRequests.Add(1)
		writeJSON(w, s.jwks(s.IssuerV2(tenant)))
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) discovery(tenant string, v2 bool) map[string]any {
	doc := map[string]any{
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
		"tenant_region_scope":                   "EU",
	}
	if v2 {
		doc["issuer"] = s.IssuerV2(tenant)
		doc["jwks_uri"] = s.srv.URL + "/" + tenant + "/discovery/v2.0/keys"
		doc["token_endpoint"] = s.srv.URL + "/" + tenant + "/oauth2/v2.0/token"
		doc["authorization_endpoint"] = s.srv.URL + "/" + tenant + "/oauth2/v2.0/authorize"
	} else {
		doc["issuer"] = s.IssuerV1(tenant)
		doc["jwks_uri"] = s.srv.URL + "/" + tenant + "/discovery/keys"
		doc["token_endpoint"] = s.srv.URL + "/" + tenant + "/oauth2/token"
		doc["authorization_endpoint"] = s.srv.URL + "/" + tenant + "/oauth2/authorize"
	}
	s.mu.Lock()
	if s.fakeIss != "" {
		doc["issuer"] = s.fakeIss
	}
	s.mu.Unlock()
	return doc
}

func (s *Server) jwks(issuer string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]map[string]any, 0, len(s.published))
	for _, k := range s.published {
		jwk := map[string]any{
			"kty": "RSA",
			"use": "sig",
			"kid": k.ID,
			"x5t": k.ID,
			"n":   base64.RawURLEncoding.EncodeToString(k.Private.N.Bytes()),
			"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.Private.E)).Bytes()),
		}
		if issuer != "" {
			jwk["issuer"] = issuer
		}
		keys = append(keys, jwk)
	}
	return map[string]any{"keys": keys}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// Sign signs claims with the current signing key (RS256) and the header
// Azure uses: typ, alg, kid, and x5t for v1 tokens.
func (s *Server) Sign(claims map[string]any) string {
	k := s.SigningKey()
	header := map[string]any{"typ": "JWT", "alg": "RS256", "kid": k.ID}
	if claims["ver"] != "2.0" {
		header["x5t"] = k.ID
	}
	return SignRS256(k.Private, header, claims)
}

// SignWithHeader signs claims with the current key under any header; for
// tests of headers a verifier must refuse.
func (s *Server) SignWithHeader(header, claims map[string]any) string {
	return SignRS256(s.SigningKey().Private, header, claims)
}

// SignRS256 builds a compact JWS with RS256 over header and claims as given.
func SignRS256(key *rsa.PrivateKey, header, claims map[string]any) string {
	signingInput := Segment(header) + "." + Segment(claims)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(fmt.Sprintf("azuretest: signing: %v", err))
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Segment is base64url(JSON(v)), one part of a compact JWS.
func Segment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
