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
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/secrets"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// world is a server fed by hand (no API server), with its own audit log,
// for handler-level tests of decisions that need a particular setup:
// trusted proxies, CIDRs, tenant pins, several providers.
type world struct {
	t      testing.TB
	server *authn.Handler
	index  *policy.Index
	audit  *syncBuffer
	keys   *staticKeys
	tenant string // the first provider's tenant
}

// newWorld serves authenticator "prod" in account "default" with the
// given providers (default: one v1 issuer of a fresh tenant), admitting
// every host of namespace "apps"; its index has synced.
func newWorld(t testing.TB, mutate func(*authn.Config), providers ...policy.Provider) *world {
	t.Helper()
	w := newUnsyncedWorld(t, mutate, providers...)
	w.index.MarkSynced()
	return w
}

// newUnsyncedWorld is newWorld before the index has synced.
func newUnsyncedWorld(t testing.TB, mutate func(*authn.Config), providers ...policy.Provider) *world {
	t.Helper()
	tenant := newTenant()
	if len(providers) == 0 {
		providers = []policy.Provider{{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}}
	} else {
		tenant = providers[0].TenantID
	}
	ix := policy.NewIndex()
	ix.PutNamespace("apps", labels.Set{"team": "a"})
	sel, _ := labels.Parse("team=a")
	ix.PutAuthenticator(&policy.Authenticator{
		ServiceID: "prod", Enabled: true, TokenTTL: 8 * time.Minute, ClockSkew: time.Minute,
		Audiences:         []string{"https://management.azure.com/", azuretest.DefaultV2Audience},
		NamespaceSelector: sel, HostSelector: labels.Everything(), Providers: providers,
	})
	key, err := accesstoken.NewSigningKey(time.Now().Add(-time.Minute), time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, index: ix, audit: &syncBuffer{}, keys: &staticKeys{}, tenant: tenant}
	w.keys.ring.Store(accesstoken.NewRing([]*accesstoken.SigningKey{key}))
	cfg := authn.Config{
		Account: "default", Index: ix, Signing: w.keys,
		Keys:  azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext}),
		Audit: w.audit,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	if w.server, err = authn.New(cfg); err != nil {
		t.Fatal(err)
	}
	return w
}

// host indexes apps/<name> for the VM's subscription and resource group.
func (w *world) host(name string, vm azuretest.Identity, mutate func(*policy.Host)) {
	id, err := armid.Parse(vm.MIRID)
	if err != nil {
		w.t.Fatal(err)
	}
	h := &policy.Host{ID: policy.HostID{Namespace: "apps", Name: name}, UID: "uid-" + name, Generation: 1,
		SubscriptionID: armid.FoldASCII(id.SubscriptionID), ResourceGroup: armid.FoldASCII(id.ResourceGroup)}
	if mutate != nil {
		mutate(h)
	}
	w.index.PutHost(h)
}

// serve runs one request through the server's handler.
func (w *world) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	w.server.ServeHTTP(rec, r)
	return rec
}

func (w *world) authenticate(login, token, peer string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/authn-azure/prod/default/"+url.PathEscape(login)+"/authenticate", strings.NewReader("jwt="+token))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = peer
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return w.serve(r)
}

// lastEvent is the newest audit line, which must carry the response's
// request id.
func (w *world) lastEvent(rec *httptest.ResponseRecorder) authn.AuditEvent {
	w.t.Helper()
	evs := w.audit.events()
	if len(evs) == 0 {
		w.t.Fatal("no audit line")
	}
	e := evs[len(evs)-1]
	if id := rec.Header().Get(authn.RequestIDHeader); id == "" || e.RequestID != id {
		w.t.Fatalf("audit line request id %q, response %s %q", e.RequestID, authn.RequestIDHeader, id)
	}
	return e
}

func (w *world) expectRefused(rec *httptest.ResponseRecorder, code, clientIP string) {
	w.t.Helper()
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != unauthorized {
		w.t.Fatalf("got %d %s, want the generic 401", rec.Code, rec.Body)
	}
	e := w.lastEvent(rec)
	if e.Result != "failure" || e.Code != code || (clientIP != "" && e.ClientIP != clientIP) {
		w.t.Fatalf("audit = %+v, want %s from %s", e, code, clientIP)
	}
}

func (w *world) expectOK(rec *httptest.ResponseRecorder) {
	w.t.Helper()
	if rec.Code != http.StatusOK {
		w.t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
	}
}

