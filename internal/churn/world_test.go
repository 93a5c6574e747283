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
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/azure-authenticator/azure-authenticator/internal/compile"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

const (
	testSubscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	testIssuer       = "https://127.0.0.1:1/72f988bf-86f1-41af-91ab-2d7cd011db47/"
)

// walk applies n planned writes to the world's initial state (model
// only, no API server) and calls visit with each state.
func walk(t *testing.T, w *world, n int, visit func(kind string, before, after *State)) {
	t.Helper()
	s := EmptyState()
	for _, step := range w.initial() {
		next := s.clone()
		step(next)
		s = next
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		kind := WriteKinds[rng.IntN(len(WriteKinds))]
		p := w.planWrite(kind, s, rng)
		if p == nil {
			continue
		}
		for id, h := range p.next.Hosts {
			if h.UID == "(not yet created)" {
				c := *h
				c.UID = "uid-" + id.String() + "-" + string(rune('a'+i%26))
				p.next.Hosts[id] = &c
			}
		}
		visit(kind, s, p.next)
		s = p.next
	}
}

// The objects the writer sends say what the model says: compiled by the
// product's own compile and policy packages, they admit, match and grant
// exactly the hosts the model's Expect lets through.
func TestWorldObjectsMeanWhatTheModelSays(t *testing.T) {
	w := newWorld("p", testSubscription, testIssuer, "")
	walk(t, w, 400, func(_ string, _, s *State) {
		ix := policy.NewIndex()
		for ns, n := range s.Namespaces {
			ix.PutNamespace(ns, labels.Set(w.namespaceObject(ns, n).Labels))
		}
		for svc, a := range s.Authenticators {
			c, err := compile.Authenticator(w.authenticatorObject(svc, a))
			if err != nil {
				t.Fatalf("authenticator %s: %v", svc, err)
			}
			ix.PutAuthenticator(c)
		}
		for id, h := range s.Hosts {
			c, err := compile.Host(w.hostObject(id, h))
			if err != nil {
				t.Fatalf("host %s: %v", id, err)
			}
			ix.PutHost(c)
		}
		for _, tg := range w.targets() {
			r := Request{Route: Authenticate, Account: acct, Service: tg.service, Host: tg.host, ResourceGroup: tg.resourceGroup}
			want := Expect(s.View(r), r, acct)
			d := ix.Decide(tg.service, policy.HostID{Namespace: tg.host.Namespace, Name: tg.host.Name})
			got := 401
			if d.Authenticator != nil && d.Authenticator.Enabled && d.Host != nil &&
				strings.EqualFold(d.Host.ResourceGroup, tg.resourceGroup) && d.Host.AllowsClient(netip.MustParseAddr("127.0.0.1")) {
				got = 403
				if d.Admitted {
					got = 200
				}
			}
			if got != want.Status {
				t.Fatalf("%+v: the product's index decides %d, the model %d", tg, got, want.Status)
			}
		}
		for id, x := range s.Secrets {
			o := w.secretObject(id, x)
			c := secrets.Compile(id.Namespace, id.Name, o.Labels, o.Annotations, o.Data)
			if (c != nil) != x.Exposed {
				t.Fatalf("secret %s: exposed %v, compiled %v", id, x.Exposed, c != nil)
			}
			for i := range 5 {
				host := "h" + string(rune('0'+i))
				if c != nil && c.Allows(host) != x.Allows(host) {
					t.Fatalf("secret %s (%q): the store allows %s: %v, the model: %v", id, x.AllowedHosts, host, c.Allows(host), x.Allows(host))
				}
			}
		}
	})
}

// Every kind of write gets made, revoking ones stay within their caps,
// and each write changes something.
func TestWriterMakesEveryKindWithinCaps(t *testing.T) {
	made := map[string]int{}
	walk(t, newWorld("p", testSubscription, testIssuer, ""), 2000, func(kind string, before, after *State) {
		made[kind]++
		if len(after.Hosts) < 6 || len(after.Authenticators) < 1 || len(after.Secrets) < 3 {
			t.Fatalf("after %s: %d hosts, %d authenticators, %d secrets", kind, len(after.Hosts), len(after.Authenticators), len(after.Secrets))
		}
		off := 0
		for _, n := range after.Namespaces {
			if n.Labels[admitLabel] != "yes" {
				off++
			}
		}
		if off > 1 {
			t.Fatalf("after %s: %d namespaces not admitted", kind, off)
		}
		if same(before, after) {
			t.Fatalf("%s changed nothing", kind)
		}
	})
	for _, k := range WriteKinds {
		if made[k] == 0 {
			t.Errorf("%s never made in 2000 writes", k)
		}
	}
	t.Logf("writes made: %v", made)
}

func same(a, b *State) bool {
	if len(a.Namespaces) != len(b.Namespaces) || len(a.Authenticators) != len(b.Authenticators) || len(a.Hosts) != len(b.Hosts) || len(a.Secrets) != len(b.Secrets) {
		return false
	}
	for k, v := range a.Namespaces {
		if b.Namespaces[k] != v {
			return false
		}
	}
	for k, v := range a.Authenticators {
		if b.Authenticators[k] != v {
			return false
		}
	}
	for k, v := range a.Hosts {
		if b.Hosts[k] != v {
			return false
		}
	}
	for k, v := range a.Secrets {
		if b.Secrets[k] != v {
			return false
		}
	}
	return true
}

// The hot set of a revoking write holds what it takes away.
func TestAffectedNamesWhatAWriteChanges(t *testing.T) {
	w := newWorld("p", testSubscription, testIssuer, "")
	s := EmptyState()
	for _, step := range w.initial() {
		step(s)
	}
	for id, h := range s.Hosts {
		c := *h
		c.UID = "uid-" + id.String()
		s.Hosts[id] = &c
	}
	next := s.clone()
	n := *next.Namespaces["p-a"]
	n.Labels = map[string]string{runLabel: "p", admitLabel: "no"}
	next.Namespaces["p-a"] = &n
	hot, revokes := affected(w.targets(), s, next, acct)
	if !revokes || len(hot) == 0 {
		t.Fatalf("taking admission away from p-a: hot %d, revokes %v", len(hot), revokes)
	}
	for _, tg := range hot {
		if tg.host.Namespace != "p-a" {
			t.Fatalf("%+v is hot, but only p-a changed", tg)
		}
	}
	if hot, revokes := affected(w.targets(), next, s, acct); revokes || len(hot) == 0 {
		t.Fatalf("giving it back: hot %d, revokes %v", len(hot), revokes)
	}
}
