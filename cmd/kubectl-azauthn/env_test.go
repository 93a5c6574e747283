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
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

const (
	envTestSub     = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	envTestOID     = "0f8e2a4c-1d3b-4e5f-8a9b-7c6d5e4f3a21"
	envTestClient  = "5b7c9d1e-3f2a-4b6c-8d0e-1a2b3c4d5e6f"
	envTestURL     = "https://authn.example.internal:9443"
	envTestCAFile  = "testdata/golden/env-ca.pem"
	envTestService = "prod"
)

func envTestCA(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(envTestCAFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func envTestHost(name string, spec authnv1alpha1.AzureHostSpec, ready bool, admittedBy ...string) *authnv1alpha1.AzureHost {
	status := metav1.ConditionTrue
	reason := authnv1alpha1.ReasonAdmitted
	if !ready {
		status, reason = metav1.ConditionFalse, authnv1alpha1.ReasonNoAuthenticator
	}
	return &authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: name},
		Spec:       spec,
		Status: authnv1alpha1.AzureHostStatus{
			Authenticators: admittedBy,
			Conditions:     []metav1.Condition{{Type: authnv1alpha1.ConditionReady, Status: status, Reason: reason, Message: "as the test says"}},
		},
	}
}

// envTestCluster puts a fake cluster behind env: a system-assigned host,
// a user-assigned one, one admitted by nobody, the authenticator and the
// CA ConfigMap the chart publishes.
func envTestCluster(t *testing.T, funcs *interceptor.Funcs, extra ...client.Object) {
	t.Helper()
	objs := []client.Object{
		envTestHost("ledger-vm", authnv1alpha1.AzureHostSpec{SubscriptionID: envTestSub, ResourceGroup: "rg-payments", SystemAssignedIdentity: envTestOID}, true, envTestService),
		envTestHost("billing-app", authnv1alpha1.AzureHostSpec{SubscriptionID: envTestSub, ResourceGroup: "rg-identities", UserAssignedIdentity: "billing-id"}, true, envTestService),
		envTestHost("orphan", authnv1alpha1.AzureHostSpec{SubscriptionID: envTestSub, ResourceGroup: "rg-payments"}, false),
		&authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: envTestService}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "azure-authenticator-system", Name: "azure-authenticator-ca"}, Data: map[string]string{"ca.crt": envTestCA(t)}},
	}
	b := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(append(objs, extra...)...)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	c := b.Build()
	saved := newEnvClient
	newEnvClient = func(*kubeFlags) (client.Client, error) { return c, nil }
	t.Cleanup(func() { newEnvClient = saved })
}

// sourceExports runs the export lines through a real POSIX shell and
// returns the CONJUR_* variables it ends up with: the quoting is checked
// by what a shell does with it, not by a second parser.
func sourceExports(t *testing.T, exports string) map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "conjur.env")
	if err := os.WriteFile(file, []byte(exports), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `. "$1" && env -0`, "sh", file)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sourcing the exports: %v", err)
	}
	vars := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "CONJUR_") {
			vars[k] = v
		}
	}
	return vars
}

