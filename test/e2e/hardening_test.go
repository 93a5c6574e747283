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
	"context"
	"fmt"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// `kubectl delete` of an object held by a finalizer takes effect at once:
// the AzureHost stops authenticating and its access tokens stop working,
// and the exposed Secret stops being served, while both still exist with
// a deletionTimestamp.
func TestObjectsHeldByFinalizersStopGrantingWhenDeleted(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("app", rgSpec("rg-apps"))
	f.exposedSecret("db", "app", map[string][]byte{"password": []byte("s3cret")})
	hold := func(obj client.Object) {
		testenv.Update(t, k8s, obj, func() { obj.SetFinalizers([]string{"example.com/hold"}) })
		t.Cleanup(func() { testenv.Update(t, k8s, obj, func() { obj.SetFinalizers(nil) }) })
	}
	hold(&authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "app"}})
	hold(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "db"}})
	token := f.accessToken("app", vm)
	if r := fetch(t, token, f.ns+"/db/password"); r.status != http.StatusOK || r.body != "s3cret" {
		t.Fatalf("before deletion: %d %s", r.status, r.body)
	}

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "db"}}
	if err := k8s.Delete(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Secret being deleted is no longer served", func() error {
		if r := fetch(t, token, f.ns+"/db/password"); r.status != http.StatusNotFound {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		return nil
	})
	host := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "app"}}
	if err := k8s.Delete(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the host being deleted no longer authenticates", func() error {
		if r := authenticate(t, f.service, account, f.login("app"), azure.Token(vm, azuretest.TokenOptions{})); r.status != http.StatusUnauthorized {
			return fmt.Errorf("%d %s", r.status, r.body)
		}
		return nil
	})
	if r := get(t, "/whoami", "Authorization", authorization(token)); r.status != http.StatusUnauthorized {
		t.Fatalf("an access token of a host being deleted still works: %d %s", r.status, r.body)
	}
	// Both are still there, held by the finalizer: it is the deletion
	// mark, not the disappearance, that revoked them.
	for _, obj := range []client.Object{host, sec} {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil || obj.GetDeletionTimestamp() == nil {
			t.Fatalf("%T %s: %v, deletionTimestamp %v", obj, obj.GetName(), err, obj.GetDeletionTimestamp())
		}
	}
}
