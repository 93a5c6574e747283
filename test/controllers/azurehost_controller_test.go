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
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/controllers"
)

// hostStatus waits until the stored host's status satisfies check.
func hostStatus(t *testing.T, ns, name string, check func(*authnv1alpha1.AzureHost) error) *authnv1alpha1.AzureHost {
	t.Helper()
	h := &authnv1alpha1.AzureHost{}
	eventually(t, fmt.Sprintf("status of AzureHost %s/%s", ns, name), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, h); err != nil {
			return err
		}
		return check(h)
	})
	return h
}

func readyIs(want string) func(*authnv1alpha1.AzureHost) error {
	return func(h *authnv1alpha1.AzureHost) error {
		if got := readyOf(h.Status.Conditions); got != want || h.Status.ObservedGeneration != h.Generation {
			return fmt.Errorf("Ready = %q at observedGeneration %d, want %q at %d", got, h.Status.ObservedGeneration, want, h.Generation)
		}
		return nil
	}
}

// admitted waits until the index's decision for (service, host) is want.
func admitted(t *testing.T, service, ns, name string, want bool) {
	t.Helper()
	eventually(t, fmt.Sprintf("index admits %s/%s for %s == %v", ns, name, service, want), func() error {
		if got := index.Decide(service, hostID(ns, name)).Admitted; got != want {
			return fmt.Errorf("admitted = %v", got)
		}
		return nil
	})
}

func TestAdmittedHostBecomesReadyWithHostIDIdentityAndAuthenticators(t *testing.T) {
	ns := testNamespace(t, map[string]string{"team": "payments"})
	svc := "svc-" + ns
	create(t, newAuthenticator(svc, map[string]string{"team": "payments"}))
	create(t, newHost(ns, "app", func(h *authnv1alpha1.AzureHost) { h.Spec.UserAssignedIdentity = "id-payments" }))

	h := hostStatus(t, ns, "app", readyIs("True/Admitted"))
	if h.Status.HostID != ns+"/app" {
		t.Errorf("hostID = %q, want %q", h.Status.HostID, ns+"/app")
	}
	if h.Status.Identity != "user-assigned/id-payments" {
		t.Errorf("identity = %q", h.Status.Identity)
	}
	if !slices.Equal(h.Status.Authenticators, []string{svc}) {
		t.Errorf("authenticators = %v, want [%s]", h.Status.Authenticators, svc)
	}
	if c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionSharedIdentity); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("SharedIdentity = %+v, want False", c)
	}
	if c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionSecretsServable); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("SecretsServable = %+v, want True (all namespaces served)", c)
	}
	admitted(t, svc, ns, "app", true)
}

func TestHostNoAuthenticatorAdmitsIsNotReadyButIndexed(t *testing.T) {
	ns := testNamespace(t, map[string]string{"team": "nobody-admits-this"})
	create(t, newHost(ns, "app"))

	h := hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))
	if len(h.Status.Authenticators) != 0 || h.Status.Identity != "resource-group" {
		t.Errorf("status = %+v", h.Status)
	}
	eventually(t, "host indexed", func() error {
		if _, ok := index.Host(hostID(ns, "app")); !ok {
			return fmt.Errorf("not in the index")
		}
		return nil
	})
}

func TestIndexFollowsHostCreateUpdateDelete(t *testing.T) {
	ns := testNamespace(t, map[string]string{"lifecycle": "yes"})
	svc := "svc-" + ns
	create(t, newAuthenticator(svc, map[string]string{"lifecycle": "yes"}))
	host := newHost(ns, "vm")
	create(t, host)
	admitted(t, svc, ns, "vm", true)

	// Update: the compiled host follows the spec, folded for comparison.
	update(t, host, func() {
		host.Spec.ResourceGroup = "RG-Moved"
		host.Spec.SystemAssignedIdentity = strings.ToUpper(principal)
	})
	eventually(t, "index holds the new spec", func() error {
		h, ok := index.Host(hostID(ns, "vm"))
		if !ok {
			return fmt.Errorf("not indexed")
		}
		if h.ResourceGroup != "rg-moved" || h.SystemAssignedIdentity != principal || h.Generation != host.Generation || h.UID != string(host.UID) {
			return fmt.Errorf("indexed %+v", h)
		}
		return nil
	})

	if err := k8s.Delete(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host gone from the index", func() error {
		if _, ok := index.Host(hostID(ns, "vm")); ok {
			return fmt.Errorf("still indexed")
		}
		return nil
	})
	admitted(t, svc, ns, "vm", false)
}

