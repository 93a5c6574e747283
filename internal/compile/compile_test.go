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

package compile

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

const (
	testSub    = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// These run without an API server: they are the reconciler's own check for
// objects that slipped past admission.

func TestCompileHostRefusesWhatAdmissionShouldHaveRefused(t *testing.T) {
	tests := []struct {
		name string
		spec authnv1alpha1.AzureHostSpec
		want string
	}{
		{"both identities", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg", UserAssignedIdentity: "id-a", SystemAssignedIdentity: testSub}, "set at most one"},
		{"bad subscription", authnv1alpha1.AzureHostSpec{SubscriptionID: "nope", ResourceGroup: "rg"}, "spec.subscriptionID"},
		{"resource group ending in a dot", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg."}, "must not end with '.'"},
		{"resource group with a space", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "my rg"}, "may contain only"},
		{"resource group too long", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: strings.Repeat("é", 91)}, "1 to 90 characters"},
		{"identity name too long", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg", UserAssignedIdentity: strings.Repeat("a", 129)}, "spec.userAssignedIdentity"},
		{"principal not a GUID", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg", SystemAssignedIdentity: "vm-1"}, "spec.systemAssignedIdentity"},
		{"malformed resource ID", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg", ResourceID: "/subscriptions/x"}, "spec.resourceID"},
		{"resource ID elsewhere without a user-assigned identity", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg",
			ResourceID: "/subscriptions/" + testSub + "/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/vm"}, "must lie in subscriptionID and resourceGroup"},
		{"CIDR with host bits", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg", AllowedCIDRs: []string{"10.1.2.3/8"}}, "did you mean 10.0.0.0/8"},
		{"address with a zone", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg", AllowedCIDRs: []string{"fe80::1%eth0"}}, "spec.allowedCIDRs[0]"},
		{"IPv4-mapped range (would match no client)", authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg", AllowedCIDRs: []string{"::ffff:10.0.0.0/104"}}, "write it as IPv4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Host(&authnv1alpha1.AzureHost{Spec: tc.spec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CompileHost = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCompileHostFoldsForComparison(t *testing.T) {
	h, err := Host(&authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "vm", UID: "u-1", Generation: 3, Labels: map[string]string{"tier": "prod"}},
		Spec: authnv1alpha1.AzureHostSpec{
			SubscriptionID: strings.ToUpper(testSub), ResourceGroup: "Prod-RG-Ü", SystemAssignedIdentity: strings.ToUpper(testTenant),
			TenantID:     strings.ToUpper(testTenant),
			ResourceID:   "/SUBSCRIPTIONS/" + testSub + "/resourcegroups/prod-rg-Ü/providers/Microsoft.Compute/virtualMachines/VM-1",
			AllowedCIDRs: []string{"10.0.0.0/16", "192.0.2.7", "::ffff:192.0.2.8"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.ID.String() != "apps/vm" || h.UID != "u-1" || h.Generation != 3 || h.Labels.Get("tier") != "prod" {
		t.Errorf("identity fields: %+v", h)
	}
	if h.SubscriptionID != testSub || h.ResourceGroup != "prod-rg-Ü" || h.SystemAssignedIdentity != testTenant || h.TenantID != testTenant {
		t.Errorf("folded fields: %+v", h)
	}
	if h.ResourceID == nil || h.ResourceID.Name() != "VM-1" {
		t.Errorf("resource ID: %+v", h.ResourceID)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("192.0.2.8/32")}
	if len(h.AllowedCIDRs) != len(want) {
		t.Fatalf("CIDRs = %v", h.AllowedCIDRs)
	}
	for i := range want {
		if h.AllowedCIDRs[i] != want[i] {
			t.Errorf("CIDR %d = %v, want %v", i, h.AllowedCIDRs[i], want[i])
		}
	}
}

func TestCompileAuthenticator(t *testing.T) {
	valid := func() *authnv1alpha1.AzureAuthenticator {
		return &authnv1alpha1.AzureAuthenticator{
			ObjectMeta: metav1.ObjectMeta{Name: "prod"},
			Spec: authnv1alpha1.AzureAuthenticatorSpec{Providers: []authnv1alpha1.Provider{
				{URI: "https://sts.windows.net/" + strings.ToUpper(testTenant) + "/"},
				{URI: "https://login.microsoftonline.com/" + testTenant + "/v2.0"},
			}},
		}
	}
	t.Run("defaults apply when the API server did not", func(t *testing.T) {
		a, err := Authenticator(valid())
		if err != nil {
			t.Fatal(err)
		}
		if !a.Enabled || a.TokenTTL != 8*time.Minute || a.ClockSkew != time.Minute || len(a.Audiences) != 2 {
			t.Errorf("defaults: %+v", a)
		}
		if a.NamespaceSelector != nil {
			t.Error("no allowedHosts must mean no namespace selector (admit nobody)")
		}
		if a.Providers[0].TenantID != testTenant || a.Providers[1].TenantID != testTenant {
			t.Errorf("tenants: %+v", a.Providers)
		}
	})
	tests := []struct {
		name   string
		mutate func(*authnv1alpha1.AzureAuthenticator)
		want   string
	}{
		{"no providers", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Providers = nil }, "spec.providers"},
		{"http provider", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "http://sts.windows.net/" + testTenant + "/"
		}, "https URL"},
		{"provider with user info", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "https://user@sts.windows.net/" + testTenant + "/"
		}, "without user info"},
		{"provider without tenant", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Providers[0].URI = "https://sts.windows.net/common/" }, "tenant id"},
		{"duplicate provider", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Providers[1] = a.Spec.Providers[0] }, "Duplicate"},
		{"CA bundle without certificates", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Providers[0].CABundle = "not pem" }, "contains no PEM certificate"},
		{"TTL too short", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.TokenTTL = &metav1.Duration{Duration: time.Second} }, "spec.tokenTTL"},
		{"negative skew", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.ClockSkew = &metav1.Duration{Duration: -time.Second} }, "spec.clockSkew"},
		{"allowedHosts without namespace selector", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.AllowedHosts = &authnv1alpha1.AllowedHosts{}
		}, "namespaceSelector"},
		{"bad host selector operator", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.AllowedHosts = &authnv1alpha1.AllowedHosts{
				NamespaceSelector: &metav1.LabelSelector{},
				HostSelector:      &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Near"}}},
			}
		}, "spec.allowedHosts.hostSelector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := valid()
			tc.mutate(a)
			_, err := Authenticator(a)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CompileAuthenticator = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("a disabled authenticator compiles, disabled", func(t *testing.T) {
		a := valid()
		a.Spec.Enabled = ptr.To(false)
		c, err := Authenticator(a)
		if err != nil || c.Enabled {
			t.Fatalf("CompileAuthenticator = %+v, %v", c, err)
		}
	})
}

// The CRD's maxLength counts characters; compile once counted bytes and
// refused issuers and audiences the API server had admitted.
func TestCompileCountsCharactersAsTheSchemaDoes(t *testing.T) {
	prefix := "https://sts.windows.net/"
	suffix := "/" + testTenant + "/"
	issuer := prefix + strings.Repeat("é", 2048-len(prefix)-len(suffix)) + suffix
	a := &authnv1alpha1.AzureAuthenticator{Spec: authnv1alpha1.AzureAuthenticatorSpec{
		Providers: []authnv1alpha1.Provider{{URI: issuer}},
		Audiences: []string{strings.Repeat("é", 256)},
	}}
	if _, err := Authenticator(a); err != nil {
		t.Fatalf("2048-character issuer and 256-character audience (more bytes): %v", err)
	}
	a.Spec.Providers[0].URI = prefix + "é" + issuer[len(prefix):]
	a.Spec.Audiences[0] += "é"
	_, err := Authenticator(a)
	if err == nil || !strings.Contains(err.Error(), "spec.providers[0].uri") || !strings.Contains(err.Error(), "spec.audiences[0]") {
		t.Fatalf("one character more must be refused on both fields, got %v", err)
	}
}
