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

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

const (
	explainTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	explainSub    = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	explainOID    = "0f8e2a4c-1d3b-4e5f-8a9b-7c6d5e4f3a21"
	explainIssuer = "https://login.example.test/" + explainTenant + "/"
	explainSig    = "c2lnbmF0dXJlLXNlZ21lbnQtbmV2ZXItcHJpbnRlZA"
)

// explainNow is the fixed instant the golden files were written at.
var explainNow = time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)

func explainMIRID(rg, vm string) string {
	return "/subscriptions/" + explainSub + "/resourcegroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + vm
}

// explainClaims are a VM's managed-identity token claims; change them per case.
func explainClaims() map[string]any {
	return map[string]any{
		"iss": explainIssuer, "tid": explainTenant, "oid": explainOID, "ver": "1.0",
		"aud": "https://management.azure.com/", "xms_mirid": explainMIRID("rg-apps", "vm-1"),
		"iat": explainNow.Add(-time.Minute).Unix(), "nbf": explainNow.Add(-time.Minute).Unix(), "exp": explainNow.Add(time.Hour).Unix(),
	}
}

// explainToken is a JWT with any signature: explain never checks it.
func explainToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return seg(map[string]any{"typ": "JWT", "alg": "RS256", "kid": "key-1"}) + "." + seg(claims) + "." + explainSig
}

func explainObjects() []client.Object {
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps", Labels: map[string]string{"team": "apps"}}},
		&authnv1alpha1.AzureAuthenticator{
			ObjectMeta: metav1.ObjectMeta{Name: "prod"},
			Spec: authnv1alpha1.AzureAuthenticatorSpec{
				Providers:    []authnv1alpha1.Provider{{URI: explainIssuer}},
				AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "apps"}}},
			},
		},
		&authnv1alpha1.AzureHost{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web"},
			Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: explainSub, ResourceGroup: "rg-apps", AllowedCIDRs: []string{"10.0.0.0/8"}},
		},
	}
}

func TestExplainGolden(t *testing.T) {
	forbidden := func(kind string) interceptor.Funcs {
		return interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			gvk, _ := c.GroupVersionKindFor(obj)
			if gvk.Kind == kind {
				return apierrors.NewForbidden(schema.GroupResource{Resource: strings.ToLower(kind) + "s"}, key.Name, errors.New("RBAC: not allowed"))
			}
			return c.Get(ctx, key, obj, opts...)
		}}
	}
	with := func(k string, v any) map[string]any {
		c := explainClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name     string
		claims   map[string]any
		login    string
		clientIP string
		funcs    interceptor.Funcs
		code     int
		failed   string // the check marked as the server's answer
	}{
		{name: "accepted", claims: explainClaims(), clientIP: "10.1.2.3", code: exitOK},
		{name: "no-client-ip", claims: explainClaims(), code: exitFailed},
		{name: "audience", claims: with("aud", "https://vault.azure.net"), clientIP: "10.1.2.3", code: exitNotSatisfied, failed: "audience"},
		{name: "resource-group", claims: with("xms_mirid", explainMIRID("rg-other", "vm-1")), clientIP: "10.1.2.3", code: exitNotSatisfied, failed: "host resource group"},
		{name: "cidr", claims: explainClaims(), clientIP: "192.0.2.1", code: exitNotSatisfied, failed: "host client CIDRs"},
		{name: "no-host", claims: explainClaims(), login: "host/apps/nope", clientIP: "10.1.2.3", code: exitNotSatisfied, failed: "host apps/nope exists and compiles"},
		{name: "forbidden", claims: explainClaims(), clientIP: "10.1.2.3", funcs: forbidden("AzureAuthenticator"), code: exitFailed},
		{name: "namespace-forbidden", claims: explainClaims(), clientIP: "10.1.2.3", funcs: forbidden("Namespace"), code: exitFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(explainObjects()...).WithInterceptorFuncs(tc.funcs).Build()
			in := explainInput{service: "prod", login: tc.login, token: explainToken(t, tc.claims)}
			if in.login == "" {
				in.login = "host/apps/web"
			}
			if tc.clientIP != "" {
				in.clientIP = netip.MustParseAddr(tc.clientIP)
			}
			steps, err := explain(context.Background(), c, in, explainNow)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			code := exitOK
			if err := renderExplanation(&out, in, steps); err != nil {
				code = exitFailed
				var ee *exitError
				if errors.As(err, &ee) {
					code = ee.code
				}
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out.String())
			}
			if strings.Contains(out.String(), explainSig) {
				t.Fatal("the output holds the token's signature")
			}
			if tc.failed != "" && !strings.Contains(out.String(), "✗ "+tc.failed) {
				t.Errorf("%q is not marked failed:\n%s", tc.failed, out.String())
			}
			checkGolden(t, "explain-"+tc.name+".txt", out.String())
		})
	}
}

func TestExplainUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", "--login", "host/apps/web"}, "--service is required"},
		{[]string{"explain", "--service", "prod"}, "--login is required"},
		{[]string{"explain", "--service", "prod", "--login", "host/apps/web", "--client-ip", "nope"}, "not an IP address"},
		{[]string{"explain", "--service", "prod", "--login", "host/apps/web"}, "no token"},
		{[]string{"explain", "--service", "prod", "--login", "host/apps/web", "extra"}, "unexpected arguments"},
	} {
		code, _, errOut := runCapture(t, "  \n", tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
}

func TestExplainReadsTheTokenFromAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	token := explainToken(t, explainClaims())
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readToken(file, strings.NewReader("")); err != nil || got != token {
		t.Fatalf("readToken = %q, %v", got, err)
	}
	if got, err := readToken("-", strings.NewReader(" "+token+"\n")); err != nil || got != token {
		t.Fatalf("readToken(stdin) = %q, %v", got, err)
	}
	if _, err := readToken(filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Fatal("a missing file was read")
	}
}
