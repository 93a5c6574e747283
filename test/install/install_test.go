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

package install

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cyberark/conjur-api-go/conjurapi"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	release   = "azure-authenticator"
	releaseNS = "azure-authenticator"
)

// The whole life of an installation: every object the chart renders is
// accepted by a real API server, the manager runs with exactly the chart's
// arguments and RBAC (cluster-wide Secrets, then per namespace after an
// upgrade), samples become Ready, a workload configured from the NOTES
// reads a secret through the Conjur SDK, metrics need a token, and
// uninstall leaves exactly what the README says.
func TestInstallUpgradeUninstall(t *testing.T) {
	// The Service's port is the one the manager listens on here, so the
	// URL the NOTES print reaches it as it would reach a load balancer.
	authnAddr := freeAddr(t)
	_, port, _ := net.SplitHostPort(authnAddr)
	values := valuesFile(t, `
authenticator:
  service:
    port: `+port+`
    type: LoadBalancer
    annotations:
      service.beta.kubernetes.io/azure-load-balancer-internal: "true"
    loadBalancerSourceRanges: [10.0.0.0/8]
  tls:
    sans: [127.0.0.1]
  networkPolicy:
    enabled: true
`)
	helmRun(t, "install", release, chartPath(), "--namespace", releaseNS, "--create-namespace", "-f", values)
	manifest := helmRun(t, "get", "manifest", release, "--namespace", releaseNS)
	assertAllExist(t, manifest)

	// The load balancer's address, as a cloud controller would publish it.
	setLoadBalancerIP(t, releaseNS, release, "127.0.0.1")

	m := startManager(t, deployment(t, objects(t, manifest)), authnAddr)
	m.waitReady(t)
	applySamples(t)
	readSecretAsNotesSay(t, "ledger-vm", "payments/ledger-vm")
	scrapeMetricsWithToken(t, m)

	// Upgrade: Secrets read in listed namespaces only, through a Role per
	// namespace; one more name on the certificate; other lease timings.
	m.stop()
	values2 := valuesFile(t, `
replicaCount: 3
leaderElection:
  leaseDuration: 7s
  renewDeadline: 5s
  retryPeriod: 500ms
authenticator:
  secretNamespaces: [payments]
  service:
    port: `+port+`
    type: LoadBalancer
  tls:
    sans: [127.0.0.1, authn.example.internal]
`)
	helmRun(t, "upgrade", release, chartPath(), "--namespace", releaseNS, "-f", values2)
	manifest = helmRun(t, "get", "manifest", release, "--namespace", releaseNS)
	assertAllExist(t, manifest)
	objs := objects(t, manifest)
	if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Role" && o.GetNamespace() == "payments"
	}) {
		t.Fatal("the upgrade rendered no Role in the secret namespace payments")
	}
	m = startManager(t, deployment(t, objs), authnAddr)
	m.waitReady(t)
	readSecretAsNotesSay(t, "ledger-vm", "payments/ledger-vm")
	// The chart's lease timings reach the manager: once it leads, the Lease
	// it holds records the upgraded duration (the stopped manager released
	// it, so the new one needs no takeover wait).
	leaseWait := time.Now()
	testenv.EventuallyWithin(t, 30*time.Second, "the upgraded manager holds the Lease for 7s", func() error {
		lease, err := clientset.CoordinationV1().Leases(releaseNS).Get(context.Background(), release, metav1.GetOptions{})
		if err != nil {
			return err
		}
		holder, seconds := "", int32(0)
		if lease.Spec.HolderIdentity != nil {
			holder = *lease.Spec.HolderIdentity
		}
		if lease.Spec.LeaseDurationSeconds != nil {
			seconds = *lease.Spec.LeaseDurationSeconds
		}
		if holder == "" || seconds != 7 {
			return fmt.Errorf("holder %q, leaseDurationSeconds %d", holder, seconds)
		}
		return nil
	})
	t.Logf("the upgraded manager held the Lease for 7s %s after it was ready", time.Since(leaseWait).Round(time.Millisecond))
	m.stop()

	helmRun(t, "uninstall", release, "--namespace", releaseNS)
	// Left behind, by design: the CRDs (with every AzureHost) and the
	// manager's own objects: the Secrets holding its private keys and its
	// leader-election Lease. README "Uninstall" says how to remove them.
	left := kubectl(t, "get", "secrets,leases,configmaps,services,serviceaccounts,deployments,roles,rolebindings,poddisruptionbudgets,networkpolicies,ingresses", "-n", releaseNS, "-o", "name")
	assertLines(t, "left in "+releaseNS, left, []string{
		"lease.coordination.k8s.io/" + release,
		"secret/" + release + "-signing-keys",
		"secret/" + release + "-tls",
	})
	left = kubectl(t, "get", "customresourcedefinitions,clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings", "-l", "app.kubernetes.io/instance="+release, "-o", "name")
	assertLines(t, "cluster-scoped objects left", left, []string{
		"customresourcedefinition.apiextensions.k8s.io/azureauthenticators.authn.dap.io",
		"customresourcedefinition.apiextensions.k8s.io/azurehosts.authn.dap.io",
	})
	left = kubectl(t, "get", "roles,rolebindings", "-n", "payments", "-o", "name")
	assertLines(t, "left in payments", left, nil)
	// The hosts survive the uninstall.
	kubectl(t, "get", "azurehost/ledger-vm", "-n", "payments")
}

