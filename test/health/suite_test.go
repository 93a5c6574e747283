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

// Package health tests a replica's health under RBAC and connection
// faults against its own API server: each test starts a replica as a
// user with only the permissions the test gives it, and that replica is
// the only manager there, so the status it writes is its own view.
package health

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

var (
	env   *testenv.Env
	k8s   client.Client
	azure *azuretest.Server
	seq   atomic.Int64
)

const (
	account      = "default"
	subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	testenv.SetLogger()
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	azure = azuretest.NewServer()
	defer azure.Close()
	return m.Run()
}

// fixture is one test's world: a namespace, an authenticator admitting it,
// a tenant on the fake Entra ID. Nothing waits for an index: the replica
// a test starts afterwards lists them before it is ready.
type fixture struct {
	t       *testing.T
	ns      string
	service string
	tenant  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	n := seq.Add(1)
	f := &fixture{t: t, ns: fmt.Sprintf("apps-%d", n), service: fmt.Sprintf("prod-%d", n),
		tenant: fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, n)}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns, Labels: map[string]string{"authn-test": f.ns}}})
	create(t, &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: f.service},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: azure.IssuerV1(f.tenant), CABundle: string(azure.CAPEM())}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"authn-test": f.ns}}},
		},
	})
	return f
}

func (f *fixture) host(name string, spec authnv1alpha1.AzureHostSpec) {
	f.t.Helper()
	create(f.t, &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, Spec: spec})
}

func (f *fixture) exposedSecret(name, allowed string, data map[string][]byte) {
	f.t.Helper()
	create(f.t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name,
			Labels:      map[string]string{secrets.ExposeLabel: "true"},
			Annotations: map[string]string{secrets.AllowedHostsAnnotation: allowed}},
		Data: data,
	})
}

func (f *fixture) vm(rg, name string) azuretest.Identity {
	return azuretest.VM(f.tenant, subscription, rg, name)
}

func rgSpec(rg string) authnv1alpha1.AzureHostSpec {
	return authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: rg}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(context.Background(), obj)) })
}

func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	testenv.Eventually(t, what, fn)
}

// response is what a client saw.
type response struct {
	status int
	body   string
}

func do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(b)}
}

// authorization is the header an access token (the authenticate body) is
// sent in.
func authorization(tokenJSON string) string {
	return `Token token="` + base64.StdEncoding.EncodeToString([]byte(tokenJSON)) + `"`
}
