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

package e2e

import (
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// slowWaitSlack is how much longer than the provider timeout a request
// waits for a key fetch (internal/azuread/wait.go, waitSlack): the bound
// the product puts on a request that needs keys from a hung provider.
const slowWaitSlack = time.Second

// slowHandling is what a request may take beyond that wait: TLS, the rest
// of its work, and the race detector on two shared cores.
const slowHandling = 2 * time.Second

// One authenticator's provider hangs (discovery never answers): its logins
// get the documented 401 with CONJ00010E within the product's bound on a
// key fetch, while another authenticator's logins, secret fetches and
// status keep answering, concurrently; when the provider answers again,
// logins succeed without a restart. The same holds when the provider hangs
// again later and a rotated key forces a refresh: the keys already cached
// keep working meanwhile.
func TestSlowProviderTimesOutAndHarmsNoOtherService(t *testing.T) {
	fetchTimeout := options(nil, nil).Testing.ProviderHTTPTimeout // the suite's provider timeout
	bound := fetchTimeout + slowWaitSlack + slowHandling

	backend := azuretest.NewServer()
	t.Cleanup(backend.Close)
	front := slowStartFront(t, backend)
	tenant := newTenant()
	issuer := front.URL + "/" + tenant + "/"
	backend.SetDiscoveryIssuer(issuer) // discovery through the front names it
	caBundle := string(backend.CAPEM()) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}))
	// Tokens as the provider mints them (no two alike: uti differs), with
	// its current key or a given one.
	slowClaims := func() map[string]any {
		c := backend.Claims(azuretest.VM(tenant, subscription, "rg-apps", "vm-1"), azuretest.TokenOptions{})
		c["iss"], c["idp"] = issuer, issuer
		return c
	}
	slowToken := func() string { return backend.Sign(slowClaims()) }
	slowTokenBy := func(k *azuretest.Key) string {
		return azuretest.SignRS256(k.Private, map[string]any{"typ": "JWT", "alg": "RS256", "kid": k.ID, "x5t": k.ID}, slowClaims())
	}

	// The healthy service, keys loaded, with a secret.
	healthy := newFixture(t)
	healthy.host("app", rgSpec("rg-apps"))
	healthy.exposedSecret("db", "app", map[string][]byte{"password": []byte("s3cr3t")})
	healthyVM := healthy.vm("rg-apps", "vm-1")
	healthyAccess := healthy.accessToken("app", healthyVM)

	// The slow service: its provider hangs from the start.
	front.setHanging(true)
	slow := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.Providers = []authnv1alpha1.Provider{{URI: issuer, CABundle: caBundle}}
	})
	slow.host("app", rgSpec("rg-apps"))
	testenv.Until(t, "the slow provider's first key fetch hangs", func() bool { return front.hung.Load() > 0 })

	healthyOps := []slowOp{
		{"login (healthy provider)", func() (response, error) {
			r, err := slowDo(http.MethodPost, "/authn-azure/"+healthy.service+"/"+account+"/"+url.PathEscape(healthy.login("app"))+"/authenticate",
				"jwt="+azure.Token(healthyVM, azuretest.TokenOptions{}))
			return r, slowExpect(r, err, http.StatusOK, "")
		}},
		{"secret fetch", func() (response, error) {
			r, err := slowDo(http.MethodGet, "/secrets/"+account+"/variable/"+url.PathEscape(healthy.ns+"/db/password"), "", "Authorization", authorization(healthyAccess))
			return r, slowExpect(r, err, http.StatusOK, "s3cr3t")
		}},
		{"status (healthy provider)", func() (response, error) {
			r, err := slowDo(http.MethodGet, "/authn-azure/"+healthy.service+"/"+account+"/status", "", "Authorization", authorization(healthyAccess))
			return r, slowExpect(r, err, http.StatusOK, `{"status":"ok"}`)
		}},
	}
	slowLogin := func(token string) func() (response, error) {
		return func() (response, error) {
			return slowDo(http.MethodPost, "/authn-azure/"+slow.service+"/"+account+"/"+url.PathEscape(slow.login("app"))+"/authenticate", "jwt="+token)
		}
	}

	// (1) and (2): logins that need the hung provider's keys, several at a
	// time and one after another, while the other service is used.
	const workers, rounds = 4, 3
	slowLogins := make([]func() (response, error), workers)
	for i := range slowLogins {
		slowLogins[i] = slowLogin(slowToken())
	}
	results, during := slowRunAlongside(t, slowLogins, rounds, healthyOps)
	slowCheckTimeouts(t, "first fetch", results, bound)
	slowReport(t, "while the provider hangs", during, healthyOps)
	if m := front.maxInFlight.Load(); m != 1 {
		t.Fatalf("%d requests at once reached the hung provider, want 1 (one fetch per provider at a time)", m)
	}

	// (3) The provider answers again: logins succeed, no restart.
	front.setHanging(false)
	released := time.Now()
	var slowAccess string
	eventually(t, "a login at the slow service once its provider answers", func() error {
		r, err := slowLogin(slowToken())()
		if err := slowExpect(r, err, http.StatusOK, ""); err != nil {
			return err
		}
		slowAccess = r.body
		return nil
	})
	t.Logf("logins succeed %v after the provider answers again", time.Since(released).Round(time.Millisecond))
	r, err := slowDo(http.MethodGet, "/authn-azure/"+slow.service+"/"+account+"/status", "", "Authorization", authorization(slowAccess))
	if err := slowExpect(r, err, http.StatusOK, `{"status":"ok"}`); err != nil {
		t.Fatalf("status of the recovered service: %v", err)
	}

	// Later the provider hangs again and rotates its key: a token with the
	// new kid forces a refresh that times out, while tokens of the cached
	// key, each new (so verified, not found in the verified-token cache),
	// are accepted at once.
	cachedKey := backend.SigningKey()
	front.setHanging(true)
	backend.RotateKeys()
	newKid := slowToken()
	withCachedKey := append(slices.Clone(healthyOps), slowOp{"login (hung provider, cached key)", func() (response, error) {
		r, err := slowLogin(slowTokenBy(cachedKey))()
		return r, slowExpect(r, err, http.StatusOK, "")
	}})
	results, during = slowRunAlongside(t, []func() (response, error){slowLogin(newKid)}, 1, withCachedKey)
	slowCheckTimeouts(t, "forced refresh", results, bound)
	slowReport(t, "while a forced refresh hangs", during, withCachedKey)

	front.setHanging(false)
	eventually(t, "the rotated key is learned once the provider answers", func() error {
		r, err := slowLogin(newKid)()
		return slowExpect(r, err, http.StatusOK, "")
	})
}