func TestEnvSystemAssignedExports(t *testing.T) {
	envTestCluster(t, nil)
	code, out, errOut := runCapture(t, "", "env", "ledger-vm", "-n", "payments", "--service", envTestService, "--url", envTestURL+"/")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	checkGolden(t, "env-system.env", out)
	got := sourceExports(t, out)
	want := map[string]string{
		"CONJUR_APPLIANCE_URL":      envTestURL,
		"CONJUR_ACCOUNT":            "default",
		"CONJUR_AUTHN_TYPE":         "azure",
		"CONJUR_SERVICE_ID":         envTestService,
		"CONJUR_AUTHN_JWT_HOST_ID":  "payments/ledger-vm",
		"CONJUR_CREDENTIAL_STORAGE": "none",
		"CONJUR_SSL_CERTIFICATE":    envTestCA(t),
	}
	if len(got) != len(want) {
		t.Errorf("the shell got %d CONJUR_ variables, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestEnvUserAssignedConfigMap(t *testing.T) {
	envTestCluster(t, nil)
	code, out, errOut := runCapture(t, "", "env", "--host", "payments/billing-app", "--service", envTestService, "--url", envTestURL,
		"--client-id", envTestClient, "--account", "acme", "-o", "configmap", "--name", "billing-conjur")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	checkGolden(t, "env-user-configmap.yaml", out)
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(out), &cm); err != nil {
		t.Fatalf("not a ConfigMap: %v", err)
	}
	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Name != "billing-conjur" {
		t.Fatalf("manifest = %s %s %s", cm.APIVersion, cm.Kind, cm.Name)
	}
	if cm.Data["CONJUR_AUTHN_AZURE_CLIENT_ID"] != envTestClient || cm.Data["CONJUR_SSL_CERTIFICATE"] != envTestCA(t) ||
		cm.Data["CONJUR_ACCOUNT"] != "acme" || cm.Data["CONJUR_AUTHN_JWT_HOST_ID"] != "payments/billing-app" || len(cm.Data) != len(envVars) {
		t.Fatalf("data = %v", cm.Data)
	}
}

func TestEnvUserAssignedWithoutClientIDSaysWhereToGetIt(t *testing.T) {
	envTestCluster(t, nil)
	code, out, errOut := runCapture(t, "", "env", "billing-app", "-n", "payments", "--service", envTestService, "--url", envTestURL)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	hint := "az identity show -g rg-identities -n billing-id --query clientId -o tsv"
	if !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, hint) {
		t.Fatalf("stderr = %q, want a warning with %q", errOut, hint)
	}
	checkGolden(t, "env-user-no-client-id.env", out)
	if _, ok := sourceExports(t, out)["CONJUR_AUTHN_AZURE_CLIENT_ID"]; ok {
		t.Fatal("a client id was invented")
	}
}

func TestEnvWarnsAboutAHostThatCannotLogIn(t *testing.T) {
	envTestCluster(t, nil, &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: "off"}, Spec: authnv1alpha1.AzureAuthenticatorSpec{Enabled: new(false)},
	})
	tests := []struct {
		name  string
		args  []string
		warns []string
	}{
		{"not admitted, not Ready", []string{"orphan", "--service", envTestService}, []string{
			`not admitted by service "prod" (its status.authenticators: none)`, "is not Ready (Ready=False, reason NoAuthenticator"}},
		{"missing host", []string{"nobody", "--service", envTestService}, []string{"AzureHost payments/nobody does not exist"}},
		{"missing authenticator", []string{"ledger-vm", "--service", "nope"}, []string{`AzureAuthenticator "nope" does not exist`, `not admitted by service "nope"`}},
		{"disabled authenticator", []string{"ledger-vm", "--service", "off"}, []string{`AzureAuthenticator "off" is disabled`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCapture(t, "", append([]string{"env", "-n", "payments", "--url", envTestURL}, tc.args...)...)
			if code != exitOK || !strings.Contains(out, "export CONJUR_AUTHN_JWT_HOST_ID=") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			for _, w := range tc.warns {
				if !strings.Contains(errOut, w) || !strings.Contains(out, "# WARNING: ") {
					t.Errorf("want warning %q on stderr and as a comment; stderr %q", w, errOut)
				}
			}
		})
	}
}

func TestEnvWithoutPermissionToReadTheHost(t *testing.T) {
	forbidden := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if _, ok := obj.(*corev1.ConfigMap); ok {
			return c.Get(ctx, key, obj, opts...)
		}
		return apierrors.NewForbidden(schema.GroupResource{Group: authnv1alpha1.GroupVersion.Group, Resource: "azurehosts"}, key.Name, nil)
	}}
	envTestCluster(t, forbidden)
	code, out, errOut := runCapture(t, "", "env", "ledger-vm", "-n", "payments", "--service", envTestService, "--url", envTestURL)
	if code != exitOK || !strings.Contains(errOut, "cannot read AzureHost payments/ledger-vm with your permissions") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if strings.Count(errOut, "warning:") != 1 {
		t.Errorf("a forbidden AzureAuthenticator read is not worth a warning: %q", errOut)
	}
	if !strings.Contains(out, "export CONJUR_SSL_CERTIFICATE=") {
		t.Fatalf("stdout %q", out)
	}
}