func chartPath() string { return filepath.Join(testenv.RepoRoot(), "charts", "azure-authenticator") }

// assertAllExist checks that the API server holds every object of manifest.
func assertAllExist(t *testing.T, manifest string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	got := kubectl(t, "get", "-f", f, "-o", "name")
	if n, want := len(strings.Fields(got)), len(objects(t, manifest)); n != want {
		t.Fatalf("%d of the %d rendered objects exist:\n%s", n, want, got)
	}
}

func assertLines(t *testing.T, what, got string, want []string) {
	t.Helper()
	lines := strings.Fields(got)
	slices.Sort(lines)
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, lines, want)
	}
}

func setLoadBalancerIP(t *testing.T, ns, name, ip string) {
	t.Helper()
	svc, err := clientset.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	if _, err := clientset.CoreV1().Services(ns).UpdateStatus(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// scrapeMetricsWithToken scrapes the secured metrics endpoint as
// Prometheus would, with a ServiceAccount token bound to the chart's
// metrics-reader ClusterRole; without a token it is refused.
func scrapeMetricsWithToken(t *testing.T, m *manager) {
	t.Helper()
	createNamespace(t, "monitoring", nil)
	token, err := scraperToken("monitoring", "prometheus", release+"-metrics-reader")
	if err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyWithin(t, 30*time.Second, "metrics scraped with the reader's token", func() error {
		code, body, err := m.scrape(token)
		if err != nil {
			return err
		}
		if code != http.StatusOK || !strings.Contains(body, "azure_authenticator_authentications_total") {
			return fmt.Errorf("%d: %.200s", code, body)
		}
		return nil
	})
	if code, _, err := m.scrape(""); err != nil || code == http.StatusOK {
		t.Fatalf("metrics without a token: %d %v", code, err)
	}
}

// readSecretAsNotesSay configures a Conjur Go SDK client from exactly what
// the release's NOTES print (the command that saves the CA, the exported
// variables, with the two placeholders filled in for host hostID of the
// samples) and reads the sample secret as the emulated machine would. The
// one addition: the machine's Azure token is handed over in
// CONJUR_AUTHN_JWT_TOKEN, because the SDK's own IMDS request goes to
// 169.254.169.254, which tests must never reach.
func readSecretAsNotesSay(t *testing.T, machine, hostID string) {
	t.Helper()
	notes := helmRun(t, "get", "notes", release, "--namespace", releaseNS)
	var script []string
	for _, line := range strings.Split(notes, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "kubectl get ") && strings.HasSuffix(line, "> conjur-ca.pem"):
			script = append(script, line)
		case strings.HasPrefix(line, "export CONJUR_"):
			line = strings.ReplaceAll(line, "<azureauthenticator-name>", service)
			line = strings.ReplaceAll(line, "<namespace>/<azurehost-name>", hostID)
			if strings.Contains(line, "<") {
				t.Fatalf("the NOTES leave a placeholder this test does not know: %s", line)
			}
			script = append(script, line)
		}
	}
	if len(script) < 6 {
		t.Fatalf("the NOTES do not say how to configure a client:\n%s", notes)
	}
	dir := t.TempDir()
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(append(script, "env"), "\n"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "PATH="+assets+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running what the NOTES say:\n%s\n%v\n%s", strings.Join(script, "\n"), err, out)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONJUR_") {
			vars[k] = v
		}
	}
	for _, k := range []string{"CONJUR_APPLIANCE_URL", "CONJUR_ACCOUNT", "CONJUR_AUTHN_TYPE", "CONJUR_SERVICE_ID", "CONJUR_AUTHN_JWT_HOST_ID"} {
		if vars[k] == "" {
			t.Fatalf("the NOTES do not set %s", k)
		}
	}
	if f := vars["CONJUR_CERT_FILE"]; f != "" && !filepath.IsAbs(f) {
		vars["CONJUR_CERT_FILE"] = filepath.Join(dir, f)
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	t.Setenv("CONJUR_AUTHN_JWT_TOKEN", imdsToken(t, machine))
	cfg, err := conjurapi.LoadConfig()
	if err != nil {
		t.Fatalf("conjurapi.LoadConfig: %v", err)
	}
	client, err := conjurapi.NewClientFromEnvironment(cfg)
	if err != nil {
		t.Fatalf("conjurapi.NewClientFromEnvironment: %v", err)
	}
	value, err := client.RetrieveSecret("payments/payments-db/password")
	if err != nil {
		t.Fatalf("RetrieveSecret through %s: %v", vars["CONJUR_APPLIANCE_URL"], err)
	}
	if string(value) != "demo-only-not-a-real-password" {
		t.Fatalf("RetrieveSecret = %q", value)
	}
}
