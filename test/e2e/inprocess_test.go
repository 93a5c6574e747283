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
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

// BenchmarkAuthenticateOverHTTPS measures whole authentications against
// the real server over TLS (keep-alive connections, client and server on
// the same 2 cores), with parallel clients: the end-to-end throughput.
func BenchmarkAuthenticateOverHTTPS(b *testing.B) {
	ctx := context.Background()
	n := seq.Add(1)
	ns, svc, tenant := fmt.Sprintf("bench-%d", n), fmt.Sprintf("bench-%d", n), newTenant()
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"bench": ns}}},
		&authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: svc}, Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: azure.IssuerV1(tenant), CABundle: string(azure.CAPEM())}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bench": ns}}},
		}},
		&authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Spec: rgSpec("rg-apps")},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = k8s.Delete(ctx, o) }()
	}
	token := azure.Token(azuretest.VM(tenant, subscription, "rg-apps", "vm-1"), azuretest.TokenOptions{})
	path := baseURL + "/authn-azure/" + svc + "/" + account + "/host%2F" + ns + "%2Fapp/authenticate"
	post := func() int {
		resp, err := https.Post(path, "application/x-www-form-urlencoded", strings.NewReader("jwt="+token))
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(15 * time.Second)
	for post() != http.StatusOK {
		if time.Now().After(deadline) {
			b.Fatal("the benchmark host never authenticated")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportAllocs()
	b.SetParallelism(4) // 8 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s := post(); s != http.StatusOK {
				b.Errorf("status %d", s)
				return
			}
		}
	})
}