func TestEnvRefusals(t *testing.T) {
	envTestCluster(t, nil)
	dir := t.TempDir()
	withKey := filepath.Join(dir, "ca-and-key.pem")
	keyBlock := "-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD\n-----END PRIVATE KEY-----\n"
	if err := os.WriteFile(withKey, []byte(envTestCA(t)+keyBlock), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"env", "-n", "payments", "--service", envTestService, "--url", envTestURL}
	tests := []struct {
		name string
		args []string
		code int
		text string
	}{
		{"no host", []string{"env", "--service", envTestService, "--url", envTestURL}, exitUsage, "which host?"},
		{"two hosts", append(base, "a", "b"), exitUsage, "at most one HOST"},
		{"HOST and --host", append(base, "a", "--host", "payments/a"), exitUsage, "not both"},
		{"--host without a namespace", []string{"env", "--host", "ledger-vm", "--service", envTestService, "--url", envTestURL}, exitUsage, "NAMESPACE/NAME"},
		{"--host in another namespace than -n", append(base, "--host", "other/ledger-vm"), exitUsage, "not in -n's namespace"},
		{"a bad host name", append(base, "Ledger_VM"), exitUsage, "host name"},
		{"no --service", []string{"env", "-n", "payments", "ledger-vm", "--url", envTestURL}, exitUsage, "--service is required"},
		{"no --url", []string{"env", "-n", "payments", "ledger-vm", "--service", envTestService}, exitUsage, "--url is required"},
		{"an http URL", []string{"env", "-n", "payments", "ledger-vm", "--service", envTestService, "--url", "http://authn:9443"}, exitUsage, "https URL"},
		{"a URL without a host", []string{"env", "-n", "payments", "ledger-vm", "--service", envTestService, "--url", "authn.example:9443"}, exitUsage, "https URL"},
		{"a bad account", append(base, "ledger-vm", "--account", "a b"), exitUsage, "--account"},
		{"a client id that is no GUID", append(base, "billing-app", "--client-id", "billing-id"), exitUsage, "GUID"},
		{"a client id for a system-assigned host", append(base, "ledger-vm", "--client-id", envTestClient), exitUsage, "system-assigned identity only"},
		{"an unknown format", append(base, "ledger-vm", "-o", "yaml"), exitUsage, "env or configmap"},
		{"--name without configmap", append(base, "ledger-vm", "--name", "x"), exitUsage, "-o configmap only"},
		{"a CA file with a private key", append(base, "ledger-vm", "--ca-file", withKey), exitUsage, `"PRIVATE KEY" block`},
		{"a CA file without PEM", append(base, "ledger-vm", "--ca-file", notPEM), exitUsage, "no PEM certificate"},
		{"a missing CA file", append(base, "ledger-vm", "--ca-file", filepath.Join(dir, "nope")), exitFailed, "reading --ca-file"},
		{"no CA ConfigMap there", append(base, "ledger-vm", "--ca-namespace", "azure-authenticator"), exitFailed, "set --ca-namespace to where the authenticator is installed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCapture(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.text) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.text)
			}
			if out != "" {
				t.Fatalf("printed settings despite the error: %q", out)
			}
			if strings.Contains(errOut, "TUlJRXZR") {
				t.Fatal("the private key reached the error output")
			}
		})
	}
}

// Values a shell would otherwise expand or split come back verbatim.
func TestEnvShellQuotingSurvivesAShell(t *testing.T) {
	values := map[string]string{
		"CONJUR_APPLIANCE_URL":     `https://it's.example/$HOME/` + "`id`" + `/"x"\n`,
		"CONJUR_SSL_CERTIFICATE":   "line 1\nline 'two'\n\n$(id)\n",
		"CONJUR_AUTHN_JWT_HOST_ID": `''`,
		"CONJUR_ACCOUNT":           "",
	}
	var b strings.Builder
	if err := printEnvExports(&b, "header", []string{"multi\nline warning"}, values); err != nil {
		t.Fatal(err)
	}
	got := sourceExports(t, b.String())
	for k, v := range values {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