// A host's allowedCIDRs hold directly and through a trusted proxy; an
// X-Forwarded-For that cannot be read never lends the proxy's own address
// to the client, even when the host allows the proxies' subnet.
func TestAllowedCIDRsHoldDirectlyAndThroughTrustedProxies(t *testing.T) {
	w := newWorld(t, func(c *authn.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")} })
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, func(h *policy.Host) {
		h.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("10.0.0.0/24")}
	})
	token := azure.Token(vm, azuretest.TokenOptions{})
	login := "host/apps/app"

	w.expectOK(w.authenticate(login, token, "192.0.2.7:5000"))
	w.expectRefused(w.authenticate(login, token, "198.51.100.7:5000"), "CONJ00003E", "198.51.100.7")

	proxy := "10.0.0.4:443"
	w.expectOK(w.authenticate(login, token, proxy, "X-Forwarded-For", "192.0.2.9"))
	w.expectOK(w.authenticate(login, token, proxy, "X-Forwarded-For", "192.0.2.9:61000"))                   // Application Gateway
	w.expectOK(w.authenticate(login, token, proxy, "X-Forwarded-For", "198.51.100.1, 192.0.2.9, 10.0.0.5")) // left of the client: not believed
	w.expectRefused(w.authenticate(login, token, proxy, "X-Forwarded-For", "198.51.100.7"), "CONJ00003E", "198.51.100.7")
	w.expectRefused(w.authenticate(login, token, proxy, "X-Forwarded-For", "192.0.2.9, 198.51.100.7:8443"), "CONJ00003E", "198.51.100.7")
	for _, xff := range []string{"unknown", "garbage", "192.0.2.9, unknown", "10.0.0.5", "", "fe80::1%eth0", "[2001:db8::1]"} {
		rec := w.authenticate(login, token, proxy, "X-Forwarded-For", xff)
		w.expectRefused(rec, "CONJ00003E", "unknown")
	}
	// IPv6 with a port, as some proxies write it.
	w6 := newWorld(t, func(c *authn.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")} })
	vm6 := azuretest.VM(w6.tenant, subscription, "rg-apps", "vm-1")
	w6.host("app", vm6, func(h *policy.Host) { h.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("2001:db8::/64")} })
	w6.expectOK(w6.authenticate(login, azure.Token(vm6, azuretest.TokenOptions{}), proxy, "X-Forwarded-For", "[2001:db8::1]:443"))
}

// A host pinned to a tenant refuses a token of another tenant, even from
// another provider the authenticator trusts.
func TestHostTenantPinRefusesAnotherTenant(t *testing.T) {
	a, b := newTenant(), newTenant()
	w := newWorld(t, nil,
		policy.Provider{Issuer: azure.IssuerV1(a), TenantID: a, CABundle: azure.CAPEM()},
		policy.Provider{Issuer: azure.IssuerV1(b), TenantID: b, CABundle: azure.CAPEM()})
	vmA := azuretest.VM(a, subscription, "rg-apps", "vm-1")
	vmB := azuretest.VM(b, subscription, "rg-apps", "vm-1")
	w.host("app", vmA, func(h *policy.Host) { h.TenantID = armid.FoldASCII(a) })
	w.expectOK(w.authenticate("host/apps/app", azure.Token(vmA, azuretest.TokenOptions{}), "127.0.0.1:1"))
	w.expectRefused(w.authenticate("host/apps/app", azure.Token(vmB, azuretest.TokenOptions{}), "127.0.0.1:1"), "AZAUTH002E", "")
}

// An authenticator with two providers (a v1 issuer of one tenant, a v2
// issuer of another) accepts tokens of both and binds each to its own
// tenant: a token naming one provider's issuer with the other's tid fails.
func TestTwoProvidersEachBindTheirOwnTenant(t *testing.T) {
	a, b := newTenant(), newTenant()
	w := newWorld(t, nil,
		policy.Provider{Issuer: azure.IssuerV1(a), TenantID: a, CABundle: azure.CAPEM()},
		policy.Provider{Issuer: azure.IssuerV2(b), TenantID: b, CABundle: azure.CAPEM()})
	vmA := azuretest.VM(a, subscription, "rg-apps", "vm-a")
	vmB := azuretest.VM(b, subscription, "rg-apps", "vm-b")
	w.host("app", vmA, nil)
	w.expectOK(w.authenticate("host/apps/app", azure.Token(vmA, azuretest.TokenOptions{}), "127.0.0.1:1"))
	w.expectOK(w.authenticate("host/apps/app", azure.Token(vmB, azuretest.TokenOptions{V2: true}), "127.0.0.1:1"))

	crossed := azure.Claims(vmA, azuretest.TokenOptions{})
	crossed["tid"] = b // issuer of tenant a, tid of tenant b
	w.expectRefused(w.authenticate("host/apps/app", azure.Sign(crossed), "127.0.0.1:1"), "AZAUTH002E", "")
	v1OfB := azure.Claims(vmB, azuretest.TokenOptions{}) // tenant b's v1 issuer is not trusted
	w.expectRefused(w.authenticate("host/apps/app", azure.Sign(v1OfB), "127.0.0.1:1"), "CONJ00035E", "")
}

// No Authorization value makes any route answer anything but the generic
// 401 with an audit line; `Token token="` once panicked into a 500.
func TestMalformedAuthorizationIsTheGeneric401OnEveryRoute(t *testing.T) {
	w := newWorld(t, nil)
	routes := []string{"/whoami", "/secrets/default/variable/apps%2Fs%2Fk", "/secrets?variable_ids=default:variable:apps/s/k", "/authn-azure/prod/default/status"}
	values := []string{
		``, `Token`, `Token token=`, `Token token="`, `Token token=""`, `Token token="""`, `Token token="e30="`,
		`Token token="!!"`, `Bearer abc`, `Token token="` + strings.Repeat("QUFB", 3000) + `"`, "Token token=\"\xff\xfe\"",
		`Token token="eyJwcm90ZWN0ZWQiOiIiLCJwYXlsb2FkIjoiIiwic2lnbmF0dXJlIjoiIn0="`,
	}
	for _, route := range routes {
		for _, v := range values {
			r := httptest.NewRequest(http.MethodGet, route, nil)
			if v != "" {
				r.Header.Set("Authorization", v)
			}
			rec := w.serve(r)
			if rec.Code != http.StatusUnauthorized || rec.Body.String() != unauthorized {
				t.Fatalf("%s with %.40q: %d %s", route, v, rec.Code, rec.Body)
			}
			if e := w.lastEvent(rec); e.Result != "failure" || e.Code != "AZAUTH012E" {
				t.Fatalf("%s with %.40q: audit %+v", route, v, e)
			}
		}
	}
}

// Every response, refusals included, carries a fresh request id.
func TestEveryResponseCarriesARequestID(t *testing.T) {
	w := newWorld(t, nil)
	seen := map[string]bool{}
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil),
		httptest.NewRequest(http.MethodGet, "/nowhere", nil),
		httptest.NewRequest(http.MethodPut, "/whoami", nil),
		httptest.NewRequest(http.MethodPost, "/authn-azure/prod/default/host%2Fapps%2Fapp/authenticate", strings.NewReader("jwt=a.b.c")),
	} {
		id := w.serve(r).Header().Get(authn.RequestIDHeader)
		if len(id) != 24 || seen[id] {
			t.Fatalf("%s %s: request id %q (seen before: %v)", r.Method, r.URL, id, seen[id])
		}
		seen[id] = true
	}
}