// slowOp is one request of the healthy side.
type slowOp struct {
	name string
	do   func() (response, error)
}

// slowResult is one timed request.
type slowResult struct {
	r       response
	err     error
	latency time.Duration
}

// slowRunAlongside runs each of slowFns rounds times, concurrently with
// each other, and the ops one after another in a loop on this goroutine
// until they are all done. It returns the slow results and, per op, the
// results that completed while slow requests were still in flight.
func slowRunAlongside(t *testing.T, slowFns []func() (response, error), rounds int, ops []slowOp) ([]slowResult, map[string][]slowResult) {
	t.Helper()
	var mu sync.Mutex
	var results []slowResult
	var done atomic.Bool
	var wg sync.WaitGroup
	for _, fn := range slowFns {
		wg.Go(func() {
			for range rounds {
				start := time.Now()
				r, err := fn()
				mu.Lock()
				results = append(results, slowResult{r, err, time.Since(start)})
				mu.Unlock()
			}
		})
	}
	go func() { wg.Wait(); done.Store(true) }()
	during := map[string][]slowResult{}
	var failed []string
	for !done.Load() {
		for _, op := range ops {
			start := time.Now()
			r, err := op.do()
			res := slowResult{r, err, time.Since(start)}
			if err != nil {
				failed = append(failed, op.name+": "+err.Error())
			}
			if !done.Load() {
				during[op.name] = append(during[op.name], res)
			}
		}
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d requests to the healthy side failed while the provider hung:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	return results, during
}

// slowCheckTimeouts holds every slow login to the README: the generic 401
// and CONJ00010E (a provider timeout) in the audit line of that very
// request, within bound.
func slowCheckTimeouts(t *testing.T, what string, results []slowResult, bound time.Duration) {
	t.Helper()
	var worst time.Duration
	for _, res := range results {
		if res.err != nil {
			t.Fatalf("%s: %v", what, res.err)
		}
		if res.r.status != http.StatusUnauthorized || res.r.body != unauthorized {
			t.Fatalf("%s: got %d %s, want the generic 401", what, res.r.status, res.r.body)
		}
		_, events := hostileAudit(t, res.r.header.Get("X-Request-Id"))
		if len(events) != 1 || events[0].Operation != "authenticate" || events[0].Code != "CONJ00010E" {
			t.Fatalf("%s: audit %+v, want one authenticate line with CONJ00010E", what, events)
		}
		if res.latency > bound {
			t.Fatalf("%s: answered after %v, beyond the bound %v (provider timeout + wait slack + handling)", what, res.latency, bound)
		}
		worst = max(worst, res.latency)
	}
	t.Logf("%s: %d logins at the hung provider, each 401 CONJ00010E, slowest %v (bound %v)", what, len(results), worst.Round(time.Millisecond), bound)
}

// slowReport requires every op to have completed at least once while the
// slow logins were in flight, and logs their latencies.
func slowReport(t *testing.T, what string, during map[string][]slowResult, ops []slowOp) {
	t.Helper()
	for _, op := range ops {
		res := during[op.name]
		if len(res) == 0 {
			t.Fatalf("%s: no %s completed while the slow logins were in flight", what, op.name)
		}
		lat := make([]time.Duration, len(res))
		for i, r := range res {
			lat[i] = r.latency
		}
		slices.Sort(lat)
		t.Logf("%s: %s answered %d times, p50 %v, max %v", what, op.name, len(lat),
			lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	}
}

// slowDo sends a request without failing the test, so that goroutines may
// call it.
func slowDo(method, path, body string, header ...string) (response, error) {
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := https.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}, nil
}

// slowExpect checks a status and, unless want is empty, the body.
func slowExpect(r response, err error, status int, want string) error {
	switch {
	case err != nil:
		return err
	case r.status != status || want != "" && r.body != want:
		return fmt.Errorf("got %d %s, want %d %s", r.status, r.body, status, want)
	}
	return nil
}

// slowFront is a provider's front door on loopback: it passes requests to
// the fake Entra ID, or holds them without an answer while hanging, until
// released or the caller gives up.
type slowFront struct {
	*httptest.Server
	mu      sync.Mutex
	hanging bool
	release chan struct{} // closed when hanging ends

	inFlight, maxInFlight, hung atomic.Int64
}

func slowStartFront(t *testing.T, backend *azuretest.Server) *slowFront {
	t.Helper()
	target, err := url.Parse(backend.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = backend.Client().Transport
	proxy.ErrorLog = log.New(io.Discard, "", 0) // a caller that gave up is no news
	f := &slowFront{release: make(chan struct{})}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.inFlight.Add(1)
		defer f.inFlight.Add(-1)
		for m := f.maxInFlight.Load(); n > m && !f.maxInFlight.CompareAndSwap(m, n); m = f.maxInFlight.Load() {
		}
		f.mu.Lock()
		hanging, release := f.hanging, f.release
		f.mu.Unlock()
		if hanging {
			f.hung.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	f.StartTLS()
	// Release whatever still hangs before closing, so that Close, which
	// waits for every handler, returns at once and leaves nothing blocked.
	t.Cleanup(func() {
		f.setHanging(false)
		f.Close()
	})
	return f
}

// setHanging starts holding requests, or releases every held request.
func (f *slowFront) setHanging(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !on && f.hanging {
		close(f.release)
		f.release = make(chan struct{})
	}
	f.hanging = on
}
