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

package churn

import (
	"net/http"
	"testing"
)

const acct = "default"

// granted is a view under which host ns/h0 authenticates through its
// authenticator and reads ns/x/k.
func granted() View {
	return View{
		Authenticator: &Authenticator{Enabled: true, AllowedHosts: &AllowedHosts{Namespace: map[string]string{"run": "p", "admit": "yes"}}},
		Host:          &Host{UID: "u1", Generation: 3, ResourceGroup: "rg-1", Labels: map[string]string{"tier": "gold"}},
		Namespace:     &Namespace{Labels: map[string]string{"run": "p", "admit": "yes"}},
		Secret:        &Secret{Exposed: true, AllowedHosts: "h0", Data: map[string]string{"k": "v"}},
	}
}

func authReq() Request {
	return Request{Route: Authenticate, Account: acct, Service: "s", Host: HostID{"ns", "h0"}, ResourceGroup: "rg-1"}
}

func fetchReq() Request {
	return Request{Route: Fetch, Account: acct, Service: "s", Host: HostID{"ns", "h0"},
		Token: TokenRef{UID: "u1", Generation: 3}, Variable: Variable{"ns", "x", "k"}}
}

// The README's decision order for authenticate: account and service, the
// host, the match of the token (all 401, before anything else), and only
// then admission (403).
func TestExpectAuthenticateFollowsTheDecisionOrder(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*View, *Request)
		want   Outcome
	}{
		{"everything holds", func(*View, *Request) {}, Outcome{Status: http.StatusOK, UID: "u1", Generation: 3}},
		{"another account", func(_ *View, r *Request) { r.Account = "other" }, Outcome{Status: 401}},
		{"unknown service", func(v *View, _ *Request) { v.Authenticator = nil }, Outcome{Status: 401}},
		{"disabled", func(v *View, _ *Request) { v.Authenticator.Enabled = false }, Outcome{Status: 401}},
		{"disabled and not admitting", func(v *View, _ *Request) { v.Authenticator.Enabled, v.Authenticator.AllowedHosts = false, nil }, Outcome{Status: 401}},
		{"no such host", func(v *View, _ *Request) { v.Host = nil }, Outcome{Status: 401}},
		{"no such host in a namespace not admitted", func(v *View, _ *Request) { v.Host, v.Namespace.Labels["admit"] = nil, "no" }, Outcome{Status: 401}},
		{"another resource group", func(_ *View, r *Request) { r.ResourceGroup = "rg-2" }, Outcome{Status: 401}},
		{"resource groups compare case-insensitively", func(_ *View, r *Request) { r.ResourceGroup = "RG-1" }, Outcome{Status: 200, UID: "u1", Generation: 3}},
		{"another resource group, not admitted either: the match comes first", func(v *View, r *Request) {
			r.ResourceGroup, v.Namespace.Labels["admit"] = "rg-2", "no"
		}, Outcome{Status: 401}},
		{"pinned to other addresses", func(v *View, _ *Request) { v.Host.Pinned = true }, Outcome{Status: 401}},
		{"namespace not selected", func(v *View, _ *Request) { v.Namespace.Labels["admit"] = "no" }, Outcome{Status: 403}},
		{"namespace not seen: no selector matches, not even {}", func(v *View, _ *Request) {
			v.Namespace, v.Authenticator.AllowedHosts.Namespace = nil, map[string]string{}
		}, Outcome{Status: 403}},
		{"{} selects every namespace", func(v *View, _ *Request) { v.Authenticator.AllowedHosts.Namespace = map[string]string{} }, Outcome{Status: 200, UID: "u1", Generation: 3}},
		{"no allowedHosts", func(v *View, _ *Request) { v.Authenticator.AllowedHosts = nil }, Outcome{Status: 403}},
		{"host selector not matching", func(v *View, _ *Request) { v.Authenticator.AllowedHosts.Host = map[string]string{"tier": "silver"} }, Outcome{Status: 403}},
		{"host selector matching", func(v *View, _ *Request) { v.Authenticator.AllowedHosts.Host = map[string]string{"tier": "gold"} }, Outcome{Status: 200, UID: "u1", Generation: 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, r := granted(), authReq()
			c.change(&v, &r)
			if got := Expect(v, r, acct); got != c.want {
				t.Fatalf("Expect = %+v, want %+v", got, c.want)
			}
		})
	}
}

