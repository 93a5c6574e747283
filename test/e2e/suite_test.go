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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/signingkeys"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// The whole product in one process, as main.go assembles it, against a
// real API server and the fake Entra ID, over real HTTPS.
var (
	env      *testenv.Env
	k8s      client.Client
	index    *policy.Index
	product  *app.App
	azure    *azuretest.Server
	baseURL  string
	https    *http.Client
	auditLog = &syncBuffer{}
)

const account = "default"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	testenv.SetLogger()
	defer removePlugin()
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	azure = azuretest.NewServer()
	defer azure.Close()
	// A signing key that may sign since an hour ago, so tests may turn the
	// server's clock back (see setServerClock).
	if err := preCreateSigningKey("default", "authn-test-signing-keys"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if product, err = app.New(env.Config, options(ln, auditLog)); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	index = product.Index
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- product.Start(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for product.Ready() != nil {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "FAIL: authenticator not ready within 60s:", product.Ready())
			return 1
		}
		select {
		case err := <-done:
			fmt.Fprintln(os.Stderr, "FAIL: manager stopped:", err)
			return 1
		case <-time.After(20 * time.Millisecond):
		}
	}
	transport, err := loopback.TransportTrusting(product.ServingCert.CertificatePEM())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: no serving certificate")
		return 1
	}
	https = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	baseURL = "https://" + ln.Addr().String()

	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager stopped with:", err)
	}
	return code
}

// options are the suite's settings, for its manager and the replicas a
// test starts: main.go's defaults but for names and the Testing knobs.
func options(ln net.Listener, audit io.Writer) app.Options {
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr, o.Namespace, o.Account, o.Audit = "0", "0", "default", account, audit
	o.TLSSecret, o.TLSSANs, o.SigningKeySecret = "authn-test-tls", []string{"127.0.0.1"}, "authn-test-signing-keys"
	o.Testing = app.Testing{
		Clock:       serverClock{},
		Listener:    ln,
		DialContext: loopback.DialContext, // the server never dials off loopback in tests
		// Retries and timeouts short enough for tests of outages.
		ProviderRetryInterval: 200 * time.Millisecond, ProviderHTTPTimeout: 2 * time.Second,
		SeveralManagers: true, // replicas_test.go starts more
	}
	return o
}

// clockOffset shifts the server's clock (serverClock) for tests of expiry;
// tests that change it restore it.
var clockOffset atomic.Int64

// serverClock is the real clock shifted by clockOffset.
type serverClock struct{ clock.RealClock }

func (serverClock) Now() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) }

func (c serverClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// setServerClock shifts the server's clock by d until the test ends.
func setServerClock(t *testing.T, d time.Duration) {
	clockOffset.Store(int64(d))
	t.Cleanup(func() { clockOffset.Store(0) })
}

func preCreateSigningKey(namespace, name string) error {
	past := time.Now().Add(-time.Hour)
	key, err := accesstoken.NewSigningKey(past, past)
	if err != nil {
		return err
	}
	data, err := accesstoken.Marshal([]*accesstoken.SigningKey{key})
	if err != nil {
		return err
	}
	return k8s.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Data:       map[string][]byte{signingkeys.DataKey: data},
	})
}

// syncBuffer collects audit lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) events() []authn.AuditEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []authn.AuditEvent
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var e authn.AuditEvent
		if json.Unmarshal([]byte(line), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// lastAudit returns the newest audit event for operation and host.
func lastAudit(t *testing.T, operation, host string) authn.AuditEvent {
	t.Helper()
	evs := auditLog.events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Operation == operation && evs[i].Host == host {
			return evs[i]
		}
	}
	t.Fatalf("no %s audit event for host %q", operation, host)
	return authn.AuditEvent{}
}

var seq atomic.Int64

// newTenant is a fresh tenant GUID: each test gets its own issuer, so its
// provider key set (and its refresh cooldown) is its own.
func newTenant() string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, seq.Add(1))
}

const subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"

// fixture is one test's world: a namespace, an authenticator admitting it,
// a tenant on the fake Entra ID.
type fixture struct {
	t       *testing.T
	ns      string
	service string
	tenant  string
	auth    *authnv1alpha1.AzureAuthenticator
}