// Clients that send their headers and withhold the body hold connections,
// not in-flight slots: with more of them than --max-in-flight, an honest
// client still authenticates at once, and each stalled upload is answered
// 408 once its body deadline passes.
func TestStalledUploadsDoNotStarveHonestClients(t *testing.T) {
	const stalled = 300 // more than DefaultMaxInFlight
	w := newWorld(t, nil)
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, nil)
	var entered atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		w.server.ServeHTTP(rw, r)
	}))
	srv.EnableHTTP2 = false
	srv.StartTLS()
	t.Cleanup(srv.Close)

	var wg sync.WaitGroup
	statuses := make(chan string, stalled)
	for range stalled {
		conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test server's own certificate
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_, _ = fmt.Fprintf(conn, "POST /authn-azure/prod/default/host%%2Fapps%%2Fapp/authenticate HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\njwt=")
		wg.Add(1)
		go func() {
			defer wg.Done()
			line, _ := bufio.NewReader(conn).ReadString('\n')
			statuses <- strings.TrimSpace(line)
		}()
	}
	testenv.Eventually(t, "every stalled upload inside the handler", func() error {
		if n := entered.Load(); n < stalled {
			return fmt.Errorf("%d of %d", n, stalled)
		}
		return nil
	})

	start := time.Now()
	resp, err := srv.Client().Post(srv.URL+"/authn-azure/prod/default/"+url.PathEscape("host/apps/app")+"/authenticate",
		"application/x-www-form-urlencoded", strings.NewReader("jwt="+azure.Token(vm, azuretest.TokenOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("honest client during %d stalled uploads: %d", stalled, resp.StatusCode)
	}
	t.Logf("honest authentication during %d stalled uploads took %v", stalled, time.Since(start))

	wg.Wait()
	close(statuses)
	for s := range statuses {
		if !strings.Contains(s, " 408 ") {
			t.Fatalf("a stalled upload was answered %q, want 408", s)
		}
	}
	var e authn.AuditEvent
	for _, ev := range w.audit.events() {
		if ev.Code == "AZAUTH016E" {
			e = ev
		}
	}
	if e.Operation != "authenticate" || e.Result != "failure" {
		t.Fatalf("no audit line for a stalled upload: %+v", e)
	}
}

// Every 401 the authenticate route answers before a real signature check
// pays exactly one signature verification, like the real path, so its
// timing does not tell unknown services, accounts, disabled authenticators
// or malformed tokens from a bad signature. Counted per request, not timed.
func TestEveryEarlyRefusalPaysOneSignatureVerification(t *testing.T) {
	w := newWorld(t, nil)
	w.index.PutAuthenticator(&policy.Authenticator{ServiceID: "off", Enabled: false, HostSelector: labels.Everything()})
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, nil)
	claims := azure.Claims(vm, azuretest.TokenOptions{})
	good := azure.Sign(claims)
	w.expectOK(w.authenticate("host/apps/app", good, "127.0.0.1:1")) // provider keys now cached
	parts := strings.Split(good, ".")
	foreign := azure.Claims(vm, azuretest.TokenOptions{})
	foreign["iss"] = "https://sts.windows.net/" + newTenant() + "/"

	cases := []struct{ name, path, token, code string }{
		{"unknown service", "/authn-azure/nope/default/host%2Fapps%2Fapp/authenticate", good, "CONJ00005E"},
		{"wrong account", "/authn-azure/prod/other/host%2Fapps%2Fapp/authenticate", good, "CONJ00008E"},
		{"disabled authenticator", "/authn-azure/off/default/host%2Fapps%2Fapp/authenticate", good, "CONJ00004E"},
		{"two parts", "", parts[0] + "." + parts[1], "CONJ00077E"},
		{"header not base64url", "", "!!." + parts[1] + "." + parts[2], "CONJ00035E"},
		{"payload not JSON", "", parts[0] + ".bm90LWpzb24." + parts[2], "CONJ00035E"},
		{"alg none", "", azuretest.Segment(map[string]any{"alg": "none", "kid": "k"}) + "." + parts[1] + "." + parts[2], "CONJ00035E"},
		{"no kid", "", azuretest.Segment(map[string]any{"alg": "RS256"}) + "." + parts[1] + "." + parts[2], "CONJ00035E"},
		{"foreign iss", "", azure.Sign(foreign), "CONJ00035E"},
		{"unknown kid", "", azure.SignWithHeader(map[string]any{"alg": "RS256", "kid": "nope", "typ": "JWT"}, claims), "CONJ00035E"},
		{"bad signature", "", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4] + "AAAA", "CONJ00035E"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/authn-azure/prod/default/host%2Fapps%2Fapp/authenticate"
			}
			var n atomic.Int64
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader("jwt="+tc.token))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r = r.WithContext(azuread.WithVerificationCounter(r.Context(), &n))
			rec := w.serve(r)
			w.expectRefused(rec, tc.code, "")
			if got := n.Load(); got != 1 {
				t.Fatalf("%d signature verifications, want exactly 1", got)
			}
		})
	}
	var n atomic.Int64
	r := httptest.NewRequest(http.MethodPost, "/authn-azure/prod/default/host%2Fapps%2Fapp/authenticate", strings.NewReader("jwt="+good))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w.expectOK(w.serve(r.WithContext(azuread.WithVerificationCounter(r.Context(), &n))))
	if n.Load() != 1 {
		t.Fatalf("a success made %d signature verifications, want 1", n.Load())
	}
}

