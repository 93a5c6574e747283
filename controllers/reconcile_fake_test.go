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
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// The AzureHost reconciler against a fake client (no API server): the
// status it writes, and one event per Ready transition, none when nothing
// changed.
func TestAzureHostReconcilerWritesStatusAndEvents(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments", Labels: map[string]string{"team": "payments"}}}
	auth := &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
		},
	}
	host := &authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "vm", Generation: 1},
		Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg-payments"},
	}
	c := fake.NewClientBuilder().WithScheme(testenv.Scheme()).
		WithObjects(ns, auth, host).WithStatusSubresource(&authnv1alpha1.AzureHost{}).Build()
	rec := events.NewFakeRecorder(10)
	r := &AzureHostReconciler{Client: c, Recorder: rec}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "vm"}}

	reconcile := func() *authnv1alpha1.AzureHost {
		t.Helper()
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatalf("Reconcile: %v", err)
		}
		got := &authnv1alpha1.AzureHost{}
		if err := c.Get(ctx, req.NamespacedName, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	event := func(want string) {
		t.Helper()
		select {
		case e := <-rec.Events:
			if !strings.HasPrefix(e, want) {
				t.Fatalf("event %q, want one starting %q", e, want)
			}
		default:
			t.Fatalf("no event, want %q", want)
		}
	}
	noEvent := func() {
		t.Helper()
		select {
		case e := <-rec.Events:
			t.Fatalf("unexpected event %q", e)
		default:
		}
	}

	got := reconcile()
	ready := meta.FindStatusCondition(got.Status.Conditions, authnv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != authnv1alpha1.ReasonAdmitted ||
		len(got.Status.Authenticators) != 1 || got.Status.Authenticators[0] != "prod" || got.Status.HostID != "payments/vm" {
		t.Fatalf("status %+v", got.Status)
	}
	event("Normal " + authnv1alpha1.ReasonAdmitted)
	noEvent()

	reconcile() // nothing changed: no write, no event
	noEvent()

	// The namespace loses the label the authenticator admits it by.
	ns.Labels = nil
	if err := c.Update(ctx, ns); err != nil {
		t.Fatal(err)
	}
	got = reconcile()
	if ready := meta.FindStatusCondition(got.Status.Conditions, authnv1alpha1.ConditionReady); ready == nil ||
		ready.Status != metav1.ConditionFalse || ready.Reason != authnv1alpha1.ReasonNoAuthenticator || len(got.Status.Authenticators) != 0 {
		t.Fatalf("after the label went: %+v", got.Status)
	}
	event("Warning " + authnv1alpha1.ReasonNoAuthenticator)
	noEvent()

	// A deleted host is nothing to reconcile.
	if err := c.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatalf("Reconcile of a deleted host: %v", err)
	}
	noEvent()
}

// A host deleted between the read and the status write leaves nothing to
// write: no error, no retry, no error log; a write that lost to a newer
// version neither (that version is reconciled next); any other failure is
// an error. In none of them is the transition told in an event: only a
// written one is (told twice, it would need the events' patch verb).
func TestStatusOfAHostDeletedMeanwhileIsNoError(t *testing.T) {
	host := &authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "vm", Generation: 1},
		Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg-payments"},
	}
	for _, tc := range []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"deleted meanwhile", apierrors.NewNotFound(authnv1alpha1.GroupVersion.WithResource("azurehosts").GroupResource(), "vm"), false},
		{"newer version meanwhile", apierrors.NewConflict(authnv1alpha1.GroupVersion.WithResource("azurehosts").GroupResource(), "vm", errors.New("changed")), false},
		{"API server refuses", apierrors.NewInternalError(errors.New("boom")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(testenv.Scheme()).WithObjects(host.DeepCopy()).
				WithStatusSubresource(&authnv1alpha1.AzureHost{}).
				WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
					return tc.err
				}}).Build()
			rec := events.NewFakeRecorder(10)
			r := &AzureHostReconciler{Client: c, Recorder: rec}
			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "vm"}})
			if (err != nil) != tc.wantErr || res != (ctrl.Result{}) {
				t.Fatalf("Reconcile = %+v, %v; want an error: %v", res, err, tc.wantErr)
			}
			select {
			case e := <-rec.Events:
				t.Fatalf("event %q for a status that was not written", e)
			default:
			}
		})
	}
}

// An AzureAuthenticator's status writes (key loads, refreshes) do not
// re-check every host; its creation, deletion and spec changes do.
func TestHostsAreRecheckedOnAuthenticatorSpecChangesOnly(t *testing.T) {
	old := &authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "prod", Generation: 3}}
	statusOnly := old.DeepCopy()
	statusOnly.Status.Conditions = []metav1.Condition{{Type: authnv1alpha1.ConditionReady, Status: metav1.ConditionTrue}}
	specChanged := old.DeepCopy()
	specChanged.Generation = 4
	if authenticatorSpecChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: statusOnly}) {
		t.Error("a status write re-checks every host")
	}
	if !authenticatorSpecChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: specChanged}) {
		t.Error("a spec change does not re-check the hosts")
	}
	if !authenticatorSpecChanged.Create(event.CreateEvent{Object: old}) || !authenticatorSpecChanged.Delete(event.DeleteEvent{Object: old}) {
		t.Error("a created or deleted authenticator does not re-check the hosts")
	}
}
