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

package authn

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

func TestRequestsOverTheInFlightCapGet503WithRetryAfter(t *testing.T) {
	var audit bytes.Buffer
	s, err := New(Config{
		Account: "default", Index: policy.NewIndex(), Signing: oneKey{}, MaxInFlight: 2,
		Keys: azuread.NewKeySets(azuread.Options{}), Audit: &audit,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two requests in flight hold both slots.
	s.inFlight <- struct{}{}
	s.inFlight <- struct{}{}
	overloaded := rejectedRequests.WithLabelValues("overloaded")
	before := testutil.ToFloat64(overloaded)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/authn-azure/prod/default/host%2Fa%2Fb/authenticate", strings.NewReader("jwt=secret-token-text")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "AZAUTH010E") {
		t.Fatalf("over the cap: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if got := testutil.ToFloat64(overloaded) - before; got != 1 {
		t.Fatalf("overloaded counter moved by %v, want 1", got)
	}
	var e AuditEvent
	if err := json.Unmarshal(bytes.TrimSpace(audit.Bytes()), &e); err != nil {
		t.Fatalf("audit %q: %v", audit.String(), err)
	}
	if e.Operation != "authenticate" || e.Code != "AZAUTH010E" || e.Result != "failure" || e.RequestID != rec.Header().Get(RequestIDHeader) {
		t.Fatalf("audit line %+v for an overloaded request", e)
	}
	if strings.Contains(audit.String(), "secret-token-text") {
		t.Fatal("the request body reached the audit log")
	}
	<-s.inFlight
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), "AZAUTH010E") {
		t.Fatalf("a free slot was refused: %s", rec.Body)
	}
}

