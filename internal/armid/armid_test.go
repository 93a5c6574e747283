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
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	const sub = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	tests := []struct {
		name   string
		in     string
		want   string // canonical String(), empty when Parse must fail
		uami   bool
		leafNm string
	}{
		{name: "a VM's system-assigned identity as Azure spells it", in: "/subscriptions/" + sub + "/resourcegroups/Default-RG/providers/Microsoft.Compute/virtualMachines/vm-1",
			want: "/subscriptions/" + sub + "/resourceGroups/Default-RG/providers/Microsoft.Compute/virtualMachines/vm-1", leafNm: "vm-1"},
		{name: "a user-assigned identity", in: "/subscriptions/" + sub + "/resourceGroups/rg/providers/microsoft.managedidentity/USERASSIGNEDIDENTITIES/id-1",
			want: "/subscriptions/" + sub + "/resourceGroups/rg/providers/microsoft.managedidentity/USERASSIGNEDIDENTITIES/id-1", uami: true, leafNm: "id-1"},
		{name: "the leading slash is optional", in: "subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Web/sites/app",
			want: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Web/sites/app", leafNm: "app"},
		{name: "an App Service slot is a nested resource", in: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/staging",
			want: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/staging", leafNm: "staging"},
		{name: "a resource group called myproviders", in: "/subscriptions/" + sub + "/resourceGroups/myproviders/providers/Microsoft.Compute/virtualMachines/vm",
			want: "/subscriptions/" + sub + "/resourceGroups/myproviders/providers/Microsoft.Compute/virtualMachines/vm", leafNm: "vm"},
		{name: "a resource group called providers", in: "/subscriptions/" + sub + "/resourceGroups/providers/providers/Microsoft.Compute/virtualMachines/vm",
			want: "/subscriptions/" + sub + "/resourceGroups/providers/providers/Microsoft.Compute/virtualMachines/vm", leafNm: "vm"},
		{name: "a user-assigned identity with a child resource is not a user-assigned identity", in: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials/x",
			want: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials/x", leafNm: "x"},
		{name: "refuses an empty string", in: ""},
		{name: "refuses a resource group ID", in: "/subscriptions/" + sub + "/resourceGroups/rg"},
		{name: "refuses a missing resource name", in: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines"},
		{name: "refuses a dangling child type", in: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots"},
		{name: "refuses a trailing slash", in: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/"},
		{name: "refuses an empty segment", in: "/subscriptions/" + sub + "/resourceGroups//providers/Microsoft.Compute/virtualMachines/vm"},
		{name: "refuses keywords out of place", in: "/resourceGroups/rg/subscriptions/" + sub + "/providers/Microsoft.Compute/virtualMachines/vm"},
		{name: "refuses a missing providers keyword", in: "/subscriptions/" + sub + "/resourceGroups/rg/provider/Microsoft.Compute/virtualMachines/vm"},
		{name: "refuses control characters", in: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm\n"},
		{name: "refuses a double slash at the start", in: "//subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Parse(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%q) = %v, %v; want ErrMalformed", tc.in, id, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := id.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if got := id.IsUserAssignedIdentity(); got != tc.uami {
				t.Errorf("IsUserAssignedIdentity() = %v, want %v", got, tc.uami)
			}
			if got := id.Name(); got != tc.leafNm {
				t.Errorf("Name() = %q, want %q", got, tc.leafNm)
			}
		})
	}
}

func TestParseRefusesOverlongInput(t *testing.T) {
	long := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/"
	for len(long) <= MaxLength {
		long += "a"
	}
	if _, err := Parse(long); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse(%d bytes) = %v, want ErrMalformed", len(long), err)
	}
}

func TestEqualFoldsASCIIOnly(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Default-RG", "default-rg", true},
		{"MC_rg_aks_westeurope", "mc_RG_AKS_WESTEUROPE", true},
		{"Ünïcode", "Ünïcode", true},
		{"Ünïcode", "ünïcode", false}, // non-ASCII letters compare exactly
		{"straße", "STRASSE", false},
		{"rg", "rg.", false},
		{"K", "\u212a", false}, // Kelvin sign is not K
	}
	for _, tc := range tests {
		if got := EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := FoldASCII(tc.a) == FoldASCII(tc.b); got != tc.want {
			t.Errorf("FoldASCII(%q) == FoldASCII(%q) is %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestIDEqualComparesSegmentBySegment(t *testing.T) {
	a, err := Parse("/subscriptions/6A1BD2F1-7C3F-4A5E-9D1E-2B6A4C8E0F11/resourcegroups/RG/providers/microsoft.compute/virtualmachines/VM-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Errorf("%v and %v differ only in ASCII case, want Equal", a, b)
	}
	c, err := Parse("/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1/extensions/x")
	if err != nil {
		t.Fatal(err)
	}
	if a.Equal(c) || c.Equal(a) {
		t.Errorf("a nested resource must not equal its parent")
	}
}
