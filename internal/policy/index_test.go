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

package policy

import (
	"fmt"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func selector(t testing.TB, s *metav1.LabelSelector) labels.Selector {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func authenticator(t testing.TB, name string, ns *metav1.LabelSelector) *Authenticator {
	a := &Authenticator{ServiceID: name, Enabled: true, HostSelector: labels.Everything()}
	if ns != nil {
		a.NamespaceSelector = selector(t, ns)
	}
	return a
}

func TestAdmitsFailsClosed(t *testing.T) {
	host := &Host{ID: HostID{"apps", "app"}, Labels: LabelsOf(labels.Set{"tier": "prod"})}
	known := Namespace{Known: true, Labels: labels.Set{"team": "a"}}
	unknown := Namespace{}
	all := &metav1.LabelSelector{}
	notIn := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"b"}}}}
	doesNotExist := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "locked", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	teamA := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}

	tests := []struct {
		name string
		auth *Authenticator
		ns   Namespace
		host *Host
		want bool
	}{
		{"an empty namespace selector admits a known namespace", authenticator(t, "s", all), known, host, true},
		{"a matching namespace selector admits", authenticator(t, "s", teamA), known, host, true},
		{"no allowedHosts admits nobody", authenticator(t, "s", nil), known, host, false},
		{"an unknown namespace never matches an empty selector", authenticator(t, "s", all), unknown, host, false},
		{"an unknown namespace never matches NotIn", authenticator(t, "s", notIn), unknown, host, false},
		{"an unknown namespace never matches DoesNotExist", authenticator(t, "s", doesNotExist), unknown, host, false},
		{"a known namespace matches NotIn", authenticator(t, "s", notIn), known, host, true},
		{"a disabled authenticator admits nobody", func() *Authenticator { a := authenticator(t, "s", all); a.Enabled = false; return a }(), known, host, false},
		{"the host selector narrows by host labels", func() *Authenticator {
			a := authenticator(t, "s", all)
			a.HostSelector = selector(t, &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "dev"}})
			return a
		}(), known, host, false},
		{"a missing host is not admitted", authenticator(t, "s", all), known, nil, false},
		{"a missing authenticator admits nobody", nil, known, host, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.auth.Admits(tc.ns, tc.host); got != tc.want {
				t.Fatalf("Admits = %v, want %v", got, tc.want)
			}
			// Selects is Admits without enablement: an enabled authenticator
			// selects exactly whom it admits, a disabled one as if enabled.
			enabled := tc.auth
			if tc.auth != nil {
				on := *tc.auth
				on.Enabled = true
				enabled = &on
			}
			if got, want := tc.auth.Selects(tc.ns, tc.host), enabled.Admits(tc.ns, tc.host); got != want {
				t.Fatalf("Selects = %v, want %v", got, want)
			}
		})
	}
}

func TestIndexDecideReadsOneConsistentView(t *testing.T) {
	ix := NewIndex()
	if ix.Synced() {
		t.Fatal("a new index claims to be synced")
	}
	id := HostID{"apps", "app"}
	ix.PutAuthenticator(authenticator(t, "prod", &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}))
	ix.PutHost(&Host{ID: id})

	if d := ix.Decide("prod", id); d.Authenticator == nil || d.Host == nil || d.Admitted {
		t.Fatalf("before the namespace is known: %+v, want found but not admitted", d)
	}
	ix.PutNamespace("apps", labels.Set{"team": "a"})
	if d := ix.Decide("prod", id); !d.Admitted {
		t.Fatalf("after the namespace is known: %+v, want admitted", d)
	}
	if d := ix.Decide("unknown", id); d.Authenticator != nil || d.Admitted {
		t.Fatalf("unknown service: %+v", d)
	}
	if d := ix.Decide("prod", HostID{"apps", "other"}); d.Host != nil || d.Admitted {
		t.Fatalf("unknown host: %+v", d)
	}
	ix.DeleteNamespace("apps")
	if d := ix.Decide("prod", id); d.Admitted {
		t.Fatalf("after the namespace is deleted: %+v, want not admitted", d)
	}
	ix.DeleteHost(id)
	ix.DeleteAuthenticator("prod")
	if s := ix.Stats(); s != (Stats{}) {
		t.Fatalf("Stats after deleting everything = %+v", s)
	}
	ix.MarkSynced()
	if !ix.Synced() {
		t.Fatal("MarkSynced did not stick")
	}
}

// TestIndexIsSafeForConcurrentReadersAndWriters is meant for -race: readers
// and writers hammer the same keys.
func TestIndexIsSafeForConcurrentReadersAndWriters(t *testing.T) {
	ix := NewIndex()
	ix.PutAuthenticator(authenticator(t, "svc", &metav1.LabelSelector{}))
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				id := HostID{"ns", fmt.Sprint(i % 50)}
				ix.PutHost(&Host{ID: id, Generation: int64(w)})
				ix.PutNamespace("ns", labels.Set{"i": fmt.Sprint(i)})
				if i%7 == 0 {
					ix.DeleteHost(id)
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4000 {
				d := ix.Decide("svc", HostID{"ns", fmt.Sprint(i % 50)})
				if d.Admitted && d.Host == nil {
					t.Error("admitted a missing host")
					return
				}
			}
		}()
	}
	wg.Wait()
}
