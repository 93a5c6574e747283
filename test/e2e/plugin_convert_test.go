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

package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// What testdata/conjur/apps.yml declares; the converter copies it verbatim.
const (
	pluginConvertService      = "prod" // conjur/authn-azure/prod in root.yml
	pluginConvertSubscription = "11111111-2222-3333-4444-555555555555"
	pluginConvertGroup        = "rg-payments"
	pluginConvertSystemOID    = "6a1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	pluginConvertUAIName      = "ledger-identity"
)

// The converted Conjur policy of Conjur's docs and acceptance suite,
// applied with kubectl and exercised over HTTPS with tokens of the fake
// Entra ID: what Conjur accepts is accepted, what Conjur refuses is
// refused, and each documented difference (docs/migrating-from-conjur.md,
// "Behaviour changes") is asserted on its own.
func TestPluginConvertConjurPolicyAgainstTheServer(t *testing.T) {
	// This test owns the name (an earlier -count run's may still be leaving).
	eventually(t, "no authenticator "+pluginConvertService, func() error {
		if _, found := index.Authenticator(pluginConvertService); found {
			return errorf("authenticator %q exists", pluginConvertService)
		}
		return nil
	})
	bin := pluginBinary(t)
	ns := "conv-" + strings.ToLower(strings.ReplaceAll(newTenant()[:8], "-", ""))
	create(t, nsObject(ns))
	tenant := newTenant()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "entra-ca.pem")
	if err := os.WriteFile(caFile, azure.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	manifests, report := filepath.Join(dir, "manifests.yaml"), filepath.Join(dir, "migration.md")
	conjur := filepath.Join(testenv.RepoRoot(), "cmd", "kubectl-azauthn", "testdata", "conjur")
	cmd := exec.Command(bin, "convert", "conjur-policy",
		"--namespace-for", "apps="+ns,
		"--provider-uri", pluginConvertService+"="+azure.IssuerV1(tenant),
		"--ca-bundle", pluginConvertService+"="+caFile,
		"--report", report,
		filepath.Join(conjur, "root.yml"), filepath.Join(conjur, "apps.yml"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("convert: %v\n%s", err, stderr.String())
	}
	t.Logf("converted in %s", time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(manifests, stdout.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	reportText, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"system-assigned-identity-app", "user-assigned-identity-app", "rg-only-app"} {
		if want := "| `host/apps/" + name + "` | `host/" + ns + "/" + name + "` |"; !strings.Contains(string(reportText), want) {
			t.Errorf("the report lacks the login mapping %s:\n%s", want, reportText)
		}
	}

	ctx := context.Background()
	if out, err := env.Kubectl(ctx, "apply", "-f", manifests); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := env.Kubectl(context.Background(), "delete", "--ignore-not-found", "-f", manifests); err != nil {
			t.Logf("kubectl delete: %v\n%s", err, out)
		}
	})
	auth := &authnv1alpha1.AzureAuthenticator{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: pluginConvertService}, auth); err != nil {
		t.Fatal(err)
	}
	if p := auth.Spec.Providers; len(p) != 1 || p[0].CABundle != string(azure.CAPEM()) {
		t.Fatalf("the applied authenticator does not carry the --ca-bundle PEM: %+v", p)
	}
	eventually(t, "authenticator "+pluginConvertService+" indexed", func() error {
		if a, ok := index.Authenticator(pluginConvertService); !ok || a.Generation != auth.Generation {
			return errors.New("not yet")
		}
		return nil
	})
	login := func(name string) string { return "host/" + ns + "/" + name }
	for _, name := range []string{"system-assigned-identity-app", "user-assigned-identity-app", "rg-only-app"} {
		eventually(t, "host "+name+" admitted", func() error {
			h := &authnv1alpha1.AzureHost{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, h); err != nil {
				return err
			}
			if _, ok := index.Host(policy.HostID{Namespace: ns, Name: name}); !ok {
				return errors.New("not indexed")
			}
			c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady)
			if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != h.Generation {
				return errorf("Ready = %+v", c)
			}
			return nil
		})
	}

	// The workloads of apps.yml: a VM whose system-assigned identity is
	// the one the policy names, and the user-assigned identity it names,
	// attached to another VM of the resource group.
	sysVM := azuretest.VM(tenant, pluginConvertSubscription, pluginConvertGroup, "vm-payments")
	sysVM.ObjectID = pluginConvertSystemOID
	uai := azuretest.UserAssigned(tenant, pluginConvertSubscription, pluginConvertGroup, pluginConvertUAIName,
		azuretest.VM(tenant, pluginConvertSubscription, pluginConvertGroup, "vm-ledger").MIRID)
	tok := func(id azuretest.Identity) string { return azure.Token(id, azuretest.TokenOptions{}) }
	accepted := func(what, host, token string) {
		t.Helper()
		start := time.Now()
		r := authenticate(t, pluginConvertService, account, login(host), token)
		if r.status != http.StatusOK {
			t.Fatalf("%s: got %d %s, want 200; audit %+v", what, r.status, r.body, lastAudit(t, "authenticate", login(host)))
		}
		if sub := accessTokenClaims(t, r)["sub"]; sub != login(host) {
			t.Fatalf("%s: sub = %v, want %s", what, sub, login(host))
		}
		t.Logf("%s: 200 in %s", what, time.Since(start).Round(time.Millisecond))
	}
	refused := func(what, host, token, code string) {
		t.Helper()
		expectFailure(t, authenticate(t, pluginConvertService, account, login(host), token), http.StatusUnauthorized, unauthorized, login(host), code)
		t.Logf("%s: 401 %s", what, code)
	}

	// As Conjur: the matching identities are accepted.
	accepted("system-assigned identity of the policy", "system-assigned-identity-app", tok(sysVM))
	accepted("any identity of the resource group (rg-only)", "rg-only-app", tok(sysVM))
	accepted("user-assigned identity's group (rg-only)", "rg-only-app", tok(uai))

	// As Conjur: restrictions that do not match are refused.
	refused("VM in another resource group (rg-only)", "rg-only-app",
		tok(azuretest.VM(tenant, pluginConvertSubscription, "rg-other", "vm-x")), "CONJ00049E")
	refused("another VM's system-assigned identity", "system-assigned-identity-app",
		tok(azuretest.VM(tenant, pluginConvertSubscription, pluginConvertGroup, "vm-other")), "CONJ00049E")
	refused("another user-assigned identity", "user-assigned-identity-app",
		tok(azuretest.UserAssigned(tenant, pluginConvertSubscription, pluginConvertGroup, "other-identity", sysVM.MIRID)), "CONJ00049E")
	// The general resource group (rg-other) is overridden by
	// authn-azure/prod/resource-group, as in Conjur.
	refused("identity in the overridden general resource group", "user-assigned-identity-app",
		tok(azuretest.UserAssigned(tenant, pluginConvertSubscription, "rg-other", pluginConvertUAIName, sysVM.MIRID)), "CONJ00049E")
	// As Conjur: restricted_to [10.20.0.0/16, 192.0.2.7] became
	// allowedCIDRs, and this client (127.0.0.1) is outside it.
	refused("client outside restricted_to", "user-assigned-identity-app", tok(uai), "CONJ00003E")

	// Difference: audience. Conjur accepted any aud from the tenant; here
	// aud must be one of spec.audiences (default ARM).
	refused("token for another audience", "rg-only-app",
		azure.Token(sysVM, azuretest.TokenOptions{Audience: "https://vault.azure.net"}), "AZAUTH001E")
	// Difference: tenant. Conjur checked the signature and issuer only; here
	// tid must be the provider URI's tenant.
	otherTID := azure.Claims(sysVM, azuretest.TokenOptions{})
	otherTID["tid"] = newTenant()
	refused("token whose tid is another tenant", "rg-only-app", azure.Sign(otherTID), "AZAUTH002E")
	// Difference: case. Conjur compared the annotations exactly and refused
	// these; Azure names compare ASCII-case-insensitively here.
	accepted("resource group differing in case (Conjur: refused)", "rg-only-app",
		tok(azuretest.VM(tenant, pluginConvertSubscription, "RG-Payments", "vm-payments")))
	accepted("resource group differing in case, system-assigned (Conjur: refused)", "system-assigned-identity-app",
		tok(azuretest.Identity{TenantID: tenant, MIRID: azuretest.ResourceID(pluginConvertSubscription, "RG-PAYMENTS", "Microsoft.Compute", "virtualMachines", "vm-payments"), ObjectID: pluginConvertSystemOID, ClientID: sysVM.ClientID}))

	// The user-assigned host's own restrictions, once its CIDRs admit this
	// client: the identity and its case variant are accepted.
	h := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "user-assigned-identity-app"}}
	testenv.Update(t, k8s, h, func() { h.Spec.AllowedCIDRs = append(h.Spec.AllowedCIDRs, "127.0.0.0/8") })
	eventually(t, "user-assigned-identity-app re-indexed", func() error {
		if got, ok := index.Host(policy.HostID{Namespace: ns, Name: h.Name}); !ok || got.Generation != h.Generation {
			return errors.New("not yet")
		}
		return nil
	})
	accepted("user-assigned identity of the policy", "user-assigned-identity-app", tok(uai))
	accepted("identity name differing in case (Conjur: refused)", "user-assigned-identity-app",
		tok(azuretest.UserAssigned(tenant, pluginConvertSubscription, pluginConvertGroup, "Ledger-Identity", sysVM.MIRID)))
	refused("system-assigned token on the user-assigned host", "user-assigned-identity-app", tok(sysVM), "CONJ00049E")
}
