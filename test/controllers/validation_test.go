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

package controllerstest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

// The CRD's OpenAPI schema and CEL rules refuse bad objects at the API
// server, with a message a person can act on. These tests go through the
// real kube-apiserver with dry-run, so nothing is stored.

func TestAPIServerRefusesInvalidAzureHosts(t *testing.T) {
	vm := "/subscriptions/" + subscription + "/resourceGroups/rg-apps/providers/Microsoft.Compute/virtualMachines/vm-1"
	tooMany := make([]string, 33)
	for i := range tooMany {
		tooMany[i] = "10.0." + strconv.Itoa(i) + ".0/24"
	}
	tests := []struct {
		name   string
		mutate func(*authnv1alpha1.AzureHost)
		want   string // part of the API server's message
	}{
		{"both identities set", func(h *authnv1alpha1.AzureHost) {
			h.Spec.UserAssignedIdentity, h.Spec.SystemAssignedIdentity = "id-app", principal
		}, "set at most one of userAssignedIdentity and systemAssignedIdentity"},
		{"missing subscription", func(h *authnv1alpha1.AzureHost) { h.Spec.SubscriptionID = "" }, "spec.subscriptionID"},
		{"subscription is not a GUID", func(h *authnv1alpha1.AzureHost) { h.Spec.SubscriptionID = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0fzz" }, "spec.subscriptionID"},
		{"missing resource group", func(h *authnv1alpha1.AzureHost) { h.Spec.ResourceGroup = "" }, "spec.resourceGroup"},
		{"resource group ending in a dot", func(h *authnv1alpha1.AzureHost) { h.Spec.ResourceGroup = "rg." }, "spec.resourceGroup"},
		{"resource group with a slash", func(h *authnv1alpha1.AzureHost) { h.Spec.ResourceGroup = "rg/other" }, "spec.resourceGroup"},
		{"resource group longer than 90 characters", func(h *authnv1alpha1.AzureHost) { h.Spec.ResourceGroup = strings.Repeat("r", 91) }, "spec.resourceGroup"},
		{"user-assigned identity name too short", func(h *authnv1alpha1.AzureHost) { h.Spec.UserAssignedIdentity = "id" }, "spec.userAssignedIdentity"},
		{"user-assigned identity name starting with a dash", func(h *authnv1alpha1.AzureHost) { h.Spec.UserAssignedIdentity = "-id-app" }, "spec.userAssignedIdentity"},
		{"user-assigned identity name with a dot", func(h *authnv1alpha1.AzureHost) { h.Spec.UserAssignedIdentity = "id.app" }, "spec.userAssignedIdentity"},
		{"system-assigned identity is not a GUID", func(h *authnv1alpha1.AzureHost) { h.Spec.SystemAssignedIdentity = "my-vm" }, "spec.systemAssignedIdentity"},
		{"tenant is not a GUID", func(h *authnv1alpha1.AzureHost) { h.Spec.TenantID = "contoso.onmicrosoft.com" }, "spec.tenantID"},
		{"resource ID is not an ARM ID", func(h *authnv1alpha1.AzureHost) { h.Spec.ResourceID = "vm-1" }, "must be a full ARM resource ID"},
		{"resource ID names a resource group only", func(h *authnv1alpha1.AzureHost) {
			h.Spec.ResourceID = "/subscriptions/" + subscription + "/resourceGroups/rg-apps"
		}, "must be a full ARM resource ID"},
		{"resource ID outside the host's resource group without a user-assigned identity", func(h *authnv1alpha1.AzureHost) {
			h.Spec.ResourceID = strings.Replace(vm, "rg-apps", "rg-other", 1)
		}, "resourceID must lie in subscriptionID and resourceGroup"},
		{"allowed CIDR that is not an address", func(h *authnv1alpha1.AzureHost) { h.Spec.AllowedCIDRs = []string{"office"} }, "must be an IP address or a CIDR"},
		{"allowed CIDR with host bits set", func(h *authnv1alpha1.AzureHost) { h.Spec.AllowedCIDRs = []string{"10.0.0.1/8"} }, "must be an IP address or a CIDR"},
		{"more than 32 allowed CIDRs", func(h *authnv1alpha1.AzureHost) { h.Spec.AllowedCIDRs = tooMany }, "spec.allowedCIDRs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost("default", "invalid", tc.mutate)
			err := k8s.Create(context.Background(), h, client.DryRunAll)
			if err == nil {
				t.Fatalf("the API server accepted %+v", h.Spec)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestAPIServerAcceptsHostsAtEveryLayer(t *testing.T) {
	vm := "/subscriptions/" + strings.ToUpper(subscription) + "/resourcegroups/RG-APPS/providers/Microsoft.Compute/virtualMachines/vm-1"
	tests := []struct {
		name   string
		mutate func(*authnv1alpha1.AzureHost)
	}{
		{"resource-group wide", func(*authnv1alpha1.AzureHost) {}},
		{"a Unicode resource group name", func(h *authnv1alpha1.AzureHost) { h.Spec.ResourceGroup = "Prod-Ünïcode_(eu).1" }},
		{"one user-assigned identity pinned to a VM in another resource group", func(h *authnv1alpha1.AzureHost) {
			h.Spec.UserAssignedIdentity = "id-app_1"
			h.Spec.ResourceID = strings.Replace(vm, "RG-APPS", "rg-compute", 1)
		}},
		{"one system-assigned identity pinned to its VM, keywords in any case", func(h *authnv1alpha1.AzureHost) {
			h.Spec.SystemAssignedIdentity = strings.ToUpper(principal)
			h.Spec.ResourceID = vm
			h.Spec.TenantID = tenant
		}},
		{"addresses and CIDRs of both families", func(h *authnv1alpha1.AzureHost) {
			h.Spec.AllowedCIDRs = []string{"10.0.0.0/16", "192.0.2.7", "2001:db8::/32", "::1"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost("default", "valid", tc.mutate)
			if err := k8s.Create(context.Background(), h, client.DryRunAll); err != nil {
				t.Fatalf("the API server refused a valid host: %v", err)
			}
		})
	}
}

func TestAPIServerRefusesInvalidAzureAuthenticators(t *testing.T) {
	seventeen := make([]authnv1alpha1.Provider, 17)
	for i := range seventeen {
		seventeen[i].URI = "https://127.0.0.1:" + strconv.Itoa(8400+i) + "/" + tenant + "/"
	}
	tests := []struct {
		name   string
		mutate func(*authnv1alpha1.AzureAuthenticator)
		want   string
	}{
		{"no providers", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Providers = nil }, "spec.providers"},
		{"more than 16 providers", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Providers = seventeen }, "spec.providers"},
		{"a plain-HTTP provider", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "http://127.0.0.1:8400/" + tenant + "/"
		}, "must be an https URL"},
		{"a provider without a tenant in its path", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "https://sts.windows.net/common/"
		}, "must end with the tenant id"},
		{"a provider with a query", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "https://127.0.0.1:8400/" + tenant + "/?x=1"
		}, "must be an https URL without query or fragment"},
		{"the same provider twice", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers = append(a.Spec.Providers, a.Spec.Providers[0])
		}, "Duplicate value"},
		{"an empty audience", func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Audiences = []string{""} }, "spec.audiences"},
		{"a token TTL under a minute", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.TokenTTL = &metav1.Duration{Duration: 30e9}
		}, "must be a duration between 1m and 1h"},
		{"a token TTL over an hour", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.TokenTTL = &metav1.Duration{Duration: 7200e9}
		}, "must be a duration between 1m and 1h"},
		{"a clock skew over five minutes", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.ClockSkew = &metav1.Duration{Duration: 600e9}
		}, "must be a duration between 0s and 5m"},
		{"allowed hosts without a namespace selector", func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.AllowedHosts = &authnv1alpha1.AllowedHosts{}
		}, "namespaceSelector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthenticator("invalid", map[string]string{"team": "a"}, tc.mutate)
			err := k8s.Create(context.Background(), a, client.DryRunAll)
			if err == nil {
				t.Fatalf("the API server accepted %+v", a.Spec)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestAPIServerAppliesAuthenticatorDefaults(t *testing.T) {
	a := newAuthenticator("defaults", nil)
	a.Spec.AllowedHosts = nil
	if err := k8s.Create(context.Background(), a, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(a.Spec.Audiences, ","), "https://management.azure.com/,https://management.azure.com"; got != want {
		t.Errorf("audiences = %q, want %q", got, want)
	}
	if a.Spec.TokenTTL == nil || a.Spec.TokenTTL.Duration.String() != "8m0s" {
		t.Errorf("tokenTTL = %v, want 8m", a.Spec.TokenTTL)
	}
	if a.Spec.ClockSkew == nil || a.Spec.ClockSkew.Duration.String() != "1m0s" {
		t.Errorf("clockSkew = %v, want 60s", a.Spec.ClockSkew)
	}
	if !ptr.Deref(a.Spec.Enabled, false) {
		t.Errorf("enabled = %v, want true", a.Spec.Enabled)
	}
	if a.Spec.AllowedHosts != nil {
		t.Errorf("allowedHosts defaulted to %+v; absent must stay absent (no host may)", a.Spec.AllowedHosts)
	}
}