// The order for a fetch: the access token's revocation checks (401), then
// the Secret in the host's namespace and exposed (404), the grant (403,
// whatever the key), the key (404).
func TestExpectFetchFollowsTheDecisionOrder(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*View, *Request)
		want   Outcome
	}{
		{"everything holds", func(*View, *Request) {}, Outcome{Status: 200, Value: "v"}},
		{"host deleted", func(v *View, _ *Request) { v.Host = nil }, Outcome{Status: 401}},
		{"host re-created (another UID)", func(v *View, _ *Request) { v.Host.UID = "u2" }, Outcome{Status: 401}},
		{"host changed (another generation)", func(v *View, _ *Request) { v.Host.Generation = 4 }, Outcome{Status: 401}},
		{"authenticator deleted", func(v *View, _ *Request) { v.Authenticator = nil }, Outcome{Status: 401}},
		{"authenticator disabled", func(v *View, _ *Request) { v.Authenticator.Enabled = false }, Outcome{Status: 401}},
		{"no longer admitted: 401 here, not 403", func(v *View, _ *Request) { v.Namespace.Labels["admit"] = "no" }, Outcome{Status: 401}},
		{"namespace gone from the index", func(v *View, _ *Request) { v.Namespace = nil }, Outcome{Status: 401}},
		{"pinned away", func(v *View, _ *Request) { v.Host.Pinned = true }, Outcome{Status: 401}},
		{"another account", func(_ *View, r *Request) { r.Account = "other" }, Outcome{Status: 401}},
		{"revoked and not granted either: revocation first", func(v *View, _ *Request) {
			v.Host.Generation, v.Secret.AllowedHosts = 9, "nobody"
		}, Outcome{Status: 401}},
		{"another namespace's Secret, even one granting everybody", func(v *View, r *Request) {
			r.Variable.Namespace, v.Secret.AllowedHosts = "other", "*"
		}, Outcome{Status: 404}},
		{"no such Secret", func(v *View, _ *Request) { v.Secret = nil }, Outcome{Status: 404}},
		{"not exposed", func(v *View, _ *Request) { v.Secret.Exposed = false }, Outcome{Status: 404}},
		{"not exposed nor granted: 404 first", func(v *View, _ *Request) { v.Secret.Exposed, v.Secret.AllowedHosts = false, "" }, Outcome{Status: 404}},
		{"not listed", func(v *View, _ *Request) { v.Secret.AllowedHosts = "h1" }, Outcome{Status: 403}},
		{"not listed, key missing: 403, no key names leak", func(v *View, r *Request) {
			v.Secret.AllowedHosts, r.Variable.Key = "h1", "nope"
		}, Outcome{Status: 403}},
		{"listed, key missing", func(_ *View, r *Request) { r.Variable.Key = "nope" }, Outcome{Status: 404}},
		{"*", func(v *View, _ *Request) { v.Secret.AllowedHosts = "*" }, Outcome{Status: 200, Value: "v"}},
		{"a list with blanks", func(v *View, _ *Request) { v.Secret.AllowedHosts = " h1 , h0 " }, Outcome{Status: 200, Value: "v"}},
		{"a name that only starts like the host's", func(v *View, _ *Request) { v.Secret.AllowedHosts = "h00,h" }, Outcome{Status: 403}},
		{"empty annotation", func(v *View, _ *Request) { v.Secret.AllowedHosts = "" }, Outcome{Status: 403}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, r := granted(), fetchReq()
			c.change(&v, &r)
			if got := Expect(v, r, acct); got != c.want {
				t.Fatalf("Expect = %+v, want %+v", got, c.want)
			}
		})
	}
}

// A view reads the Secret only in the token's host's namespace.
func TestViewReadsOnlyTheHostsNamespace(t *testing.T) {
	s := EmptyState()
	s.Secrets[SecretID{"other", "x"}] = &Secret{Exposed: true, AllowedHosts: "*"}
	r := fetchReq()
	r.Variable.Namespace = "other"
	if v := s.View(r); v.Secret != nil {
		t.Fatal("the view of a fetch reads another namespace's Secret")
	}
	s.Secrets[SecretID{"ns", "x"}] = &Secret{Exposed: true}
	if v := s.View(fetchReq()); v.Secret == nil {
		t.Fatal("the view of a fetch misses the Secret of the host's namespace")
	}
}