func newFixture(t *testing.T, mutate ...func(*authnv1alpha1.AzureAuthenticator)) *fixture {
	t.Helper()
	n := seq.Add(1)
	f := &fixture{t: t, ns: fmt.Sprintf("apps-%d", n), service: fmt.Sprintf("prod-%d", n), tenant: newTenant()}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns, Labels: map[string]string{"authn-test": f.ns}}})
	f.auth = &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: f.service},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: azure.IssuerV1(f.tenant), CABundle: string(azure.CAPEM())}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"authn-test": f.ns}}},
		},
	}
	for _, m := range mutate {
		m(f.auth)
	}
	create(t, f.auth)
	f.waitAuthenticator(func(a *policy.Authenticator) bool { return a.Generation == f.auth.Generation })
	return f
}

// waitAuthenticator waits until the index holds the authenticator in the
// expected state.
func (f *fixture) waitAuthenticator(ok func(*policy.Authenticator) bool) {
	f.t.Helper()
	eventually(f.t, "authenticator "+f.service+" indexed", func() error {
		a, found := index.Authenticator(f.service)
		if !found || !ok(a) {
			return errors.New("not yet")
		}
		return nil
	})
}

// host creates an AzureHost and waits until the index has its generation.
func (f *fixture) host(name string, spec authnv1alpha1.AzureHostSpec) *authnv1alpha1.AzureHost {
	f.t.Helper()
	h := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, Spec: spec}
	create(f.t, h)
	eventually(f.t, "host "+name+" indexed", func() error {
		got, ok := index.Host(policy.HostID{Namespace: f.ns, Name: name})
		if !ok || got.Generation != h.Generation {
			return errors.New("not yet")
		}
		return nil
	})
	return h
}

func (f *fixture) login(name string) string { return "host/" + f.ns + "/" + name }

// vm is a VM in the fixture's tenant and subscription.
func (f *fixture) vm(rg, name string) azuretest.Identity {
	return azuretest.VM(f.tenant, subscription, rg, name)
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(context.Background(), obj)) })
}

// response is what a client saw.
type response struct {
	status int
	body   string
	header http.Header
}

// authenticate posts jwt=<token> to the Conjur route, escaping the login
// as the SDK does (url.PathEscape).
func authenticate(t *testing.T, service, acct, login, token string, header ...string) response {
	t.Helper()
	return postRaw(t, "/authn-azure/"+service+"/"+acct+"/"+url.PathEscape(login)+"/authenticate", "jwt="+token, header...)
}

func postRaw(t *testing.T, path, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func get(t *testing.T, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := https.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// expectFailure checks status, client body and audit code together, as the
// README's table lists them.
func expectFailure(t *testing.T, r response, status int, body, host, code string) {
	t.Helper()
	if r.status != status || r.body != body {
		t.Fatalf("got %d %s\nwant %d %s", r.status, r.body, status, body)
	}
	if e := lastAudit(t, "authenticate", host); e.Result != "failure" || e.Code != code {
		t.Fatalf("audit = %+v, want failure with %s", e, code)
	}
}

// accessToken decodes a successful response's token claims.
func accessTokenClaims(t *testing.T, r response) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("authentication failed: %d %s", r.status, r.body)
	}
	var tok struct{ Protected, Payload, Signature string }
	if err := json.Unmarshal([]byte(r.body), &tok); err != nil {
		t.Fatalf("token %q: %v", r.body, err)
	}
	raw, err := decodeStd(tok.Payload)
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

const unauthorized = authn.GenericUnauthorizedBody

func nsObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// updateAuthenticator applies mutate to the stored authenticator, retrying
// when the controller wrote status in between, and waits until the index
// has the new generation.
func updateAuthenticator(t *testing.T, f *fixture, mutate func(*authnv1alpha1.AzureAuthenticator)) {
	t.Helper()
	a := &authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: f.service}}
	testenv.Update(t, k8s, a, func() { mutate(a) })
	f.waitAuthenticator(func(c *policy.Authenticator) bool { return c.Generation == a.Generation })
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func hostID(h *authnv1alpha1.AzureHost) policy.HostID {
	return policy.HostID{Namespace: h.Namespace, Name: h.Name}
}

func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	testenv.Eventually(t, what, fn)
}

func urlEscape(s string) string { return url.PathEscape(s) }