// staticKeys serves a fixed ring (or none).
type staticKeys struct {
	ring atomic.Pointer[accesstoken.Ring]
}

func (s *staticKeys) Ring() *accesstoken.Ring { return s.ring.Load() }

// inProcess is a server without a listener or an API server: its index is
// filled by hand. For handler-level tests and the benchmark.
type inProcess struct {
	server *authn.Handler
	index  *policy.Index
	keys   *staticKeys
	login  string
	token  string
}

func newInProcess(tb testing.TB, maxInFlight int) *inProcess {
	tb.Helper()
	return newInProcessWith(tb, func(c *authn.Config) { c.MaxInFlight = maxInFlight })
}

func newInProcessWith(tb testing.TB, mutate func(*authn.Config)) *inProcess {
	tb.Helper()
	w := newUnsyncedWorld(tb, func(c *authn.Config) {
		c.Audit = io.Discard // as cheap as a busy audit sink allows
		mutate(c)
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
		p.server.ServeHTTP(rec, p.request())
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
	p.server.ServeHTTP(warm, p.request())
	if warm.Code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", warm.Code, warm.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		p.server.ServeHTTP(rec, p.request())
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
		p.server.ServeHTTP(rec, p.request())
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("%d", rec.Code)
		}
	}
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
	p.server.ServeHTTP(warm, p.request()) // provider keys cached
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
		p.server.ServeHTTP(rec, r)
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

// Every route answers its failures from failure's one (route, code) table
// and finishes through respond: the status route's unknown service is 404
// where authenticate's is the generic 401; the token routes serve the
// host's granted Secrets; every outcome leaves one audit line per variable.
func TestEveryRouteAnswersFromTheOneTable(t *testing.T) {
	store := secrets.NewStore()
	store.MarkSynced()
	store.Put("apps", "db", secrets.Compile("apps", "db", map[string]string{secrets.ExposeLabel: "true"},
		map[string]string{secrets.AllowedHostsAnnotation: "app"}, map[string][]byte{"user": []byte("admin"), "bin": {0xff}}))
	w := newWorld(t, func(c *authn.Config) { c.Secrets = store })
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, nil)
	rec := w.authenticate("host/apps/app", azure.Token(vm, azuretest.TokenOptions{}), "127.0.0.1:1")
	w.expectOK(rec)
	authz := `Token token="` + base64.StdEncoding.EncodeToString(rec.Body.Bytes()) + `"`
	get := func(path string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("Authorization", authz)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return w.serve(r)
	}

	for _, tc := range []struct {
		name, path      string
		status          int
		body, code, op  string
		variablesAudits int
	}{
		{"status of the token's service", "/authn-azure/prod/default/status", 200, `{"status":"ok"}`, "", "validate-status", 0},
		{"status of an unknown service: 404 there", "/authn-azure/nope/default/status", 404, "", "CONJ00005E", "validate-status", 0},
		{"status for another account", "/authn-azure/prod/other/status", 401, unauthorized, "AZAUTH012E", "validate-status", 0},
		{"one secret", "/secrets/default/variable/apps%2Fdb%2Fuser", 200, "admin", "", "fetch", 1},
		{"one secret, fully qualified", "/secrets/default/variable/default%3Avariable%3Aapps%2Fdb%2Fuser", 200, "admin", "", "fetch", 1},
		{"a key the Secret lacks", "/secrets/default/variable/apps/db/nope", 404, "", "CONJ00076E", "fetch", 1},
		{"another namespace's variable", "/secrets/default/variable/other/db/user", 404, "", "CONJ00076E", "fetch", 1},
		{"a version", "/secrets/default/variable/apps/db/user?version=2", 404, "", "CONJ00076E", "fetch", 1},
		{"another account", "/secrets/other/variable/apps/db/user", 401, unauthorized, "AZAUTH012E", "fetch", 0},
		// Path text never stands for the account served.
		{"an account segment of NUL+served", "/secrets/%00served/variable/apps%2Fdb%2Fuser", 401, unauthorized, "AZAUTH012E", "fetch", 0},
		{"an empty account segment", "/secrets//variable/apps%2Fdb%2Fuser", 401, unauthorized, "AZAUTH012E", "fetch", 0},
		{"status at an account segment of NUL+served", "/authn-azure/prod/%00served/status", 401, unauthorized, "AZAUTH012E", "validate-status", 0},
		{"batch", "/secrets?variable_ids=apps/db/user", 200, `{"apps/db/user":"admin"}`, "", "fetch", 1},
		{"batch without ids", "/secrets", 400, "", "AZAUTH015E", "fetch", 0},
		{"batch of a value that is not UTF-8", "/secrets?variable_ids=apps/db/user,apps/db/bin", 406, "", "AZAUTH013E", "fetch", 1},
		{"whoami", "/whoami", 200, "", "", "identity-check", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.audit.events())
			rec := get(tc.path)
			if rec.Code != tc.status || tc.body != "" && rec.Body.String() != tc.body || tc.code != "" && !strings.Contains(rec.Body.String(), tc.code) && rec.Code != 401 {
				t.Fatalf("%s: %d %s, want %d %s %s", tc.path, rec.Code, rec.Body, tc.status, tc.body, tc.code)
			}
			evs := w.audit.events()[before:]
			if len(evs) != max(1, tc.variablesAudits) {
				t.Fatalf("%d audit lines, want %d: %+v", len(evs), max(1, tc.variablesAudits), evs)
			}
			e := w.lastEvent(rec)
			if e.Operation != tc.op || e.Code != tc.code || (tc.code == "") != (e.Result == "success") {
				t.Fatalf("audit %+v, want operation %s code %q", e, tc.op, tc.code)
			}
			if tc.variablesAudits > 0 && e.Variable == "" {
				t.Fatalf("audit %+v names no variable", e)
			}
			if strings.Contains(w.audit.buf.String(), "admin") {
				t.Fatal("a secret value reached the audit log")
			}
		})
	}
	// Base64 on request, for the values JSON cannot carry.
	if rec := get("/secrets?variable_ids=apps/db/bin", "Accept-Encoding", "base64"); rec.Code != 200 || rec.Header().Get("Content-Encoding") != "base64" ||
		rec.Body.String() != `{"apps/db/bin":"/w=="}` {
		t.Fatalf("base64 batch: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// The one route whose unknown service is not a 404.
	if rec = w.serve(httptest.NewRequest(http.MethodPost, "/authn-azure/nope/default/host%2Fapps%2Fapp/authenticate",
		strings.NewReader("jwt="+azure.Token(vm, azuretest.TokenOptions{})))); rec.Code != 401 || rec.Body.String() != unauthorized {
		t.Fatalf("authenticate at an unknown service: %d %s", rec.Code, rec.Body)
	}
	if e := w.lastEvent(rec); e.Code != "CONJ00005E" {
		t.Fatalf("audit %+v", e)
	}
	// Every route answers one method; no route is a 404 with no audit line.
	before := len(w.audit.events())
	if rec := w.serve(httptest.NewRequest(http.MethodPost, "/whoami", nil)); rec.Code != 405 || rec.Header().Get("Allow") != http.MethodGet {
		t.Fatalf("POST /whoami: %d %v", rec.Code, rec.Header())
	}
	if rec := w.serve(httptest.NewRequest(http.MethodGet, "/nothing", nil)); rec.Code != 404 {
		t.Fatalf("GET /nothing: %d", rec.Code)
	}
	if got := len(w.audit.events()); got != before {
		t.Fatalf("%d audit lines for 404 and 405", got-before)
	}
}

// With the verified-token cache on, a token presented again is still
// decided in full: one audit line per request, the client address and the
// host checked every time.
func TestACachedTokenIsStillDecidedEveryTime(t *testing.T) {
	w := newWorld(t, func(c *authn.Config) { c.VerifiedTokenCache = 100 })
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, func(h *policy.Host) { h.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")} })
	token := azure.Token(vm, azuretest.TokenOptions{})
	before := len(w.audit.events())
	w.expectOK(w.authenticate("host/apps/app", token, "10.0.0.7:1"))
	w.expectOK(w.authenticate("host/apps/app", token, "10.0.0.7:1"))
	w.expectRefused(w.authenticate("host/apps/app", token, "192.0.2.1:1"), "CONJ00003E", "192.0.2.1")
	w.index.DeleteHost(policy.HostID{Namespace: "apps", Name: "app"})
	w.expectRefused(w.authenticate("host/apps/app", token, "10.0.0.7:1"), "CONJ00007E", "10.0.0.7")
	if got := len(w.audit.events()) - before; got != 4 {
		t.Fatalf("%d audit lines for 4 requests", got)
	}
}
