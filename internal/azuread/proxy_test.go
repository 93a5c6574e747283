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
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// connectProxy is a minimal HTTPS (CONNECT) proxy on 127.0.0.1 that
// tunnels to loopback targets only and records them.
type connectProxy struct {
	srv     *httptest.Server
	mu      sync.Mutex
	targets []string
	conns   []net.Conn
}

func newConnectProxy(t *testing.T) *connectProxy {
	p := &connectProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.srv.Close()
	})
	return p
}

func (p *connectProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if err := loopback.Check(r.Host); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	upstream, err := loopback.DialContext(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		_ = upstream.Close()
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, r.Host)
	p.conns = append(p.conns, client, upstream)
	p.mu.Unlock()
	_, _ = client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() {
		_, _ = io.Copy(upstream, buf)
		_ = upstream.Close()
	}()
	go func() {
		_, _ = io.Copy(client, upstream)
		_ = client.Close()
	}()
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// Keys are fetched through the proxy the Proxy option names (by default,
// the standard proxy environment), and tokens verify with them.
func TestKeysAreFetchedThroughTheProxy(t *testing.T) {
	azure := azuretest.NewServer()
	defer azure.Close()
	proxy := newConnectProxy(t)
	proxyURL, err := url.Parse(proxy.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tenant := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	p := policy.Provider{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}
	ks := NewKeySets(Options{DialContext: loopback.DialContext, Proxy: http.ProxyURL(proxyURL)})
	v := &Verifier{Keys: ks}
	token := azure.Token(azuretest.VM(tenant, "0f4c6c8e-7c31-4a39-8f2d-2f8e3b5a1d90", "rg", "vm-1"), azuretest.TokenOptions{})
	if _, err := v.Verify(context.Background(), authenticatorFor(p), token); err != nil {
		t.Fatalf("verify through the proxy: %v", err)
	}
	host := strings.TrimPrefix(azure.URL(), "https://")
	seen := proxy.seen()
	if len(seen) == 0 {
		t.Fatal("the proxy saw no CONNECT")
	}
	for _, target := range seen {
		if target != host {
			t.Fatalf("proxy tunnelled to %s, want %s", target, host)
		}
	}
	set, _ := ks.ensure(p)
	set.client.CloseIdleConnections()
}

// Without the option the standard proxy environment applies; the
// transport is checked for the function, as http.ProxyFromEnvironment reads
// the environment once per process and never proxies loopback.
func TestProxyDefaultsToTheEnvironment(t *testing.T) {
	ks := NewKeySets(Options{})
	set, err := ks.ensure(policy.Provider{Issuer: "https://login.example/t/"}) // never dialled
	if err != nil {
		t.Fatal(err)
	}
	got := set.client.Transport.(*http.Transport).Proxy
	if got == nil || reflect.ValueOf(got).Pointer() != reflect.ValueOf(http.ProxyFromEnvironment).Pointer() {
		t.Fatal("the transport does not use http.ProxyFromEnvironment by default")
	}
}
