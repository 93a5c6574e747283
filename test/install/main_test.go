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

// Package install tests the install path for real: the Helm chart and the
// kustomize config are installed into a real kube-apiserver (envtest, no
// kubelet: nothing runs in pods), then the manager binary is run beside it
// with exactly the arguments the chart gives its container and exactly the
// permissions the chart grants its ServiceAccount (by impersonation), and a
// workload authenticates with a token from the Azure emulator and reads a
// secret through the Conjur Go SDK.
package install

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/helm"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// The sample world (config/samples, hack/azure-world.yaml).
const (
	tenant  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	service = "prod"
	account = "default"
)

var (
	env        *testenv.Env
	clientset  *kubernetes.Clientset
	emu        *azuretest.Emulator
	managerBin string
	helmCLI    *helm.CLI
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrllog.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "azure-authenticator-install-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := setup(dir); err != nil {
		fmt.Fprintln(os.Stderr, "install tests:", err)
		return 1
	}
	defer func() {
		emu.Close()
		_ = env.Stop()
	}()
	return m.Run()
}

func setup(dir string) error {
	managerBin = filepath.Join(dir, "manager")
	if out, err := exec.Command("go", "build", "-o", managerBin, testenv.RepoRoot()).CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	var err error
	// No CRDs: the chart brings them.
	if env, err = testenv.StartWithoutCRDs(); err != nil {
		return err
	}
	if clientset, err = kubernetes.NewForConfig(env.Config); err != nil {
		return err
	}
	world, err := azuretest.LoadWorld(filepath.Join(testenv.RepoRoot(), "hack", "azure-world.yaml"))
	if err != nil {
		return err
	}
	if emu, err = azuretest.StartEmulator(world, "127.0.0.1"); err != nil {
		return err
	}
	helmCLI, err = helm.New(env.Kubeconfig, filepath.Join(dir, "helm"))
	return err
}

// kubectl runs the control plane's kubectl as the admin and fails the test
// on error.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := env.Kubectl(context.Background(), args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// helmRun runs helm against the control plane and fails the test on error.
func helmRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helmCLI.Run(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// valuesFile writes a values file for helm -f.
func valuesFile(t *testing.T, yaml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// objects decodes a multi-document manifest.
func objects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("decoding the manifest: %v", err)
		}
		if len(m) != 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// deployment is the manifest's one Deployment.
func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	var found []*appsv1.Deployment
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			d := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, d); err != nil {
				t.Fatal(err)
			}
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d Deployments in the manifest, want 1", len(found))
	}
	return found[0]
}

// manager is the manager binary running beside the control plane as a
// chart's pod would.
type manager struct {
	probeURL, authnURL, metricsURL string
	authnAddr                      string
	log                            *syncBuffer
	cmd                            *exec.Cmd
	done                           chan struct{} // closed once the process has exited
	waitErr                        error         // how it exited, set before done closes
}

// syncBuffer is the manager's output, written by the process and read by
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startManager runs the manager with the arguments and environment the
// Deployment gives its container (listening on loopback ports instead of
// the pod's; the authenticator on authnAddr if not empty), acting as the
// Deployment's ServiceAccount. It does not wait for readiness.
func startManager(t *testing.T, dep *appsv1.Deployment, authnAddr string, extraEnv ...string) *manager {
	t.Helper()
	found := false
	var args []string
	var envVars []string
	for _, ctr := range dep.Spec.Template.Spec.Containers {
		if ctr.Name == "manager" {
			found = true
			args = append(args, ctr.Command...)
			args = append(args, ctr.Args...)
			for _, e := range ctr.Env {
				switch {
				case e.Name == "POD_NAMESPACE":
					envVars = append(envVars, "POD_NAMESPACE="+dep.Namespace)
				case e.ValueFrom == nil:
					envVars = append(envVars, e.Name+"="+e.Value)
				}
			}
		}
	}
	if !found {
		t.Fatal("the Deployment has no container named manager")
	}
	m := &manager{log: &syncBuffer{}, done: make(chan struct{})}
	probe, metrics := freeAddr(t), freeAddr(t)
	if authnAddr == "" {
		authnAddr = freeAddr(t)
	}
	m.probeURL, m.authnAddr = "http://"+probe, authnAddr
	m.authnURL = "https://" + authnAddr
	secure := true
	var run []string
	for _, a := range args {
		name, value, _ := strings.Cut(a, "=")
		switch name {
		case "--health-probe-bind-address":
			a = name + "=" + probe
		case "--authn-bind-address":
			a = name + "=" + authnAddr
		case "--metrics-bind-address":
			if value != "0" {
				a = name + "=" + metrics
			}
		case "--metrics-secure":
			secure = value != "false"
		case "--tls-cert-file", "--tls-key-file":
			t.Fatalf("these tests run the managed certificate mode, not %s", name)
		}
		run = append(run, a)
	}
	if secure {
		m.metricsURL = "https://" + metrics + "/metrics"
	} else {
		m.metricsURL = "http://" + metrics + "/metrics"
	}
	sa := dep.Spec.Template.Spec.ServiceAccountName
	user, groups := testenv.ServiceAccountUser(dep.Namespace, sa)
	kubeconfig, err := env.KubeconfigAs(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command(managerBin, append(run, "--kubeconfig", kubeconfig)...)
	m.cmd.Env = append(append(os.Environ(), envVars...), extraEnv...)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting the manager: %v", err)
	}
	go func() {
		m.waitErr = m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("manager output (args %q):\n%s", run, tail(m.log.String(), 80))
		}
	})
	return m
}

