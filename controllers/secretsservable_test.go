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

package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// The Secret store is what main.go passes as SecretsHealth.
var _ SecretsHealth = (*secrets.Store)(nil)

const testSub = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"

func TestSecretsServableFollowsSecretNamespaces(t *testing.T) {
	host := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "app", Generation: 2}}
	tests := []struct {
		namespaces []string
		want       metav1.ConditionStatus
		reason     string
	}{
		{nil, metav1.ConditionTrue, authnv1alpha1.ReasonNamespaceServed},
		{[]string{"payments", "billing"}, metav1.ConditionTrue, authnv1alpha1.ReasonNamespaceServed},
		{[]string{"billing"}, metav1.ConditionFalse, authnv1alpha1.ReasonNamespaceNotServed},
	}
	for _, tc := range tests {
		c, ok := (&AzureHostReconciler{SecretNamespaces: tc.namespaces, SecretsHealth: testenv.NewSecretsHealth()}).secretsServableCondition(host)
		if !ok || c.Status != tc.want || c.Reason != tc.reason || c.ObservedGeneration != 2 {
			t.Errorf("--secret-namespaces=%v: %+v (set %v)", tc.namespaces, c, ok)
		}
	}
}

func TestSecretsServableFollowsTheNamespacesSecretHealth(t *testing.T) {
	host := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "app", Generation: 3}}
	health := testenv.NewSecretsHealth()
	r := &AzureHostReconciler{SecretNamespaces: []string{"payments", "billing"}, SecretsHealth: health}

	health.Set("billing", true, "cannot list Secrets: forbidden") // another namespace: no effect
	if c, ok := r.secretsServableCondition(host); !ok || c.Status != metav1.ConditionTrue {
		t.Fatalf("servable namespace: %+v (set %v)", c, ok)
	}

	health.Set("payments", true, "cannot list Secrets: forbidden")
	c, ok := r.secretsServableCondition(host)
	if !ok || c.Status != metav1.ConditionFalse || c.Reason != authnv1alpha1.ReasonSecretsUnavailable || c.ObservedGeneration != 3 ||
		!strings.Contains(c.Message, "cannot list Secrets: forbidden") || !strings.Contains(c.Message, "503") {
		t.Fatalf("namespace whose Secrets cannot be listed: %+v (set %v)", c, ok)
	}

	health.Set("payments", false, "not synced yet")
	if c, ok := r.secretsServableCondition(host); ok {
		t.Fatalf("while the first list loads the condition must be left alone, got %+v", c)
	}

	if c, ok := (&AzureHostReconciler{}).secretsServableCondition(host); ok {
		t.Fatalf("a manager without SecretsHealth serves no Secrets and must not report, got %+v", c)
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(authnv1alpha1.AddToScheme(s))
	return s
}

// Reconcile writes what the health says, and keeps the previous condition
// while the namespace's first list is loading.
func TestReconcileWritesSecretsServableFromHealth(t *testing.T) {
	ctx := context.Background()
	host := &authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "app", Generation: 1},
		Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: testSub, ResourceGroup: "rg-apps"},
	}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(host, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}).
		WithStatusSubresource(&authnv1alpha1.AzureHost{}).Build()
	health := testenv.NewSecretsHealth()
	r := &AzureHostReconciler{Client: c, SecretsHealth: health}
	condition := func() *metav1.Condition {
		t.Helper()
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(host)}); err != nil {
			t.Fatal(err)
		}
		got := &authnv1alpha1.AzureHost{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(host), got); err != nil {
			t.Fatal(err)
		}
		return meta.FindStatusCondition(got.Status.Conditions, authnv1alpha1.ConditionSecretsServable)
	}

	health.Set("payments", false, "not synced yet")
	if got := condition(); got != nil {
		t.Fatalf("first list loading, no condition yet: want none, got %+v", got)
	}
	health.Set("payments", true, "cannot list Secrets: forbidden")
	if got := condition(); got == nil || got.Status != metav1.ConditionFalse || got.Reason != authnv1alpha1.ReasonSecretsUnavailable {
		t.Fatalf("cannot list: %+v", got)
	}
	health.Set("payments", false, "not synced yet")
	if got := condition(); got == nil || got.Reason != authnv1alpha1.ReasonSecretsUnavailable {
		t.Fatalf("loading again: the last condition must stay, got %+v", got)
	}
	health.Set("payments", true, "")
	if got := condition(); got == nil || got.Status != metav1.ConditionTrue || got.Reason != authnv1alpha1.ReasonNamespaceServed {
		t.Fatalf("servable: %+v", got)
	}
}

// A health change enqueues the hosts of that namespace only ("" : all),
// and the subscription ends with the controller.
func TestSecretsHealthChangesEnqueueTheNamespacesHosts(t *testing.T) {
	hostIn := func(ns, name string) *authnv1alpha1.AzureHost {
		return &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(hostIn("payments", "a"), hostIn("payments", "b"), hostIn("billing", "c")).Build()
	health := testenv.NewSecretsHealth()
	r := &AzureHostReconciler{Client: c, SecretsHealth: health}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.watchSecretsHealth(ctx, q); err != nil {
		t.Fatal(err)
	}
	drain := func() []string {
		var got []string
		for q.Len() > 0 {
			req, _ := q.Get()
			got = append(got, req.String())
			q.Done(req)
		}
		return got
	}
	health.Set("payments", true, "cannot list Secrets: forbidden")
	if got := strings.Join(drain(), ","); got != "payments/a,payments/b" {
		t.Fatalf("enqueued %q, want the payments hosts", got)
	}
	health.Set("", true, "")
	if got := drain(); len(got) != 3 {
		t.Fatalf("all namespaces changed: enqueued %v, want every host", got)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second) // context.AfterFunc runs on its own goroutine
	for health.Subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the subscription outlived the controller")
		}
		time.Sleep(time.Millisecond)
	}
}
