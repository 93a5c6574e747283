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
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// TestHostThatBypassedAdmissionIsInvalidSpecAndNotIndexed simulates an
// object stored under an older CRD without today's rules: the reconciler
// must not trust the API server to have refused it.
func TestHostThatBypassedAdmissionIsInvalidSpecAndNotIndexed(t *testing.T) {
	ctx := context.Background()
	ns := testNamespace(t, map[string]string{"bypass": "yes"})
	create(t, newAuthenticator("svc-"+ns, map[string]string{"bypass": "yes"}))

	crd := &apiextensionsv1.CustomResourceDefinition{}
	key := client.ObjectKey{Name: "azurehosts.authn.dap.io"}
	if err := k8s.Get(ctx, key, crd); err != nil {
		t.Fatal(err)
	}
	original := crd.Spec.DeepCopy()
	restore := func() {
		update(t, crd, func() { crd.Spec = *original.DeepCopy() })
		eventually(t, "the CRD's rules are back", func() error {
			bad := newHost(ns, "probe", func(h *authnv1alpha1.AzureHost) {
				h.Spec.UserAssignedIdentity, h.Spec.SystemAssignedIdentity = "id-app", principal
			})
			if err := k8s.Create(ctx, bad, client.DryRunAll); err == nil {
				return fmt.Errorf("an invalid host is still accepted")
			}
			return nil
		})
	}
	update(t, crd, func() {
		spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		spec.XValidations = nil
		for name, prop := range spec.Properties {
			prop.Pattern, prop.XValidations, prop.MinLength, prop.MaxLength = "", nil, nil, nil
			spec.Properties[name] = prop
		}
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
	})
	t.Cleanup(restore)

	invalid := newHost(ns, "both-identities", func(h *authnv1alpha1.AzureHost) {
		h.Spec.UserAssignedIdentity, h.Spec.SystemAssignedIdentity = "id-app", principal
		h.Spec.ResourceGroup = "rg."
	})
	eventually(t, "the relaxed CRD accepts an invalid host", func() error {
		return k8s.Create(ctx, invalid.DeepCopy())
	})
	t.Cleanup(func() { _ = k8s.Delete(ctx, invalid) })

	h := hostStatus(t, ns, "both-identities", readyIs("False/InvalidSpec"))
	msg := readyMessage(h)
	for _, want := range []string{"spec.resourceGroup", "set at most one of userAssignedIdentity and systemAssignedIdentity"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Ready message %q does not mention %q", msg, want)
		}
	}
	if len(h.Status.Authenticators) != 0 {
		t.Errorf("an invalid host lists authenticators %v", h.Status.Authenticators)
	}
	if _, ok := index.Host(hostID(ns, "both-identities")); ok {
		t.Fatal("an invalid host is in the index")
	}
}

func readyMessage(h *authnv1alpha1.AzureHost) string {
	for _, c := range h.Status.Conditions {
		if c.Type == authnv1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

// TestStandbyReplicaKeepsItsOwnIndexCurrent runs two replicas with leader
// election: both indexes follow the API server, though only one is leader.
func TestStandbyReplicaKeepsItsOwnIndexCurrent(t *testing.T) {
	indexes := []*policy.Index{policy.NewIndex(), policy.NewIndex()}
	var elected []<-chan struct{}
	for _, ix := range indexes {
		mgr, stop, err := startManager(ix, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		elected = append(elected, mgr.Elected())
	}
	// One of them wins the lease; the other stays standby.
	var leader = -1
	select {
	case <-elected[0]:
		leader = 0
	case <-elected[1]:
		leader = 1
	case <-time.After(30 * time.Second):
		t.Fatal("no replica was elected within 30s")
	}
	standby := 1 - leader
	select {
	case <-elected[standby]:
		t.Fatal("both replicas claim to be leader")
	default:
	}

	ns := testNamespace(t, map[string]string{"replicas": "yes"})
	svc := "svc-" + ns
	create(t, newAuthenticator(svc, map[string]string{"replicas": "yes"}))
	create(t, newHost(ns, "app"))
	for i, ix := range indexes {
		eventually(t, fmt.Sprintf("replica %d admits the host", i), func() error {
			if !ix.Decide(svc, hostID(ns, "app")).Admitted {
				return fmt.Errorf("not admitted")
			}
			return nil
		})
	}
	select {
	case <-elected[standby]:
		t.Fatal("the standby became leader during the test; its index proves nothing")
	default:
	}
}

// TestKubectlApplySamplesReachReady is the newcomer's path: apply the
// samples with kubectl, see every host Ready, see the printer columns.
func TestKubectlApplySamplesReachReady(t *testing.T) {
	ctx := context.Background()
	samples := filepath.Join(testenv.RepoRoot(), "config", "samples")
	out, err := env.Kubectl(ctx, "apply", "-f", samples)
	if err != nil {
		t.Fatalf("kubectl apply -f config/samples/: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = env.Kubectl(ctx, "delete", "--wait=false", "-f", samples) })
	for _, want := range []string{"namespace/payments", "azureauthenticator.authn.dap.io/prod", "azurehost.authn.dap.io/rg-wide", "azurehost.authn.dap.io/billing-api", "azurehost.authn.dap.io/ledger-vm"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply output lacks %s:\n%s", want, out)
		}
	}
	for _, name := range []string{"rg-wide", "billing-api", "ledger-vm"} {
		hostStatus(t, "payments", name, readyIs("True/Admitted"))
	}
	out, err = env.Kubectl(ctx, "get", "azh", "-n", "payments")
	if err != nil {
		t.Fatalf("kubectl get azh: %v\n%s", err, out)
	}
	for _, want := range []string{"SUBSCRIPTION", "RESOURCE GROUP", "IDENTITY", "READY", "AGE", "user-assigned/id-billing-api", "system-assigned/1e2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8", "resource-group", "True"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get azh output lacks %q:\n%s", want, out)
		}
	}
	if out, err := env.Kubectl(ctx, "get", "azauth", "prod"); err != nil || !strings.Contains(out, "ENABLED") {
		t.Errorf("kubectl get azauth prod: %v\n%s", err, out)
	}
}

func TestKubectlApplyOfAnInvalidHostIsRefusedReadably(t *testing.T) {
	manifest := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: authn.dap.io/v1alpha1
kind: AzureHost
metadata:
  name: bad
  namespace: default
spec:
  subscriptionID: not-a-guid
  resourceGroup: rg
  userAssignedIdentity: id-app
  systemAssignedIdentity: 1e2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := env.Kubectl(context.Background(), "apply", "-f", manifest)
	if err == nil {
		t.Fatalf("kubectl accepted an invalid host:\n%s", out)
	}
	for _, want := range []string{`The AzureHost "bad" is invalid`, "spec.subscriptionID", "set at most one of userAssignedIdentity and systemAssignedIdentity"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl's message lacks %q:\n%s", want, out)
		}
	}
}
