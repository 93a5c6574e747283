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
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func FuzzDNS1123(f *testing.F) {
	for _, s := range []string{"a", "a-b", "-a", "a-", "a.b", "a..b", ".a", "a.", "A", "a_b", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 254), "a.-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isDNS1123Label(s), len(validation.IsDNS1123Label(s)) == 0; got != want {
			t.Fatalf("isDNS1123Label(%q) = %v, validation says %v", s, got, want)
		}
		if got, want := isDNS1123Subdomain(s), len(validation.IsDNS1123Subdomain(s)) == 0; got != want {
			t.Fatalf("isDNS1123Subdomain(%q) = %v, validation says %v", s, got, want)
		}
	})
}

// FuzzParseLogin: a login is accepted only as host/<namespace>/<name>
// with a valid namespace and AzureHost name, and names exactly that host.
func FuzzParseLogin(f *testing.F) {
	for _, s := range []string{"host/apps/vm-1", "host/apps/a.b", "host/apps/a/b", "host//x", "host/Apps/x", "user/apps/x", "host/apps/", "host/a-/x", "host/apps/x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, login string) {
		id, ok := parseLogin(login)
		parts := strings.Split(strings.TrimPrefix(login, "host/"), "/")
		want := strings.HasPrefix(login, "host/") && len(parts) == 2 &&
			len(validation.IsDNS1123Label(parts[0])) == 0 && len(validation.IsDNS1123Subdomain(parts[1])) == 0
		if ok != want {
			t.Fatalf("parseLogin(%q) = %v, the rule says %v", login, ok, want)
		}
		if ok && "host/"+id.Namespace+"/"+id.Name != login {
			t.Fatalf("parseLogin(%q) names %+v", login, id)
		}
	})
}

// FuzzFormValue: the jwt form field as url.ParseQuery reads the body.
func FuzzFormValue(f *testing.F) {
	for _, s := range []string{"jwt=a.b.c", "jwt=a&jwt=b", "jwt=%zz", "a=1;jwt=2", "jwt", "=x&jwt=y+z%2B", "jw%74=x", "&&jwt=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		value, n, err := formValue(body, "jwt")
		want, werr := url.ParseQuery(body)
		if (err == nil) != (werr == nil) {
			t.Fatalf("formValue(%q): %v, url.ParseQuery: %v", body, err, werr)
		}
		if n != len(want["jwt"]) || n > 0 && value != want["jwt"][0] {
			t.Fatalf("formValue(%q) = %q, %d; url.ParseQuery: %q", body, value, n, want["jwt"])
		}
	})
}

// FuzzClientIP: behind trusted proxies the client is the rightmost hop
// outside them, and nothing else; a peer outside them is the client.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:443", "203.0.113.9, 10.0.0.2")
	f.Add("10.0.0.1:443", "203.0.113.9:1234,[2001:db8::1]:80")
	f.Add("10.0.0.1:443", "10.0.0.3,10.0.0.2")
	f.Add("10.0.0.1:443", "bogus, 10.0.0.2")
	f.Add("198.51.100.7:1", "203.0.113.9")
	f.Add("10.0.0.1:443", "fe80::1%eth0")
	f.Add("10.0.0.1:443", "::ffff:10.0.0.9")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := clientIP(r, trusted)
		want := referenceClientIP(remote, xff, trusted)
		if got != want {
			t.Fatalf("clientIP(%q, %q) = %v, the rule says %v", remote, xff, got, want)
		}
	})
}

// referenceClientIP is the rule of clientIP written plainly: take every
// hop apart first, then walk them from the right.
func referenceClientIP(remote, xff string, trusted []netip.Prefix) netip.Addr {
	parse := func(s string) (netip.Addr, bool) {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			s = ap.Addr().String()
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	isTrusted := func(a netip.Addr) bool {
		return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	peer, ok := parse(remote)
	if !ok || !isTrusted(peer) {
		return peer
	}
	var hops []string
	for _, h := range strings.Split(xff, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hops = append(hops, h)
		}
	}
	slices.Reverse(hops)
	for _, h := range hops {
		a, ok := parse(h)
		if !ok {
			return netip.Addr{}
		}
		if !isTrusted(a) {
			return a
		}
	}
	return netip.Addr{}
}

// FuzzParseVariableID: an id names a Secret key only as
// [<account>:variable:]<namespace>/<secret>/<key>, no part empty.
func FuzzParseVariableID(f *testing.F) {
	for _, s := range []string{"apps/db/password", "default:variable:apps/db/password", "apps/db", "apps//x", "other:variable:apps/db/k", "a/b/c/d", "default:variable:"} {
		f.Add(s)
	}
	h := &Handler{cfg: Config{Account: "default"}}
	f.Fuzz(func(t *testing.T, raw string) {
		id, ok := h.parseVariableID(raw)
		if id.raw != raw {
			t.Fatalf("parseVariableID(%q) lost the id as sent: %q", raw, id.raw)
		}
		if !ok {
			return
		}
		if id.namespace == "" || id.name == "" || id.key == "" || strings.Contains(id.namespace+id.name+id.key, "/") {
			t.Fatalf("parseVariableID(%q) = %+v", raw, id)
		}
		if bare := id.namespace + "/" + id.name + "/" + id.key; raw != bare && raw != "default:variable:"+bare {
			t.Fatalf("parseVariableID(%q) names %q", raw, bare)
		}
	})
}
