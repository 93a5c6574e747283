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
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestHandlerStoresAndForgetsIncludingTombstones(t *testing.T) {
	var put []string
	var removed []client.ObjectKey
	h := Handler(func(s *corev1.Secret) { put = append(put, s.Name) }, func(k client.ObjectKey) { removed = append(removed, k) })
	a := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	h.OnAdd(a, false)
	h.OnUpdate(a, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}})
	h.OnAdd(&corev1.ConfigMap{}, false) // another type: ignored
	h.OnDelete(a)
	h.OnDelete(toolscache.DeletedFinalStateUnknown{Key: "ns/c"})
	if len(put) != 2 || put[0] != "a" || put[1] != "b" {
		t.Fatalf("put = %v", put)
	}
	want := []client.ObjectKey{{Namespace: "ns", Name: "a"}, {Namespace: "ns", Name: "c"}}
	if len(removed) != 2 || removed[0] != want[0] || removed[1] != want[1] {
		t.Fatalf("removed = %v", removed)
	}
}

// An object held by a finalizer after `kubectl delete` is gone for the
// views: added or updated with a deletionTimestamp, it is removed.
func TestObjectsMarkedForDeletionAreRemoved(t *testing.T) {
	var put []string
	var removed []client.ObjectKey
	h := Handler(func(s *corev1.Secret) { put = append(put, s.Name) }, func(k client.ObjectKey) { removed = append(removed, k) })
	live := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	now := metav1.Now()
	dying := live.DeepCopy()
	dying.DeletionTimestamp = &now
	dying.Finalizers = []string{"example.com/hold"}
	h.OnAdd(live, false)
	h.OnUpdate(live, dying)
	h.OnAdd(dying, true) // e.g. a relist while it is still held
	if len(put) != 1 {
		t.Fatalf("put = %v: an object marked for deletion was stored", put)
	}
	want := client.ObjectKey{Namespace: "ns", Name: "a"}
	if len(removed) != 2 || removed[0] != want || removed[1] != want {
		t.Fatalf("removed = %v, want %v twice", removed, want)
	}
}