func TestAccountCharset(t *testing.T) {
	for _, ok := range []string{"default", "my-org.prod_1"} {
		if err := ValidateAccount(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "a:b", "ü", strings.Repeat("a", 65)} {
		if ValidateAccount(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClientIPBelievesOnlyTrustedProxies(t *testing.T) {
	trusted := mustPrefixes("10.0.0.0/8")
	tests := []struct {
		name, peer, xff, want string
	}{
		{"no proxy: the peer", "192.0.2.1:1234", "", "192.0.2.1"},
		{"an untrusted peer's header is ignored", "192.0.2.1:1234", "203.0.113.9", "192.0.2.1"},
		{"a trusted proxy: the rightmost untrusted address", "10.0.0.5:1234", "198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"},
		{"a client cannot prepend its way in", "10.0.0.5:1234", "127.0.0.1, 203.0.113.9", "203.0.113.9"},
		{"ip:port, as Application Gateway writes it", "10.0.0.5:1234", "203.0.113.9:50123", "203.0.113.9"},
		{"[ipv6]:port", "10.0.0.5:1234", "[2001:db8::1]:443", "2001:db8::1"},
		{"a mapped IPv4 hop is IPv4", "10.0.0.5:1234", "::ffff:203.0.113.9", "203.0.113.9"},
		{"header lines are one list", "10.0.0.5:1234", "203.0.113.9\n10.0.0.7", "203.0.113.9"},
		// Never the proxy's own address: that would open hosts whose CIDRs
		// cover the proxies to anyone behind them.
		{"only proxies: unknown", "10.0.0.5:1234", "10.1.1.1", "unknown"},
		{"no header: unknown", "10.0.0.5:1234", "", "unknown"},
		{"a malformed hop: unknown", "10.0.0.5:1234", "203.0.113.9, bogus", "unknown"},
		{"the word unknown: unknown", "10.0.0.5:1234", "unknown", "unknown"},
		{"[ipv6] without a port: unknown", "10.0.0.5:1234", "[2001:db8::1]", "unknown"},
		{"a zone: unknown", "10.0.0.5:1234", "fe80::1%eth0", "unknown"},
		{"a port out of range: unknown", "10.0.0.5:1234", "203.0.113.9:99999", "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, line := range strings.Split(tc.xff, "\n") {
				if line != "" {
					r.Header.Add("X-Forwarded-For", line)
				}
			}
			if got := policy.AddrText(clientIP(r, trusted)); got != tc.want {
				t.Fatalf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func mustPrefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

// oneKey serves a fixed ring (nil: no keys loaded).
type oneKey struct{ ring *accesstoken.Ring }

func (k oneKey) Ring() *accesstoken.Ring { return k.ring }

// A replica cut off from the API server keeps serving its last state,
// unless --max-staleness is set and exceeded: then 503.
func TestMaxStalenessTurnsAStaleReplicaAway(t *testing.T) {
	key, err := accesstoken.NewSigningKey(time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ix := policy.NewIndex()
	ix.MarkSynced()
	var staleness time.Duration
	s, err := New(Config{
		Account: "default", Index: ix, Signing: oneKey{accesstoken.NewRing([]*accesstoken.SigningKey{key})},
		Keys:      azuread.NewKeySets(azuread.Options{}),
		Staleness: func() time.Duration { return staleness }, MaxStaleness: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/whoami", nil))
		return rec
	}
	staleness = 4 * time.Minute
	if rec := get(); rec.Code != http.StatusUnauthorized {
		t.Fatalf("a 4-minute-old view must still be served: %d %s", rec.Code, rec.Body)
	}
	staleness = 6 * time.Minute
	if rec := get(); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "AZAUTH014E") || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a 6-minute-old view: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// Attacker-chosen path segments never become metric labels.
func TestMetricsLabelUnknownServicesAsUnknown(t *testing.T) {
	key, err := accesstoken.NewSigningKey(time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ix := policy.NewIndex()
	ix.MarkSynced()
	s, err := New(Config{
		Account: "default", Index: ix, Signing: oneKey{accesstoken.NewRing([]*accesstoken.SigningKey{key})},
		Keys: azuread.NewKeySets(azuread.Options{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	unknown := authentications.WithLabelValues("unknown", "failure", "CONJ00005E")
	before := testutil.ToFloat64(unknown)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/authn-azure/attacker-chosen-123/default/host%2Fa%2Fb/authenticate", strings.NewReader("jwt=a.b.c")))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got := testutil.ToFloat64(unknown) - before; got != 1 {
		t.Fatalf("unknown-service counter moved by %v, want 1", got)
	}
	if n := testutil.CollectAndCount(authentications, "azure_authenticator_authentications_total"); n == 0 {
		t.Fatal("no series")
	}
	ch := make(chan prometheus.Metric, 1000)
	authentications.Collect(ch)
	close(ch)
	for m := range ch {
		if strings.Contains(m.Desc().String(), "attacker-chosen") {
			t.Fatal("a path segment became a label value")
		}
		var pb dto.Metric
		_ = m.Write(&pb)
		for _, l := range pb.GetLabel() {
			if strings.Contains(l.GetValue(), "attacker-chosen") {
				t.Fatalf("a path segment became a label value: %v", l)
			}
		}
	}
}

// A recovered panic is a bare 500, counted and audited with the request's
// id, and its body never reaches the audit log.
func TestPanicsAreAuditedAndCounted(t *testing.T) {
	var audit bytes.Buffer
	var logs bytes.Buffer
	s, err := New(Config{
		Account: "default", Index: policy.NewIndex(), Signing: oneKey{},
		Keys: azuread.NewKeySets(azuread.Options{}), Audit: &audit,
		Log: funcr.New(func(prefix, args string) { logs.WriteString(args) }, funcr.Options{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.routeFn = func(http.ResponseWriter, *http.Request, request) { panic("boom") }
	h := s
	panics := rejectedRequests.WithLabelValues("panic")
	before := testutil.ToFloat64(panics)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/secrets/default/variable/x", strings.NewReader("body-text")))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got := testutil.ToFloat64(panics) - before; got != 1 {
		t.Fatalf("panic counter moved by %v, want 1", got)
	}
	var e AuditEvent
	if err := json.Unmarshal(bytes.TrimSpace(audit.Bytes()), &e); err != nil {
		t.Fatalf("audit %q: %v", audit.String(), err)
	}
	if e.Operation != "fetch" || e.Code != "AZAUTH017E" || e.RequestID == "" || e.RequestID != rec.Header().Get(RequestIDHeader) {
		t.Fatalf("audit line %+v for a panic", e)
	}
	if strings.Contains(audit.String(), "body-text") || strings.Contains(logs.String(), "body-text") {
		t.Fatal("the request body was logged")
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("the panic is not in the operational log: %s", logs.String())
	}
}

// A request waiting for a key fetch holds no slot; when it resumes it
// takes one again, unless its caller has left while every slot was busy:
// then it returns at once, holding none.
func TestWaitingForAKeyFetchHoldsNoSlot(t *testing.T) {
	s, err := New(Config{
		Account: "default", Index: policy.NewIndex(), Signing: oneKey{}, MaxInFlight: 1,
		Keys: azuread.NewKeySets(azuread.Options{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.inFlight <- struct{}{} // this request's slot
	held := true
	resume := s.waitHook(context.Background(), &held)()
	if held || len(s.inFlight) != 0 {
		t.Fatalf("while waiting: held=%v, slots taken %d", held, len(s.inFlight))
	}
	resume()
	if !held || len(s.inFlight) != 1 {
		t.Fatalf("after resuming: held=%v, slots taken %d", held, len(s.inFlight))
	}

	ctx, cancel := context.WithCancel(context.Background())
	resume = s.waitHook(ctx, &held)()
	s.inFlight <- struct{}{} // another request took the freed slot
	cancel()
	done := make(chan struct{})
	go func() { resume(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a caller who left waits for a slot")
	}
	if held {
		t.Fatal("a caller who left claims a slot it does not hold")
	}
}

// The in-flight gauge follows the slots: taken while a request is served,
// given back while it waits on a key fetch, returned when it ends.
func TestInFlightGaugeFollowsTheSlots(t *testing.T) {
	s, err := New(Config{
		Account: "default", Index: policy.NewIndex(), Signing: oneKey{}, MaxInFlight: 2,
		Keys: azuread.NewKeySets(azuread.Options{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	base := testutil.ToFloat64(requestsInFlight)
	gauge := func() float64 { return testutil.ToFloat64(requestsInFlight) - base }
	inside, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	s.routeFn = func(http.ResponseWriter, *http.Request, request) {
		inside <- struct{}{}
		<-release
	}
	h := s
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	}()
	<-inside
	if got := gauge(); got != 1 {
		t.Fatalf("serving: gauge %v, want 1", got)
	}
	close(release)
	<-done
	if got := gauge(); got != 0 {
		t.Fatalf("after the request: gauge %v, want 0", got)
	}

	// Waiting on a key fetch gives the slot back, and resuming takes it.
	s.inFlight <- struct{}{}
	requestsInFlight.Inc()
	held := true
	resume := s.waitHook(context.Background(), &held)()
	if got := gauge(); got != 0 {
		t.Fatalf("waiting on a key fetch: gauge %v, want 0", got)
	}
	resume()
	if got := gauge(); got != 1 {
		t.Fatalf("resumed: gauge %v, want 1", got)
	}
	<-s.inFlight
	requestsInFlight.Dec()
}

// formValue reads a form body as url.ParseQuery does, without its map.
func TestFormValueAgreesWithParseQuery(t *testing.T) {
	for _, body := range []string{
		"jwt=a.b.c", "jwt=a&jwt=b", "x=1&jwt=%41", "jwt=", "", "&&jwt=a&&", "jwt=a;b", "jwt=%zz", "%zz=1&jwt=a",
		"jwt=a+b", "j%77t=v", "jwt", "jwt=a=b", "a=1;jwt=2",
	} {
		want, wantErr := url.ParseQuery(body)
		got, n, err := formValue(body, "jwt")
		if (err != nil) != (wantErr != nil) || n != len(want["jwt"]) || n > 0 && got != want["jwt"][0] {
			t.Errorf("%q: formValue = %q, %d, %v; ParseQuery = %q, %v", body, got, n, err, want["jwt"], wantErr)
		}
	}
}

// The public keys are served without an audit line; a refusal around the
// route is audited there as everywhere.
func TestJWKSIsUnauditedButItsRefusalsAre(t *testing.T) {
	key, err := accesstoken.NewSigningKey(time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var audit bytes.Buffer
	s, err := New(Config{Account: "default", Index: policy.NewIndex(), MaxInFlight: 1, Audit: &audit,
		Signing: oneKey{accesstoken.NewRing([]*accesstoken.SigningKey{key})}, Keys: azuread.NewKeySets(azuread.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK || audit.Len() != 0 {
		t.Fatalf("jwks: %d, audit %q", rec.Code, audit.String())
	}
	s.inFlight <- struct{}{} // the only slot taken
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	<-s.inFlight
	var e AuditEvent
	if err := json.Unmarshal(bytes.TrimSpace(audit.Bytes()), &e); err != nil || rec.Code != http.StatusServiceUnavailable ||
		e.Operation != "jwks" || e.Code != "AZAUTH010E" {
		t.Fatalf("overloaded jwks: %d, audit %q (%v)", rec.Code, audit.String(), err)
	}
}