func TestIndexAndStatusFollowHostLabelChanges(t *testing.T) {
	ns := testNamespace(t, map[string]string{"labels-test": "yes"})
	svc := "svc-" + ns
	create(t, newAuthenticator(svc, map[string]string{"labels-test": "yes"}, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.AllowedHosts.HostSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}
	}))
	host := newHost(ns, "app")
	create(t, host)
	hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))
	admitted(t, svc, ns, "app", false)

	// A label-only change: the generation does not move, admission does.
	update(t, host, func() { host.Labels = map[string]string{"tier": "prod"} })
	admitted(t, svc, ns, "app", true)
	hostStatus(t, ns, "app", readyIs("True/Admitted"))

	update(t, host, func() { host.Labels = map[string]string{"tier": "dev"} })
	admitted(t, svc, ns, "app", false)
	hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))
}

func TestIndexAndStatusFollowNamespaceRelabel(t *testing.T) {
	ns := testNamespace(t, map[string]string{"team": "before"})
	svc := "svc-" + ns
	create(t, newAuthenticator(svc, map[string]string{"team": "after-" + ns}))
	create(t, newHost(ns, "app"))
	hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))
	admitted(t, svc, ns, "app", false)

	relabel := func(v string) {
		t.Helper()
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		update(t, obj, func() { obj.Labels["team"] = v })
	}
	relabel("after-" + ns)
	admitted(t, svc, ns, "app", true)
	hostStatus(t, ns, "app", readyIs("True/Admitted"))

	relabel("before")
	admitted(t, svc, ns, "app", false)
	hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))
}

func TestIndexAndStatusFollowAuthenticatorChanges(t *testing.T) {
	ns := testNamespace(t, map[string]string{"auth-changes": "yes"})
	svc := "svc-" + ns
	auth := newAuthenticator(svc, map[string]string{"auth-changes": "yes"})
	create(t, auth)
	create(t, newHost(ns, "app"))
	admitted(t, svc, ns, "app", true)
	hostStatus(t, ns, "app", readyIs("True/Admitted"))

	// Disabled: it admits nobody, and the host has no other authenticator.
	update(t, auth, func() { auth.Spec.Enabled = ptr.To(false) })
	admitted(t, svc, ns, "app", false)
	hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))

	update(t, auth, func() { auth.Spec.Enabled = ptr.To(true) })
	admitted(t, svc, ns, "app", true)

	if err := k8s.Delete(context.Background(), auth); err != nil {
		t.Fatal(err)
	}
	eventually(t, "authenticator gone from the index", func() error {
		if _, ok := index.Authenticator(svc); ok {
			return fmt.Errorf("still indexed")
		}
		return nil
	})
	hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))
}

func TestAuthenticatorWithoutAllowedHostsAdmitsNoHost(t *testing.T) {
	ns := testNamespace(t, map[string]string{"no-allowed-hosts": "yes"})
	svc := "svc-" + ns
	create(t, newAuthenticator(svc, nil, func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.AllowedHosts = nil }))
	create(t, newHost(ns, "app"))
	hostStatus(t, ns, "app", readyIs("False/NoAuthenticator"))
	eventually(t, "authenticator indexed", func() error {
		if _, ok := index.Authenticator(svc); !ok {
			return fmt.Errorf("not indexed")
		}
		return nil
	})
	admitted(t, svc, ns, "app", false)
}

func TestAuthenticatorWithBadSelectorIsInvalidAndNotIndexed(t *testing.T) {
	// The CRD checks a selector's operators but not the syntax of its
	// label keys and values (a CEL rule over an unbounded LabelSelector
	// would exceed the cost budget): the API server stores this, and the
	// controller must refuse it.
	svc := fmt.Sprintf("svc-bad-selector-%d", nameSeq.Add(1))
	create(t, newAuthenticator(svc, nil, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.AllowedHosts.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "not a label key!", Operator: metav1.LabelSelectorOpExists}}}
	}))
	a := &authnv1alpha1.AzureAuthenticator{}
	eventually(t, "authenticator InvalidSpec", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: svc}, a); err != nil {
			return err
		}
		if got := readyOf(a.Status.Conditions); got != "False/InvalidSpec" {
			return fmt.Errorf("Ready = %q", got)
		}
		return nil
	})
	if c := meta.FindStatusCondition(a.Status.Conditions, authnv1alpha1.ConditionReady); !strings.Contains(c.Message, "spec.allowedHosts.namespaceSelector") {
		t.Errorf("message %q does not name the field", c.Message)
	}
	if _, ok := index.Authenticator(svc); ok {
		t.Errorf("an invalid authenticator is in the index")
	}
}

