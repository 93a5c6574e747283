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

package secrets

import (
	"slices"
	"testing"
)

func exposed(ns, name string) *Secret {
	return Compile(ns, name, map[string]string{ExposeLabel: "true"}, map[string]string{AllowedHostsAnnotation: "*"}, map[string][]byte{"k": []byte("v")})
}

// Each listed namespace is its own source: one that cannot be listed is
// unservable with its reason, the others are served.
func TestNamespacesAreServableOneByOne(t *testing.T) {
	st := NewStore("team-b", "team-a")
	if got := st.Sources(); !slices.Equal(got, []string{"team-a", "team-b"}) {
		t.Fatalf("Sources = %v", got)
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if got := st.Unservable(ns); got != "not synced yet" {
			t.Fatalf("%s before its first list: %q", ns, got)
		}
	}
	st.Put("team-a", "db", exposed("team-a", "db"))
	st.SetSynced("team-a")
	st.SetFailing("team-b", "forbidden")
	if got := st.Unservable("team-a"); got != "" {
		t.Fatalf("team-a synced: %q", got)
	}
	if got := st.Unservable("team-b"); got != "cannot list Secrets: forbidden" {
		t.Fatalf("team-b failing: %q", got)
	}
	// Not served at all: nothing is found (404), which is not a 503.
	if got := st.Unservable("elsewhere"); got != "" {
		t.Fatalf("a namespace outside the list: %q", got)
	}

	// A synced namespace whose watch fails keeps its entries but is not
	// served: a revocation could not be seen.
	st.SetFailing("team-a", "connection refused")
	if got := st.Unservable("team-a"); got != "cannot list Secrets: connection refused" {
		t.Fatalf("team-a failing after sync: %q", got)
	}
	if _, ok := st.Get("team-a", "db"); !ok || st.LenIn("team-a") != 1 {
		t.Fatal("entries dropped while failing: they are refreshed, not rebuilt, on recovery")
	}
	st.SetFailing("team-a", "")
	if got := st.Unservable("team-a"); got != "" {
		t.Fatalf("team-a recovered: %q", got)
	}

	// Recovered before its first list: still loading.
	st.SetFailing("team-b", "")
	if got := st.Unservable("team-b"); got != "not synced yet" {
		t.Fatalf("team-b recovered, not synced: %q", got)
	}
}

func TestAllNamespacesShareOneSource(t *testing.T) {
	st := NewStore()
	if got := st.Sources(); !slices.Equal(got, []string{AllNamespaces}) {
		t.Fatalf("Sources = %v", got)
	}
	st.SetSynced(AllNamespaces)
	st.SetFailing(AllNamespaces, "forbidden")
	for _, ns := range []string{"a", "b", AllNamespaces} {
		if got := st.Unservable(ns); got != "cannot list Secrets: forbidden" {
			t.Fatalf("%q: %q", ns, got)
		}
	}
	st.SetFailing(AllNamespaces, "")
	if got := st.Unservable("a"); got != "" {
		t.Fatalf("recovered: %q", got)
	}
}

// A store filled by hand (a server built without a feed) is marked synced
// as a whole.
func TestMarkSyncedServesEverySource(t *testing.T) {
	st := NewStore("a", "b")
	st.MarkSynced()
	if st.Unservable("a") != "" || st.Unservable("b") != "" {
		t.Fatal("MarkSynced left a source unsynced")
	}
}

func TestServableTellsStatusWhatIsKnown(t *testing.T) {
	st := NewStore("a", "b")
	check := func(ns string, wantOK, wantKnown bool, wantReason string) {
		t.Helper()
		ok, known, reason := st.Servable(ns)
		if ok != wantOK || known != wantKnown || reason != wantReason {
			t.Fatalf("Servable(%s) = %v, %v, %q; want %v, %v, %q", ns, ok, known, reason, wantOK, wantKnown, wantReason)
		}
	}
	check("a", false, false, "not synced yet")
	st.SetFailing("a", "forbidden")
	check("a", false, true, "cannot list Secrets: forbidden")
	st.SetSynced("b")
	check("b", true, true, "")
	check("c", false, true, "namespace not served")
}

func TestOnChangeHearsEveryTransitionUntilCancelled(t *testing.T) {
	st := NewStore("a", "b")
	var heard []string
	cancel := st.OnChange(func(ns string) { heard = append(heard, ns) })
	st.SetSynced("a")
	st.SetSynced("a") // no change
	st.SetFailing("b", "forbidden")
	st.SetFailing("b", "forbidden") // no change
	st.SetFailing("b", "timeout")
	st.SetFailing("c", "forbidden") // not a source
	st.SetFailing("b", "")
	cancel()
	st.SetSynced("b")
	if want := []string{"a", "b", "b", "b"}; !slices.Equal(heard, want) {
		t.Fatalf("heard %v, want %v", heard, want)
	}
}
