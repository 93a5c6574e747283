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

package authn_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/authn/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/authn/armid"
	"github.com/azure-authenticator/azure-authenticator/authn/azuread"
	"github.com/azure-authenticator/azure-authenticator/authn/azuretest"
	"github.com/azure-authenticator/azure-authenticator/authn/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
)

// staticKeys serves a fixed ring (or none).
type staticKeys struct {
	ring atomic.Pointer[accesstoken.Ring]
}

func (s *staticKeys) Ring() *accesstoken.Ring { return s.ring.Load() }

// inProcess is a server without a listener or an API server: its index is
// filled by hand. For handler-level tests and the benchmark.
type inProcess struct {
	server *authn.Server
	index  *policy.Index
	keys   *staticKeys
	login  string
	token  string
}

func newInProcess(tb testing.TB, maxInFlight int) *inProcess {
	tb.Helper()
	tenant := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	ix := policy.NewIndex()
	ix.PutNamespace("apps", labels.Set{"team": "a"})
	sel, _ := labels.Parse("team=a")
	ix.PutAuthenticator(&policy.Authenticator{
		ServiceID: "prod", Enabled: true, TokenTTL: 8 * time.Minute, ClockSkew: time.Minute,
		Audiences: []string{"https://management.azure.com/"}, NamespaceSelector: sel, HostSelector: labels.Everything(),
		Providers: []policy.Provider{{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}},
	})
	vm := azuretest.VM(tenant, subscription, "rg-apps", "vm-1")
	ix.PutHost(&policy.Host{ID: policy.HostID{Namespace: "apps", Name: "app"}, UID: "u1", Generation: 1,
		SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: armid.FoldASCII(vm.ObjectID)})
	keys := &staticKeys{}
	k, err := accesstoken.NewSigningKey(time.Now(), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	keys.ring.Store(accesstoken.NewRing([]*accesstoken.SigningKey{k}))
	srv, err := authn.NewServer(authn.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil },
		Account:        "default", Index: ix, Signing: keys, MaxInFlight: maxInFlight,
		Keys: azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &inProcess{server: srv, index: ix, keys: keys, login: "host/apps/app", token: azure.Token(vm, azuretest.TokenOptions{})}
}

func (p *inProcess) request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/authn-azure/prod/default/"+url.PathEscape(p.login)+"/authenticate", strings.NewReader("jwt="+p.token))
	r.RemoteAddr = "127.0.0.1:40000"
	return r
}

func TestNothingIsDecidedBeforeTheIndexSyncsAndKeysLoad(t *testing.T) {
	p := newInProcess(t, 0)
	for _, state := range []string{"index not synced", "no signing keys"} {
		if state == "no signing keys" {
			p.index.MarkSynced()
			p.keys.ring.Store(nil)
		}
		rec := httptest.NewRecorder()
		p.server.Handler().ServeHTTP(rec, p.request())
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "AZAUTH009E") {
			t.Fatalf("%s: %d %v %s", state, rec.Code, rec.Header(), rec.Body)
		}
	}
	if err := p.server.Ready(); err == nil {
		t.Fatal("Ready() with no listener and no keys")
	}
}

// BenchmarkAuthenticate measures one successful authentication in process:
// body parsing, RS256 verification, claim checks, matching, admission and
// signing an access token (provider keys cached).
func BenchmarkAuthenticate(b *testing.B) {
	p := newInProcess(b, 0)
	p.index.MarkSynced()
	warm := httptest.NewRecorder()
	p.server.Handler().ServeHTTP(warm, p.request())
	if warm.Code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", warm.Code, warm.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.server.Handler().ServeHTTP(rec, p.request())
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkAuthenticateRefused measures the cheapest refusal that still
// verifies a signature: a valid token for a host it does not match.
func BenchmarkAuthenticateRefused(b *testing.B) {
	p := newInProcess(b, 0)
	p.index.MarkSynced()
	p.login = "host/apps/other"
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.server.Handler().ServeHTTP(rec, p.request())
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("%d", rec.Code)
		}
	}
}