func TestValidAuthenticatorIsAcceptedPendingKeyChecks(t *testing.T) {
	svc := fmt.Sprintf("svc-accepted-%d", nameSeq.Add(1))
	create(t, newAuthenticator(svc, map[string]string{"x": "y"}))
	eventually(t, "authenticator Accepted", func() error {
		a := &authnv1alpha1.AzureAuthenticator{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: svc}, a); err != nil {
			return err
		}
		if got := readyOf(a.Status.Conditions); got != "Unknown/Accepted" || a.Status.ObservedGeneration != a.Generation {
			return fmt.Errorf("Ready = %q at %d", got, a.Status.ObservedGeneration)
		}
		return nil
	})
}

func TestAKSNodeResourceGroupWideHostWarns(t *testing.T) {
	ns := testNamespace(t, nil)
	create(t, newHost(ns, "aks-wide", func(h *authnv1alpha1.AzureHost) { h.Spec.ResourceGroup = "MC_rg-aks_cluster-1_westeurope" }))
	create(t, newHost(ns, "aks-narrow", func(h *authnv1alpha1.AzureHost) {
		h.Spec.ResourceGroup = "MC_rg-aks_cluster-1_westeurope"
		h.Spec.UserAssignedIdentity = "id-workload"
	}))
	shared := func(want metav1.ConditionStatus, reason string) func(*authnv1alpha1.AzureHost) error {
		return func(h *authnv1alpha1.AzureHost) error {
			c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionSharedIdentity)
			if c == nil || c.Status != want || c.Reason != reason {
				return fmt.Errorf("SharedIdentity = %+v", c)
			}
			return nil
		}
	}
	create(t, newHost(ns, "aks-kubelet", func(h *authnv1alpha1.AzureHost) {
		h.Spec.ResourceGroup = "MC_rg-aks_cluster-1_westeurope"
		h.Spec.UserAssignedIdentity = "cluster-1-agentpool"
	}))
	hostStatus(t, ns, "aks-wide", shared(metav1.ConditionTrue, authnv1alpha1.ReasonAKSNodeResourceGroup))
	hostStatus(t, ns, "aks-kubelet", shared(metav1.ConditionTrue, authnv1alpha1.ReasonAKSNodeResourceGroup))
	hostStatus(t, ns, "aks-narrow", shared(metav1.ConditionFalse, authnv1alpha1.ReasonNarrowIdentity))
}

func TestStatusIsNotRewrittenWhenNothingChanged(t *testing.T) {
	ns := testNamespace(t, map[string]string{"idempotent": "yes"})
	create(t, newAuthenticator("svc-"+ns, map[string]string{"idempotent": "yes"}))
	create(t, newHost(ns, "app"))
	before := hostStatus(t, ns, "app", readyIs("True/Admitted"))

	// Reconcile directly, reading straight from the API server, several
	// times: nothing changed, so nothing may be written.
	r := &controllers.AzureHostReconciler{Client: k8s}
	for range 3 {
		if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(before)}); err != nil {
			t.Fatal(err)
		}
	}
	after := &authnv1alpha1.AzureHost{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(before), after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("status was rewritten: resourceVersion %s -> %s", before.ResourceVersion, after.ResourceVersion)
	}

	// And a real change is written once, with a new transition time.
	host := after.DeepCopy()
	update(t, host, func() { host.Spec.ResourceGroup = "rg-changed" })
	changed := hostStatus(t, ns, "app", readyIs("True/Admitted"))
	if changed.Status.ObservedGeneration != host.Generation {
		t.Fatalf("observedGeneration = %d, want %d", changed.Status.ObservedGeneration, host.Generation)
	}
}
