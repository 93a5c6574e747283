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
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cyberark/conjur-api-go/conjurapi"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

// pluginEnvRun runs the plugin and returns its standard output and error.
func pluginEnvRun(t *testing.T, bin string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", env.Kubeconfig)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl-azauthn %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String()
}

// pluginEnvSource sources export lines in a POSIX shell with an empty
// environment and returns the CONJUR_* variables they set.
func pluginEnvSource(t *testing.T, exports string) map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "conjur.env")
	if err := os.WriteFile(file, []byte(exports), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `. "$1" && env -0`, "sh", file)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
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

// pluginEnvIsolate clears every CONJUR_* variable and the SDK's config
// files for this test, so that the client sees only what env printed.
func pluginEnvIsolate(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CONJUR") {
			t.Setenv(k, v) // restores it at the end
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("CONJURRC", filepath.Join(t.TempDir(), "no-conjurrc"))
	if err := os.Unsetenv("CONJURRC"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir()) // no ~/.conjurrc, no ~/.netrc
}

// The claim: exactly what `kubectl azauthn env` prints, fed to
// conjur-api-go's LoadConfig and NewClientFromEnvironment, reads a secret.
func TestPluginEnvFeedsTheConjurSDK(t *testing.T) {
	bin := pluginBinary(t)
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-env")
	f.host("env-app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: vm.ObjectID})
	f.exposedSecret("db", "env-app", map[string][]byte{"password": []byte("from-env-settings")})
	// The controller's status is what env checks; wait for it, so that a
	// warning below is a real disagreement.
	eventually(t, "host env-app admitted in its status", func() error {
		h := &authnv1alpha1.AzureHost{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "env-app"}, h); err != nil {
			return err
		}
		if !slices.Contains(h.Status.Authenticators, f.service) {
			return errorf("status.authenticators = %v", h.Status.Authenticators)
		}
		return nil
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, product.ServingCert.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"env", "env-app", "-n", f.ns, "--service", f.service, "--url", baseURL, "--account", account, "--ca-file", caFile}

	start := time.Now()
	exports, warnings := pluginEnvRun(t, bin, args...)
	t.Logf("kubectl azauthn env ran in %v", time.Since(start).Round(time.Millisecond))
	if warnings != "" {
		t.Fatalf("warnings for a host that can log in: %s", warnings)
	}
	vars := pluginEnvSource(t, exports)
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"CONJUR_ACCOUNT", "CONJUR_APPLIANCE_URL", "CONJUR_AUTHN_JWT_HOST_ID", "CONJUR_AUTHN_TYPE",
		"CONJUR_CREDENTIAL_STORAGE", "CONJUR_SERVICE_ID", "CONJUR_SSL_CERTIFICATE"}
	if !slices.Equal(names, want) {
		t.Fatalf("env printed %v, want %v", names, want)
	}

	pluginEnvIsolate(t)
	for k, v := range vars {
		t.Setenv(k, v)
	}
	// The one addition: the Azure token, which a VM's SDK would fetch from
	// IMDS (169.254.169.254), never reached from a test.
	t.Setenv("CONJUR_AUTHN_JWT_TOKEN", azure.Token(vm, azuretest.TokenOptions{}))
	cfg, err := conjurapi.LoadConfig()
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	sdk, err := conjurapi.NewClientFromEnvironment(cfg)
	if err != nil {
		t.Fatalf("NewClientFromEnvironment: %v", err)
	}
	v, err := sdk.RetrieveSecret(f.ns + "/db/password")
	if err != nil || string(v) != "from-env-settings" {
		t.Fatalf("RetrieveSecret with env's settings = %q, %v", v, err)
	}
	if e := lastAudit(t, "fetch", f.login("env-app")); e.Result != "success" {
		t.Fatalf("fetch audit = %+v", e)
	}

	// The same settings as a ConfigMap: accepted by the API server, with
	// exactly the values of the exports.
	manifest, _ := pluginEnvRun(t, bin, append(args, "-o", "configmap", "--name", "env-app-conjur")...)
	file := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := env.Kubectl(context.Background(), "apply", "-n", f.ns, "-f", file); err != nil {
		t.Fatalf("kubectl apply the ConfigMap: %v\n%s", err, out)
	}
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "env-app-conjur"}, cm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cm) })
	if len(cm.Data) != len(vars) {
		t.Fatalf("ConfigMap data has %d keys, the exports %d", len(cm.Data), len(vars))
	}
	for k, v := range vars {
		if cm.Data[k] != v {
			t.Errorf("ConfigMap %s = %q, exports %q", k, cm.Data[k], v)
		}
	}
}
