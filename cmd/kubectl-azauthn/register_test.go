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

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

const (
	regSub     = "3f2c8a41-6b7d-4e90-a1c2-0d9e8f7a6b5c"
	regIDSub   = "9c1e2d3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5"
	regTenant  = "5d7e9f1a-2b3c-4d5e-9f60-718293a4b5c6"
	regLedger  = "/subscriptions/" + regSub + "/resourceGroups/rg-payments/providers/Microsoft.Compute/virtualMachines/Ledger-VM"
	regBatchVM = "/subscriptions/" + regSub + "/resourceGroups/rg-payments/providers/Microsoft.Compute/virtualMachines/batch-vm-01"
)

// noKubeconfig keeps the tests off any cluster the machine may know:
// --dry-run=client must not need one.
func noKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("HOME", t.TempDir())
}

func TestRegisterDryRunClientGolden(t *testing.T) {
	noKubeconfig(t)
	cases := []struct {
		golden string
		args   []string
		stdin  string
		check  func(t *testing.T, h *authnv1alpha1.AzureHost)
	}{
		{golden: "register-vm-system.yaml", args: []string{"-f", "testdata/az/vm-system.json"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				want := authnv1alpha1.AzureHostSpec{SubscriptionID: regSub, ResourceGroup: "rg-payments",
					SystemAssignedIdentity: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", TenantID: regTenant}
				if h.Name != "ledger-vm" || h.Spec.SubscriptionID != want.SubscriptionID || h.Spec.ResourceGroup != want.ResourceGroup ||
					h.Spec.SystemAssignedIdentity != want.SystemAssignedIdentity || h.Spec.TenantID != want.TenantID ||
					h.Spec.UserAssignedIdentity != "" || h.Spec.ResourceID != "" {
					t.Errorf("got %s %+v, want ledger-vm %+v", h.Name, h.Spec, want)
				}
				if got := h.Annotations[AnnotationRegisteredFrom]; got != regLedger {
					t.Errorf("registered-from %q, want %q", got, regLedger)
				}
			}},
		{golden: "register-vm-system-stdin.yaml", args: []string{"-f", "-"}, stdin: mustRead(t, "testdata/az/vm-system.json")},
		{golden: "register-vm-user.yaml", args: []string{"-f", "testdata/az/vm-user.json"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				// The identity's subscription and group, pinned to the VM.
				if h.Spec.SubscriptionID != regIDSub || h.Spec.ResourceGroup != "rg-identities" ||
					h.Spec.UserAssignedIdentity != "id-ledger" || h.Spec.ResourceID != regBatchVM ||
					h.Spec.SystemAssignedIdentity != "" || h.Spec.TenantID != "" {
					t.Errorf("got %+v", h.Spec)
				}
			}},
		{golden: "register-vmss-user-telemetry.yaml", args: []string{"-f", "testdata/az/vmss-users.json", "--identity", "user=ID-Telemetry"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Name != "render-pool" || h.Spec.UserAssignedIdentity != "id-telemetry" {
					t.Errorf("got %s %+v", h.Name, h.Spec)
				}
			}},
		{golden: "register-webapp-both-system.yaml", args: []string{"-f", "testdata/az/webapp-both.json", "--identity", "system"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Spec.SystemAssignedIdentity != "8d9e0f1a-2b3c-4d4e-b5f6-a7b8c9d0e1f2" || h.Spec.UserAssignedIdentity != "" {
					t.Errorf("got %+v", h.Spec)
				}
			}},
		{golden: "register-webapp-both-user.yaml", args: []string{"-f", "testdata/az/webapp-both.json", "--identity", "user"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Spec.UserAssignedIdentity != "id-billing-api" || h.Spec.ResourceGroup != "rg-identities" || h.Spec.TenantID != regTenant ||
					!strings.HasSuffix(h.Spec.ResourceID, "/Microsoft.Web/sites/billing-api") {
					t.Errorf("got %+v", h.Spec)
				}
			}},
		{golden: "register-functionapp-system.yaml", args: []string{"-f", "testdata/az/functionapp-system.json"}},
		{golden: "register-container-user.json", args: []string{"-f", "testdata/az/container-both.json", "--identity", "user=id-reports", "-o", "json"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Name != "reports-nightly" || h.Spec.UserAssignedIdentity != "id-reports" {
					t.Errorf("got %s %+v", h.Name, h.Spec)
				}
			}},
		{golden: "register-containerapp-user-named.yaml", args: []string{"-f", "testdata/az/containerapp-users.json", "--identity",
			"user=/subscriptions/" + regIDSub + "/resourceGroups/RG-IDENTITIES/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-checkout",
			"--name", "checkout-api", "--label", "authn.dap.io/team=payments", "--label", "tier=web"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Name != "checkout-api" || h.Labels["authn.dap.io/team"] != "payments" || h.Labels["tier"] != "web" || h.Spec.UserAssignedIdentity != "id-checkout" {
					t.Errorf("got %s %v %+v", h.Name, h.Labels, h.Spec)
				}
			}},
		{golden: "register-identity-pinned.yaml", args: []string{"-f", "testdata/az/identity.json", "--resource-id", regBatchVM},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Name != "id-ledger" || h.Spec.UserAssignedIdentity != "id-ledger" || h.Spec.ResourceID != regBatchVM || h.Spec.TenantID != regTenant {
					t.Errorf("got %s %+v", h.Name, h.Spec)
				}
			}},
		{golden: "register-group-wide.yaml", args: []string{"-f", "testdata/az/group.json", "--resource-group-wide", "--tenant-id", regTenant},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Name != "rg-batch" || h.Spec.ResourceGroup != "rg-batch" || h.Spec.UserAssignedIdentity != "" || h.Spec.SystemAssignedIdentity != "" || h.Spec.ResourceID != "" {
					t.Errorf("got %s %+v", h.Name, h.Spec)
				}
			}},
		{golden: "register-flags-system.yaml", args: []string{"--resource-id", regLedger,
			"--principal-id", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "--tenant-id", regTenant}},
		{golden: "register-flags-identity.yaml", args: []string{"--resource-id",
			"/subscriptions/" + regIDSub + "/resourceGroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id_Ledger_2"},
			check: func(t *testing.T, h *authnv1alpha1.AzureHost) {
				if h.Name != "id-ledger-2" {
					t.Errorf("name %q, want id-ledger-2", h.Name)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			args := append([]string{"register", "-n", "payments", "--dry-run=client"}, tc.args...)
			code, out, errOut := runCapture(t, tc.stdin, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			checkGolden(t, tc.golden, out)
			var h authnv1alpha1.AzureHost
			if err := yaml.UnmarshalStrict([]byte(out), &h); err != nil {
				t.Fatalf("the output is not an AzureHost: %v", err)
			}
			if h.Namespace != "payments" || h.Kind != "AzureHost" || h.APIVersion != authnv1alpha1.GroupVersion.String() {
				t.Errorf("got %s %s/%s", h.GroupVersionKind(), h.Namespace, h.Name)
			}
			if h.Annotations[AnnotationRegisteredFrom] == "" {
				t.Errorf("no %s annotation", AnnotationRegisteredFrom)
			}
			if tc.check != nil {
				tc.check(t, &h)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every refusal says what is wrong, exits 2 (nothing changed) and prints
// nothing on standard output, so a pipeline never applies half a host.
func TestRegisterRefusesWithAClearError(t *testing.T) {
	noKubeconfig(t)
	cases := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"unsupported resource", []string{"-f", "testdata/az/storage.json"}, "", exitUsage, "unsupported resource Microsoft.Storage/storageAccounts (stpayments01)"},
		{"missing principal id in JSON", []string{"-f", "testdata/az/vm-no-principal.json"}, "", exitUsage, "missing principal id"},
		{"missing principal id with flags", []string{"--resource-id", regLedger}, "", exitUsage, "missing principal id"},
		{"no identity", []string{"-f", "testdata/az/vm-none.json"}, "", exitUsage, "plain-vm has no managed identity"},
		{"system and user, unchosen", []string{"-f", "testdata/az/webapp-both.json"}, "", exitUsage, "choose one: --identity system, --identity user=id-billing-api"},
		{"several users, unchosen", []string{"-f", "testdata/az/vmss-users.json"}, "", exitUsage, "--identity user=id-render, --identity user=id-telemetry"},
		{"several users, user", []string{"-f", "testdata/az/vmss-users.json", "--identity", "user"}, "", exitUsage, "has 2 user-assigned identities"},
		{"no system identity", []string{"-f", "testdata/az/vmss-users.json", "--identity", "system"}, "", exitUsage, "has no system-assigned identity"},
		{"unknown user identity", []string{"-f", "testdata/az/vmss-users.json", "--identity", "user=id-other"}, "", exitUsage, `no user-assigned identity "id-other"`},
		{"bad --identity", []string{"-f", "testdata/az/vm-system.json", "--identity", "both"}, "", exitUsage, "--identity must be system, user or user=NAME"},
		{"group without the flag", []string{"-f", "testdata/az/group.json"}, "", exitUsage, "needs --resource-group-wide"},
		{"group-wide with an identity", []string{"-f", "testdata/az/vm-system.json", "--resource-group-wide", "--identity", "system"}, "", exitUsage, "--resource-group-wide admits every identity"},
		{"principal id not a GUID", []string{"--resource-id", regLedger, "--principal-id", "not-a-guid"}, "", exitUsage, "spec.systemAssignedIdentity"},
		{"tenant conflict", []string{"-f", "testdata/az/vm-system.json", "--tenant-id", "00000000-0000-4000-8000-000000000001"}, "", exitUsage, "differs from the identity's tenant"},
		{"principal id with JSON", []string{"-f", "testdata/az/vm-system.json", "--principal-id", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}, "", exitUsage, "--principal-id comes from the az JSON"},
		{"resource id with compute JSON", []string{"-f", "testdata/az/vm-system.json", "--resource-id", regLedger}, "", exitUsage, "--resource-id pins a user-assigned identity's host"},
		{"nothing given", nil, "", exitUsage, "give what az prints"},
		{"a list", []string{"-f", "-"}, "[" + "{}" + "]", exitUsage, "JSON array"},
		{"empty input", []string{"-f", "-"}, "  \n", exitUsage, "the input is empty"},
		{"table output", []string{"-f", "-"}, "Name    ResourceGroup\n", exitUsage, "run az with -o json"},
		{"two documents", []string{"-f", "-"}, mustRead(t, "testdata/az/vm-system.json") + "{}", exitUsage, "more than one JSON document"},
		{"no id", []string{"-f", "-"}, `{"name": "x"}`, exitUsage, `has no "id"`},
		{"malformed id", []string{"--resource-id", "/subscriptions/x/resourceGroups"}, "", exitUsage, "malformed ARM resource ID"},
		{"bad label", []string{"-f", "testdata/az/vm-system.json", "--label", "team"}, "", exitUsage, "want KEY=VALUE"},
		{"bad label value", []string{"-f", "testdata/az/vm-system.json", "--label", "team=a b"}, "", exitUsage, "--label \"team=a b\": value"},
		{"bad name", []string{"-f", "testdata/az/vm-system.json", "--name", "Ledger_VM"}, "", exitUsage, `--name "Ledger_VM"`},
		{"underivable name", []string{"--resource-id", "/subscriptions/" + regSub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/___", "--principal-id", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}, "", exitUsage, "give --name"},
		{"bad dry-run", []string{"-f", "testdata/az/vm-system.json", "--dry-run", "yes"}, "", exitUsage, "--dry-run must be none, client or server"},
		{"bad output", []string{"-f", "testdata/az/vm-system.json", "-o", "table"}, "", exitUsage, "--output must be yaml or json"},
		{"argument", []string{"-f", "testdata/az/vm-system.json", "extra"}, "", exitUsage, "unexpected arguments"},
		{"unreadable file", []string{"-f", "testdata/az/no-such-file.json"}, "", exitFailed, "no-such-file.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"register", "-n", "payments", "--dry-run=client"}, tc.args...)
			code, out, errOut := runCapture(t, tc.stdin, args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.want)
			}
			if out != "" {
				t.Errorf("printed %q on a refusal", out)
			}
		})
	}
}

func TestDNSLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Ledger-VM":                    "ledger-vm",
		"render_pool":                  "render-pool",
		"reports.nightly":              "reports-nightly",
		"--a__b--":                     "a-b",
		"Ünïcode-vm":                   "n-code-vm",
		"___":                          "",
		strings.Repeat("a", 70) + "-b": strings.Repeat("a", 63),
		strings.Repeat("a", 62) + "_b": strings.Repeat("a", 62),
	} {
		if got := dnsLabel(in); got != want {
			t.Errorf("dnsLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameSource(t *testing.T) {
	upper := strings.ToUpper(regLedger[:len("/subscriptions/")]) + regLedger[len("/subscriptions/"):]
	group := "/subscriptions/" + regSub + "/resourceGroups/rg-batch"
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{regLedger, regLedger, true},
		{regLedger, upper, true},
		{regLedger, strings.ToLower(regLedger), true},
		{regLedger, regBatchVM, false},
		{regLedger, "", false},
		{"", "", false},
		{group, strings.ToLower(group), true},
		{group, "/subscriptions/" + regSub + "/resourceGroups/rg-batch2", false},
		{group, "/subscriptions/" + regSub + "/resourceGroups/rg-batch/providers/Microsoft.Compute/virtualMachines/x", false},
	} {
		if got := sameSource(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSource(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// --dry-run=client works on a machine without any kubeconfig (a build
// agent rendering manifests): the namespace is -n, else "default".
func TestRegisterDryRunClientNeedsNoKubeconfig(t *testing.T) {
	noKubeconfig(t)
	code, out, errOut := runCapture(t, "", "register", "-f", "testdata/az/vm-system.json", "--dry-run=client")
	if code != exitOK || !strings.Contains(out, "namespace: default\n") {
		t.Fatalf("exit %d, %q, %q", code, out, errOut)
	}
	// Without --dry-run=client the missing kubeconfig is an error.
	if code, _, errOut := runCapture(t, "", "register", "-f", "testdata/az/vm-system.json"); code != exitFailed || !strings.Contains(errOut, "kubeconfig") {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}
