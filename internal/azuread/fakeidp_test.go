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
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// fakeIdP is a loopback OIDC provider with the knobs these tests need and
// azuretest.Server does not have: requests held until released,
// conditional GETs, per-path failures, EC keys and any advertised algs.
type fakeIdP struct {
	t      *testing.T
	srv    *httptest.Server
	tenant string

	mu          sync.Mutex
	published   []testKey
	algs        []string
	status      int // answer every request with it (0: normal)
	jwksStatus  int // answer JWKS requests with it (0: normal)
	validators  bool
	held        chan struct{} // non-nil: requests wait until it is closed
	arrived     chan string   // when set, gets the path of each request
	always304   bool
	claimIssuer string // discovery names this issuer instead (an impostor)
	ifNoneMatch []string

	discovery, jwks, notModified atomic.Int64
}

type testKey struct {
	id   string
	priv crypto.Signer
}

var (
	rsaKeysMu sync.Mutex
	rsaKeys   []*rsa.PrivateKey
)

// rsaKey returns the i-th RSA key of the package's tests, generated once.
func rsaKey(t testing.TB, i int) testKey {
	rsaKeysMu.Lock()
	defer rsaKeysMu.Unlock()
	for len(rsaKeys) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKeys = append(rsaKeys, k)
	}
	return testKey{id: fmt.Sprintf("rsa-%d", i), priv: rsaKeys[i]}
}

func ecKey(t testing.TB) testKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{id: "ec-0", priv: k}
}

func newFakeIdP(t *testing.T, keys ...testKey) *fakeIdP {
	f := &fakeIdP{t: t, tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47", published: keys, algs: []string{"RS256"}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	f.srv.StartTLS()
	t.Cleanup(func() {
		f.release()
		f.srv.Close()
	})
	return f
}

func (f *fakeIdP) issuer() string { return f.srv.URL + "/" + f.tenant + "/" }

func (f *fakeIdP) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

// otherCAPEM is a CA certificate that signed none of the test servers'
// (httptest servers all share one certificate).
func otherCAPEM(t *testing.T) []byte {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func (f *fakeIdP) provider() policy.Provider {
	return policy.Provider{Issuer: f.issuer(), TenantID: f.tenant, CABundle: f.caPEM()}
}

func (f *fakeIdP) set(change func(f *fakeIdP)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// hold makes requests wait until release (or until their client leaves).
func (f *fakeIdP) hold() {
	f.set(func(f *fakeIdP) { f.held = make(chan struct{}) })
}

func (f *fakeIdP) release() {
	f.set(func(f *fakeIdP) {
		if f.held != nil {
			close(f.held)
			f.held = nil
		}
	})
}

func (f *fakeIdP) publish(keys ...testKey) {
	f.set(func(f *fakeIdP) { f.published = keys })
}

func (f *fakeIdP) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	held, arrived, status, jwksStatus := f.held, f.arrived, f.status, f.jwksStatus
	f.mu.Unlock()
	if arrived != nil {
		arrived <- r.URL.Path
	}
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			// Leave without an answer: returning would send an empty 200
			// that a client giving up at that instant might still read.
			panic(http.ErrAbortHandler)
		}
	}
	var doc any
	switch r.URL.Path {
	case "/" + f.tenant + "/.well-known/openid-configuration":
		f.discovery.Add(1)
		f.mu.Lock()
		issuer := f.issuer()
		if f.claimIssuer != "" {
			issuer = f.claimIssuer
		}
		doc = map[string]any{
			"issuer":                                issuer,
			"jwks_uri":                              f.srv.URL + "/" + f.tenant + "/discovery/keys",
			"id_token_signing_alg_values_supported": f.algs,
		}
		f.mu.Unlock()
	case "/" + f.tenant + "/discovery/keys":
		f.jwks.Add(1)
		if jwksStatus != 0 {
			status = jwksStatus
		}
		f.mu.Lock()
		var set jose.JSONWebKeySet
		for _, k := range f.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.id, Use: "sig"})
		}
		doc = set
		f.mu.Unlock()
	default:
		http.NotFound(w, r)
		return
	}
	if status != 0 {
		http.Error(w, "unavailable", status)
		return
	}
	body, err := json.Marshal(doc)
	if err != nil {
		f.t.Error(err)
		return
	}
	f.mu.Lock()
	validators, always304 := f.validators, f.always304
	f.ifNoneMatch = append(f.ifNoneMatch, r.Header.Get("If-None-Match"))
	f.mu.Unlock()
	if always304 {
		f.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if validators {
		sum := sha256.Sum256(body)
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2026 15:04:05 GMT")
		if r.Header.Get("If-None-Match") == etag {
			f.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// sign mints a token for the provider's tenant, signed with k, valid an
// hour from now.
func (f *fakeIdP) sign(k testKey, now time.Time) string {
	header := map[string]any{"typ": "JWT", "alg": "RS256", "kid": k.id}
	if _, ok := k.priv.(*rsa.PrivateKey); !ok {
		header["alg"] = "ES256"
	}
	return f.signWith(k, header, f.claims(now))
}

func (f *fakeIdP) claims(now time.Time) map[string]any {
	return map[string]any{
		"iss":       f.issuer(),
		"tid":       f.tenant,
		"oid":       "0b2f9c4b-5a8e-4f3a-9d52-3a6f7b0a1c2d",
		"xms_mirid": "/subscriptions/0f4c6c8e-7c31-4a39-8f2d-2f8e3b5a1d90/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1",
		"aud":       "https://management.azure.com/",
		"ver":       "1.0",
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
	}
}

func (f *fakeIdP) signWith(k testKey, header, claims map[string]any) string {
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		return azuretest.SignRS256(priv, header, claims)
	case *ecdsa.PrivateKey:
		input := azuretest.Segment(header) + "." + azuretest.Segment(claims)
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		if err != nil {
			f.t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	f.t.Fatalf("unknown key type %T", k.priv)
	return ""
}

func authenticatorFor(providers ...policy.Provider) *policy.Authenticator {
	return &policy.Authenticator{
		ServiceID: "prod", Enabled: true, Providers: providers,
		Audiences: []string{"https://management.azure.com/"}, ClockSkew: time.Minute,
	}
}

// testRig is a verifier over one fake provider on a fake clock.
type testRig struct {
	idp   *fakeIdP
	clock *clocktesting.FakeClock
	ks    *KeySets
	v     *Verifier
	auth  *policy.Authenticator
}

func newRig(t *testing.T, opts Options, keys ...testKey) *testRig {
	idp := newFakeIdP(t, keys...)
	clock := clocktesting.NewFakeClock(time.Unix(1800000000, 0))
	opts.DialContext = loopback.DialContext
	opts.Clock = clock
	ks := NewKeySets(opts)
	return &testRig{idp: idp, clock: clock, ks: ks, v: &Verifier{Keys: ks, Clock: clock}, auth: authenticatorFor(idp.provider())}
}

func (r *testRig) set(t *testing.T) *keySet {
	s, err := r.ks.ensure(r.idp.provider())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// inflight returns the fetch in flight, failing the test when there is none.
func (r *testRig) inflight(t *testing.T) *fetchCall {
	s := r.set(t)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.inflight == nil {
		t.Fatal("no fetch in flight")
	}
	return s.inflight
}

// codeOf is the failure code of err, "" when err is not a *failure.Error.
func codeOf(err error) failure.Code {
	var e *failure.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