// stop stops the manager gracefully (it releases its Lease).
func (m *manager) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// exited is nil while the manager runs.
func (m *manager) exited() error {
	select {
	case <-m.done:
		return fmt.Errorf("the manager exited: %v", m.waitErr)
	default:
		return nil
	}
}

// ready is nil once /readyz answers 200.
func (m *manager) ready() error {
	if err := m.exited(); err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: loopback.Transport(), Timeout: 5 * time.Second}).Get(m.probeURL + "/readyz")
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %d: %s", resp.StatusCode, body)
	}
	return nil
}

// waitReady waits for /readyz.
func (m *manager) waitReady(t *testing.T) {
	t.Helper()
	testenv.EventuallyWithin(t, time.Minute, "the manager is ready", m.ready)
}

// client trusts caPEM and dials the manager whatever host the URL names,
// as a workload reaching it through a load balancer would.
func (m *manager) client(caPEM []byte) *http.Client {
	tr, _ := loopback.TransportTrusting(caPEM) // without a CA, every request fails its handshake, and says so
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return loopback.DialContext(ctx, network, m.authnAddr)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// imdsToken asks an emulated machine's IMDS for a token, as a VM does.
func imdsToken(t *testing.T, machine string) string {
	t.Helper()
	token, err := machineToken(machine)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func machineToken(machine string) (string, error) {
	m := emu.Machine(machine)
	if m == nil {
		return "", fmt.Errorf("no machine %s in the emulated world", machine)
	}
	req, err := http.NewRequest(http.MethodGet, m.URL+"?api-version=2018-02-01&resource="+url.QueryEscape("https://management.azure.com/"), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Metadata", "true")
	resp, err := (&http.Client{Transport: loopback.Transport(), Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("IMDS of %s answered %d", machine, resp.StatusCode)
	}
	return out.AccessToken, nil
}

// applySamples applies config/samples with the sample AzureAuthenticator
// pointed at the emulated Entra ID, and waits for it and every AzureHost to
// be Ready, as the README tells users to.
func applySamples(t *testing.T) {
	t.Helper()
	applySamplesAtEmulator(t)
	kubectl(t, "wait", "--for=condition=Ready", "azureauthenticator/"+service, "--timeout=90s")
	kubectl(t, "wait", "--for=condition=Ready", "azurehosts", "--all", "-n", "payments", "--timeout=90s")
}

// applySamplesAtEmulator applies config/samples and points the sample
// AzureAuthenticator at the emulated Entra ID (its issuer and CA bundle).
func applySamplesAtEmulator(t *testing.T) {
	t.Helper()
	kubectl(t, "apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "samples"))
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"providers": []map[string]string{
		{"uri": emu.Entra.IssuerV1(tenant), "caBundle": string(emu.Entra.CAPEM())},
	}}})
	kubectl(t, "patch", "azureauthenticator", service, "--type=merge", "-p", string(patch))
}

// scraperToken is a token of ServiceAccount ns/name, bound (cluster-wide)
// to readerRole, the release's metrics-reader ClusterRole: what Prometheus
// presents.
func scraperToken(ns, name, readerRole string) (string, error) {
	ctx := context.Background()
	_, err := clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	_, err = clientset.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: readerRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s/%s: %w", ns, name, err)
	}
	return tr.Status.Token, nil
}

// scrape GETs the manager's metrics endpoint with token as bearer (none
// when empty).
func (m *manager) scrape(token string) (code int, body string, err error) {
	req, err := http.NewRequest(http.MethodGet, m.metricsURL, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	tr := loopback.Transport()
	// controller-runtime serves metrics with its own self-signed
	// certificate; the chart's ServiceMonitor skips verification too.
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // see above
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func tail(s string, lines int) string {
	var all []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		all = append(all, sc.Text())
	}
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
