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
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
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
	w := newUnsyncedWorld(tb, func(c *authn.Config) {
		c.MaxInFlight = maxInFlight
		c.Auditor = authn.NewAuditor(io.Discard, nil) // as cheap as a busy audit sink allows
	})
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, func(h *policy.Host) { h.SystemAssignedIdentity = armid.FoldASCII(vm.ObjectID) })
	return &inProcess{server: w.server, index: w.index, keys: w.keys, login: "host/apps/app", token: azure.Token(vm, azuretest.TokenOptions{})}
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

// BenchmarkAuthenticateOverHTTPS measures whole authentications against
// the real server over TLS (keep-alive connections, client and server on
// the same 2 cores), with parallel clients: the end-to-end throughput.
func BenchmarkAuthenticateOverHTTPS(b *testing.B) {
	ctx := context.Background()
	n := seq.Add(1)
	ns, svc, tenant := fmt.Sprintf("bench-%d", n), fmt.Sprintf("bench-%d", n), newTenant()
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"bench": ns}}},
		&authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: svc}, Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: azure.IssuerV1(tenant), CABundle: string(azure.CAPEM())}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bench": ns}}},
		}},
		&authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Spec: rgSpec("rg-apps")},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = k8s.Delete(ctx, o) }()
	}
	token := azure.Token(azuretest.VM(tenant, subscription, "rg-apps", "vm-1"), azuretest.TokenOptions{})
	path := baseURL + "/authn-azure/" + svc + "/" + account + "/host%2F" + ns + "%2Fapp/authenticate"
	post := func() int {
		resp, err := https.Post(path, "application/x-www-form-urlencoded", strings.NewReader("jwt="+token))
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(15 * time.Second)
	for post() != http.StatusOK {
		if time.Now().After(deadline) {
			b.Fatal("the benchmark host never authenticated")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportAllocs()
	b.SetParallelism(4) // 8 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s := post(); s != http.StatusOK {
				b.Errorf("status %d", s)
				return
			}
		}
	})
}

// BenchmarkRefusalTimings sends the same tokens, alternating in one run,
// to a known service and to an unknown one, and reports each pair's median
// and their ratio: what a caller timing 401s could learn about which
// services exist. Every refusal before a real signature check pays one
// dummy RS256 verification and the same parsing.
func BenchmarkRefusalTimings(b *testing.B) {
	p := newInProcess(b, 0)
	p.index.MarkSynced()
	warm := httptest.NewRecorder()
	p.server.Handler().ServeHTTP(warm, p.request()) // provider keys cached
	parts := strings.Split(p.token, ".")
	foreign := azure.Claims(azuretest.VM("00000000-0000-4000-8000-000000000000", subscription, "rg-apps", "vm-1"), azuretest.TokenOptions{})
	tokens := []struct{ name, token string }{
		{"bad-signature", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4] + "AAAA"},
		{"foreign-issuer", azure.Sign(foreign)},
		{"malformed", parts[0] + ".bm90LWpzb24." + parts[2]},
	}
	services := []string{"prod", "nope"}
	samples := map[[2]string][]time.Duration{}
	i := 0
	for b.Loop() {
		tok, svc := tokens[(i/2)%len(tokens)], services[i%2]
		r := httptest.NewRequest(http.MethodPost, "/authn-azure/"+svc+"/default/host%2Fapps%2Fapp/authenticate", strings.NewReader("jwt="+tok.token))
		r.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		start := time.Now()
		p.server.Handler().ServeHTTP(rec, r)
		key := [2]string{tok.name, svc}
		samples[key] = append(samples[key], time.Since(start))
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("%s at %s: %d %s", tok.name, svc, rec.Code, rec.Body)
		}
		i++
	}
	for _, tok := range tokens {
		known, unknown := median(samples[[2]string{tok.name, "prod"}]), median(samples[[2]string{tok.name, "nope"}])
		b.ReportMetric(float64(known.Microseconds()), "µs-"+tok.name+"-known")
		if known > 0 {
			b.ReportMetric(float64(unknown)/float64(known), "unknown/known-"+tok.name)
		}
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
