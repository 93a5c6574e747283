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

package signingkeys

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
)

// The key-compromise procedure is `kubectl delete secret`: a finalizer
// holding the Secret must not keep its keys in use.
func TestASecretBeingDeletedStopsItsKeys(t *testing.T) {
	key, err := accesstoken.NewSigningKey(time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := accesstoken.Marshal([]*accesstoken.SigningKey{key})
	if err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "keys"}, Data: map[string][]byte{DataKey: data}}
	s := &Store{Namespace: "ns", Name: "keys"}
	s.load(sec)
	if s.Ring() == nil {
		t.Fatal("keys of a live Secret not loaded")
	}
	now := metav1.Now()
	held := sec.DeepCopy()
	held.DeletionTimestamp, held.Finalizers = &now, []string{"example.com/hold"}
	s.load(held)
	if s.Ring() != nil {
		t.Fatal("keys of a Secret being deleted are still in use")
	}
}

// OnLoad sees every change of the keys in use, nil when there are none.
func TestOnLoadReportsEveryRingChange(t *testing.T) {
	key, err := accesstoken.NewSigningKey(time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := accesstoken.Marshal([]*accesstoken.SigningKey{key})
	if err != nil {
		t.Fatal(err)
	}
	var seen []*accesstoken.Ring
	s := &Store{Namespace: "ns", Name: "keys", onLoad: func(r *accesstoken.Ring) { seen = append(seen, r) }}
	s.load(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "keys"}, Data: map[string][]byte{DataKey: data}})
	s.load(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "keys"}, Data: map[string][]byte{DataKey: []byte("garbage")}})
	if len(seen) != 2 || seen[0] == nil || len(seen[0].Keys()) != 1 || seen[1] != nil || s.Ring() != nil {
		t.Fatalf("OnLoad saw %v, want the loaded ring then nil", seen)
	}
}
