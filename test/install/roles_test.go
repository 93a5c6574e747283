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

package install

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"

// A pipeline's ServiceAccount bound to the chart's azurehost-editor role in
// one namespace manages AzureHosts there and nowhere else, and gets nothing
// more: no AzureAuthenticators, no Secrets, no status.
func TestAzureHostEditorRoleIsOneNamespace(t *testing.T) {
	ensureCRDs(t)
	rel, ns := "roles", "roles-system"
	helmRun(t, "install", rel, chartPath(), "--namespace", ns, "--create-namespace", "--set", "crds.enabled=false")
	t.Cleanup(func() { _, _ = helmCLI.Run(context.Background(), "uninstall", rel, "--namespace", ns) })
	ctx := context.Background()
	for _, n := range []string{"team-a", "team-b"} {
		createNamespace(t, n, nil)
	}
	if _, err := clientset.CoreV1().ServiceAccounts("team-a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "pipeline"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := clientset.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pipeline-azurehosts"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "roles-azure-authenticator-azurehost-editor"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "pipeline", Namespace: "team-a"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pipeline := clientAs(t, "team-a", "pipeline")

	host := func(ns, name string) *authnv1alpha1.AzureHost {
		return &authnv1alpha1.AzureHost{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-team-a"},
		}
	}
	h := host("team-a", "vm-1")
	testenv.EventuallyWithin(t, 30*time.Second, "the pipeline creates an AzureHost in its namespace", func() error {
		return pipeline.Create(ctx, h)
	})
	h.Labels = map[string]string{"stage": "prod"}
	if err := pipeline.Update(ctx, h); err != nil {
		t.Fatalf("the pipeline cannot update its AzureHost: %v", err)
	}
	forbidden := []struct {
		what string
		err  error
	}{
		{"create an AzureHost in another namespace", pipeline.Create(ctx, host("team-b", "vm-1"))},
		{"create an AzureAuthenticator", pipeline.Create(ctx, &authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "pipeline-made"}})},
		{"write an AzureHost's status", pipeline.Status().Update(ctx, h)},
		{"read Secrets of its namespace", pipeline.List(ctx, &corev1.SecretList{}, client.InNamespace("team-a"))},
		{"list AzureHosts in every namespace", pipeline.List(ctx, &authnv1alpha1.AzureHostList{})},
	}
	for _, f := range forbidden {
		if !apierrors.IsForbidden(f.err) {
			t.Errorf("the pipeline could %s (err %v), want forbidden", f.what, f.err)
		}
	}
	if err := pipeline.Delete(ctx, h); err != nil {
		t.Fatalf("the pipeline cannot delete its AzureHost: %v", err)
	}
}

// With admissionPolicy.enabled, each namespace may declare AzureHosts only
// for the Azure scopes its annotation lists; without it, none.
func TestAdmissionPolicyConfinesNamespacesToTheirAzureScopes(t *testing.T) {
	ensureCRDs(t)
	rel, ns := "guard", "guard-system"
	helmRun(t, "install", rel, chartPath(), "--namespace", ns, "--create-namespace", "--set", "crds.enabled=false", "--set", "admissionPolicy.enabled=true")
	t.Cleanup(func() { _, _ = helmCLI.Run(context.Background(), "uninstall", rel, "--namespace", ns) })
	const annotation = "authn.dap.io/allowed-azure-scopes"
	createNamespace(t, "scoped-a", map[string]string{annotation: strings.ToUpper(subscription) + "/rg-a, " + subscription + "/rg-shared"})
	createNamespace(t, "scoped-wide", map[string]string{annotation: subscription + "/*"})
	createNamespace(t, "unscoped", nil)
	c := crClient(t)
	ctx := context.Background()
	create := func(ns, rg string) error {
		return c.Create(ctx, &authnv1alpha1.AzureHost{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "h-"},
			Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: rg},
		})
	}
	// The policy takes effect once the API server has loaded it.
	testenv.EventuallyWithin(t, 30*time.Second, "a namespace without scopes is refused", func() error {
		if err := create("unscoped", "rg-a"); err == nil || !strings.Contains(err.Error(), "may create no AzureHost") {
			return fmt.Errorf("got %v", err)
		}
		return nil
	})
	for _, tc := range []struct {
		ns, rg string
		ok     bool
	}{
		{"scoped-a", "rg-a", true},
		{"scoped-a", "RG-SHARED", true},
		{"scoped-a", "rg-b", false},
		{"scoped-wide", "rg-anything", true},
		{"unscoped", "rg-a", false},
	} {
		err := create(tc.ns, tc.rg)
		if (err == nil) != tc.ok {
			t.Errorf("AzureHost for %s in %s: err %v, want allowed=%v", tc.rg, tc.ns, err, tc.ok)
		}
	}
	tenantCannotWidenItsScopes(t)
}

// A tenant allowed to update its own Namespace object (a common
// namespace-admin grant) still cannot widen its Azure scopes: only cluster
// admins may change the annotation.
func tenantCannotWidenItsScopes(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	const annotation = "authn.dap.io/allowed-azure-scopes"
	if _, err := clientset.CoreV1().ServiceAccounts("scoped-a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := clientset.RbacV1().Roles("scoped-a").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "namespace-owner"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: []string{"scoped-a"}, Verbs: []string{"get", "update", "patch"}}},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := clientset.RbacV1().RoleBindings("scoped-a").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "namespace-owner"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "namespace-owner"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "owner", Namespace: "scoped-a"}},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	owner := clientAs(t, "scoped-a", "owner")
	update := func(c client.Client, mutate func(*corev1.Namespace)) error {
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: "scoped-a"}, ns); err != nil {
			return err
		}
		mutate(ns)
		return c.Update(ctx, ns)
	}
	testenv.EventuallyWithin(t, 30*time.Second, "the owner may label its namespace", func() error {
		return update(owner, func(ns *corev1.Namespace) { ns.Labels["owner-was-here"] = "yes" })
	})
	// The namespace policy takes effect once the API server has loaded it:
	// probe with dry runs, which go through admission and change nothing.
	testenv.EventuallyWithin(t, 30*time.Second, "the namespace policy is in effect", func() error {
		ns := &corev1.Namespace{}
		if err := owner.Get(ctx, client.ObjectKey{Name: "scoped-a"}, ns); err != nil {
			return err
		}
		ns.Annotations[annotation] = subscription + "/*"
		if err := owner.Update(ctx, ns, client.DryRunAll); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "only cluster administrators") {
			return fmt.Errorf("a dry-run change of the scopes: %v", err)
		}
		return nil
	})
	if err := update(owner, func(ns *corev1.Namespace) { ns.Annotations[annotation] = subscription + "/*" }); err == nil {
		t.Fatal("a tenant widened its own namespace's Azure scopes")
	}
	if err := update(owner, func(ns *corev1.Namespace) { delete(ns.Annotations, annotation) }); err == nil {
		t.Fatal("a tenant removed its own namespace's Azure scopes annotation")
	}
	if err := update(crClient(t), func(ns *corev1.Namespace) { ns.Annotations[annotation] += ", " + subscription + "/rg-c" }); err != nil {
		t.Fatalf("a cluster admin cannot change the scopes: %v", err)
	}
}

func createNamespace(t *testing.T, name string, annotations map[string]string) {
	t.Helper()
	_, err := clientset.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// clientAs is a client acting as a ServiceAccount, by impersonation.
func clientAs(t *testing.T, ns, name string) client.Client {
	t.Helper()
	user, groups := testenv.ServiceAccountUser(ns, name)
	kubeconfig, err := env.KubeconfigAs(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dial = env.Config.Dial
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
