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
	"testing"
	"unsafe"

	"k8s.io/apimachinery/pkg/labels"
)

// TestHostLabelsSelectLikeASet: every selector operator answers the same
// on HostLabels as on the labels.Set they were made from.
func TestHostLabelsSelectLikeASet(t *testing.T) {
	sets := []labels.Set{nil, {}, {"tier": "prod"}, {"tier": "staging", "app": "a", "team": ""}, {"z": "1", "a": "2", "m": "3"}}
	selectors := []string{"", "tier", "!tier", "tier=prod", "tier!=prod", "tier in (prod,staging)", "tier notin (prod)", "team=", "app,tier=staging", "a=2,m=3,z=1"}
	for _, s := range sets {
		l := LabelsOf(s)
		if l.Len() != len(s) {
			t.Fatalf("LabelsOf(%v) has %d labels", s, l.Len())
		}
		for k, v := range s {
			if got, ok := l.Lookup(k); !ok || got != v || !l.Has(k) || l.Get(k) != v {
				t.Fatalf("LabelsOf(%v): %s = %q, %v", s, k, got, ok)
			}
		}
		if l.Has("absent") || l.Get("absent") != "" {
			t.Fatalf("LabelsOf(%v) has a label never set", s)
		}
		for _, expr := range selectors {
			sel, err := labels.Parse(expr)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sel.Matches(l), sel.Matches(s); got != want {
				t.Errorf("%q on %v: %v, on the set %v", expr, s, got, want)
			}
		}
	}
}

// TestPutHostSharesNamespaceNames: hosts of one namespace share one copy
// of its name, whatever copies their compilers made.
func TestPutHostSharesNamespaceNames(t *testing.T) {
	ix := NewIndex()
	a, b := &Host{ID: HostID{string([]byte("apps")), "x"}}, &Host{ID: HostID{string([]byte("apps")), "y"}}
	ix.PutHost(a)
	ix.PutHost(b)
	if unsafe.StringData(a.ID.Namespace) != unsafe.StringData(b.ID.Namespace) {
		t.Fatal("two copies of one namespace name")
	}
	if h, ok := ix.Host(HostID{"apps", "y"}); !ok || h != b {
		t.Fatal("an interned host is not found by an equal id")
	}
}
