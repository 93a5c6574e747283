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

package feed

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/health"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

func secretIn(ns, name string, exposed bool) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{secrets.AllowedHostsAnnotation: "*"}},
		Data:       map[string][]byte{"k": []byte("v")},
	}
	if exposed {
		s.Labels = map[string]string{secrets.ExposeLabel: "true"}
	}
	return s
}

// errDenied is what a missing Role gets.
var errDenied = apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("RBAC: access denied"))

// denyIn makes the fake API server refuse to list and watch Secrets in
// namespace while deny is set, as a missing Role does.
func denyIn(cs *fake.Clientset, namespace string, deny *atomic.Bool) {
	forbidden := func(a k8stesting.Action) bool { return deny.Load() && a.GetNamespace() == namespace }
	cs.PrependReactor("list", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if forbidden(a) {
			return true, nil, errDenied
		}
		return false, nil, nil
	})
	cs.PrependWatchReactor("secrets", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if forbidden(a) {
			return true, nil, errDenied
		}
		return false, nil, nil
	})
}

func startFeeder(t *testing.T, f *SecretFeeder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("feeder: %v", err)
		}
	})
}

// A namespace whose Secrets cannot be listed is unservable, with its
// reason, on its own: the other namespace syncs and is served, the index's
// view is not affected, and it is served once it may be listed.
func TestEachSecretNamespaceSyncsAndFailsOnItsOwn(t *testing.T) {
	cs := fake.NewClientset(secretIn("feed-a", "db", true), secretIn("feed-a", "hidden", false), secretIn("feed-b", "db", true))
	var deny atomic.Bool
	deny.Store(true)
	denyIn(cs, "feed-b", &deny)
	store := secrets.NewStore("feed-a", "feed-b")
	watches := health.NewInformers(logr.Discard(), nil)
	startFeeder(t, &SecretFeeder{Client: cs, Store: store, Health: watches, Log: logr.Discard()})

	testenv.Until(t, "feed-a served while feed-b cannot be listed", func() bool {
		return store.Unservable("feed-a") == "" && store.Unservable("feed-b") == "cannot list Secrets: forbidden"
	})
	if _, ok := store.Get("feed-a", "db"); !ok {
		t.Fatal("feed-a/db not served")
	}
	if _, ok := store.Get("feed-a", "hidden"); ok {
		t.Fatal("a Secret without the expose label is held")
	}
	if got := testutil.ToFloat64(secretsServable.WithLabelValues("feed-a")); got != 1 {
		t.Errorf("servable metric for feed-a: %v", got)
	}
	if got := testutil.ToFloat64(secretsServable.WithLabelValues("feed-b")); got != 0 {
		t.Errorf("servable metric for feed-b: %v", got)
	}
	if watches.Staleness("secrets/feed-b") == 0 || watches.Staleness("secrets/feed-a") != 0 {
		t.Errorf("informer staleness: feed-a %v, feed-b %v", watches.Staleness("secrets/feed-a"), watches.Staleness("secrets/feed-b"))
	}
	if got := watches.ViewStaleness(); got != 0 {
		t.Errorf("a Secret namespace failing made the view %v stale", got)
	}

	deny.Store(false)
	testenv.Until(t, "feed-b served once it may be listed", func() bool {
		_, ok := store.Get("feed-b", "db")
		return ok && store.Unservable("feed-b") == "" && watches.Staleness("secrets/feed-b") == 0
	})
	if got := testutil.ToFloat64(secretsServable.WithLabelValues("feed-b")); got != 1 {
		t.Errorf("servable metric for feed-b after recovery: %v", got)
	}
}

// With every namespace served, one informer covers them all and they are
// servable or not together.
func TestAllNamespacesAreFedByOneInformer(t *testing.T) {
	cs := fake.NewClientset(secretIn("all-a", "db", true), secretIn("all-b", "db", true))
	store := secrets.NewStore()
	watches := health.NewInformers(logr.Discard(), nil)
	startFeeder(t, &SecretFeeder{Client: cs, Store: store, Health: watches, Log: logr.Discard()})
	testenv.Until(t, "every namespace served", func() bool {
		_, a := store.Get("all-a", "db")
		_, b := store.Get("all-b", "db")
		return a && b && store.Unservable("all-a") == "" && store.Unservable("elsewhere") == ""
	})
	if got := testutil.ToFloat64(secretsServable.WithLabelValues("*")); got != 1 {
		t.Errorf("servable metric for *: %v", got)
	}
}
