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

package armid

import (
	"strings"
	"testing"
)

// FuzzParse holds Parse to a plain rule: an ID it accepts has the fixed
// keywords at their places, no empty segment or control character, and
// its canonical spelling parses back to the same ID.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/3",
		"subscriptions/s/resourcegroups/providers/providers/p/t/n",
		"/subscriptions/s/resourcegroups/rg/providers/p/t/n/",
		"/subscriptions//resourcegroups/rg/providers/p/t/n",
		"/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/PROVIDERS/p/t/n\x00",
		"/subscriptions/s/resourcegroups/rg/providers/p/t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		segs := strings.Split(strings.TrimPrefix(s, "/"), "/")
		if len(s) > MaxLength || len(segs) < 8 || len(segs)%2 != 0 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("Parse(%q) accepted a malformed id", s)
		}
		for i, kw := range map[int]string{0: "subscriptions", 2: "resourcegroups", 4: "providers"} {
			if !strings.EqualFold(segs[i], kw) {
				t.Fatalf("Parse(%q): segment %d is %q", s, i, segs[i])
			}
		}
		for _, seg := range segs {
			if seg == "" {
				t.Fatalf("Parse(%q) accepted an empty segment", s)
			}
		}
		if id.SubscriptionID != segs[1] || id.ResourceGroup != segs[3] || id.Namespace != segs[5] || id.Name() != segs[len(segs)-1] {
			t.Fatalf("Parse(%q) = %+v", s, id)
		}
		again, err := Parse(id.String())
		if err != nil || !again.Equal(id) || again.String() != id.String() {
			t.Fatalf("Parse(%q).String() = %q does not parse back: %+v, %v", s, id.String(), again, err)
		}
	})
}
