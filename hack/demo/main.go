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

// Command demo runs azure-authenticator end to end on this machine, with
// no Azure and no cluster: a local control plane (kube-apiserver + etcd on
// loopback, built by hack/build-envtest.sh), the Azure emulator on loopback
// (Entra ID, one IMDS per machine, App Service identity endpoints, from
// hack/azure-world.yaml), the manager binary against both, and the samples of
// config/samples. It prints each step of a workload's path, from the Azure
// token to a secret, then keeps
// everything running until Ctrl-C, when it stops and removes all it
// started. With --check it exits after the steps instead, non-zero if any
// failed (CI's smoke test).
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/helm"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// The sample world (config/samples).
const (
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	service      = "prod"
	account      = "default"
)

func main() {
	check := flag.Bool("check", false, "run the steps non-interactively and exit; non-zero if any step fails")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

type demo struct {
	ctx       context.Context
	root      string
	work      string
	env       *testenv.Env
	emu       *azuretest.Emulator
	azure     *azuretest.Server
	authnURL  string
	client    *http.Client
	auditPath string
}

func run(check bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{ctx: ctx, root: testenv.RepoRoot()}
	d.work = filepath.Join(d.root, "bin", "demo")
	if err := os.MkdirAll(d.work, 0o750); err != nil {
		return err
	}

	step("Building the manager (bin/manager)")
	manager := filepath.Join(d.root, "bin", "manager")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", manager, d.root).CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}

	step("Starting a local control plane: etcd + kube-apiserver on loopback, CRDs installed")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	d.env = env
	defer func() {
		step("Stopping the control plane")
		_ = env.Stop()
	}()
	kubeconfig := filepath.Join(d.work, "kubeconfig")
	if err := copyFile(env.Kubeconfig, kubeconfig); err != nil {
		return err
	}
	fmt.Printf("    API server %s, kubeconfig %s\n", env.Config.Host, kubeconfig)

	step("Starting the Azure emulator on loopback (world: hack/azure-world.yaml)")
	world, err := azuretest.LoadWorld(filepath.Join(d.root, "hack", "azure-world.yaml"))
	if err != nil {
		return err
	}
	if d.emu, err = azuretest.StartEmulator(world, "127.0.0.1"); err != nil {
		return err
	}
	defer d.emu.Close()
	d.azure = d.emu.Entra
	fmt.Printf("    Entra ID issuer %s (OIDC discovery + JWKS)\n", d.azure.IssuerV1(tenant))
	for _, m := range d.emu.Machines {
		fmt.Printf("    IMDS of machine %-15s %s\n", m.Name, m.URL)
	}
	for _, a := range d.emu.Apps {
		fmt.Printf("    identity endpoint of app %-7s %s\n", a.Name, a.URL)
	}

	stopManager, err := d.startManager(manager, kubeconfig)
	if err != nil {
		return err
	}
	defer stopManager()

	if err := d.applySamples(); err != nil {
		return err
	}
	if err := d.walkthrough(); err != nil {
		return err
	}
	if err := d.installChart(); err != nil {
		return err
	}

	if check {
		step("All steps succeeded")
		return nil
	}
	step("Running. Try:")
	for _, m := range d.emu.Machines {
		fmt.Printf("    # IMDS of %s:\n    curl -s -H Metadata:true '%s?api-version=2018-02-01&resource=https%%3A%%2F%%2Fmanagement.azure.com%%2F'\n", m.Name, m.URL)
	}
	for _, a := range d.emu.Apps {
		fmt.Printf("    # identity endpoint of app %s:\n    curl -s -H 'X-IDENTITY-HEADER: %s' '%s?api-version=2019-08-01&resource=https%%3A%%2F%%2Fmanagement.azure.com%%2F'\n", a.Name, a.Secret, a.URL)
	}
	fmt.Printf(`    export KUBECONFIG=%s
    kubectl get azauth,azh -A
    kubectl label namespace payments authn.dap.io/team-   # watch the hosts lose Ready
    tail -f %s                                   # the audit log
    # authenticate with the saved token, then read the secret:
    TOKEN=$(cat bin/demo/ledger-vm.jwt)
    curl -s --cacert %[3]s -X POST -H 'Accept-Encoding: base64' --data "jwt=$TOKEN" \
      %[4]s/authn-azure/%[5]s/%[6]s/host%%2Fpayments%%2Fledger-vm/authenticate > /tmp/access-token.b64
    curl -s --cacert %[3]s -H "Authorization: Token token=\"$(cat /tmp/access-token.b64)\"" \
      %[4]s/secrets/%[6]s/variable/payments%%2Fpayments-db%%2Fpassword
Press Ctrl-C to stop and clean up.
`, kubeconfig, d.auditPath, filepath.Join(d.work, "authn-ca.pem"), d.authnURL, service, account)
	<-ctx.Done()
	return nil
}

func (d *demo) startManager(manager, kubeconfig string) (stop func(), err error) {
	step("Starting the manager (log: bin/demo/manager.log, audit: bin/demo/audit.log)")
	probe, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	authnAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	d.authnURL = "https://" + authnAddr
	d.auditPath = filepath.Join(d.work, "audit.log")
	_ = os.Remove(d.auditPath)
	logFile, err := os.Create(filepath.Join(d.work, "manager.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(manager, "--kubeconfig", kubeconfig, "--metrics-bind-address", "0",
		"--health-probe-bind-address", probe, "--authn-bind-address", authnAddr,
		"--leader-elect", "--leader-election-namespace", "default", "--audit-log", d.auditPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: Ctrl-C reaches the demo only, which then
	// stops the manager with one SIGTERM (a second signal would make it
	// exit at once, without a graceful shutdown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		step("Stopping the manager")
		_ = cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			err = <-exited
		}
		_ = logFile.Close()
		if err != nil {
			fmt.Printf("    the manager exited with %v (see bin/demo/manager.log)\n", err)
		}
	}
	if err := waitReady(d.ctx, "http://"+probe+"/readyz", exited); err != nil {
		stop()
		return nil, err
	}
	fmt.Printf("    /readyz ok: index synced, signing keys loaded, authenticator on %s\n", d.authnURL)

	// Trust the manager's serving CA (ca.crt), as a workload would pin it.
	cs, err := kubernetes.NewForConfig(d.env.Config)
	if err != nil {
		stop()
		return nil, err
	}
	sec, err := cs.CoreV1().Secrets("default").Get(d.ctx, "azure-authenticator-tls", metav1.GetOptions{})
	if err != nil {
		stop()
		return nil, fmt.Errorf("reading the serving certificate: %w", err)
	}
	// ca.crt, not tls.crt: the CA survives leaf renewals and is confined to
	// the --tls-sans names.
	caPEM := sec.Data[servingcert.CACertKey]
	t, err := loopback.TransportTrusting(caPEM)
	if err != nil {
		stop()
		return nil, errors.New("the serving-certificate Secret has no ca.crt")
	}
	if err := os.WriteFile(filepath.Join(d.work, "authn-ca.pem"), caPEM, 0o600); err != nil {
		stop()
		return nil, err
	}
	d.client = &http.Client{Transport: t, Timeout: 30 * time.Second}
	return stop, nil
}

func (d *demo) applySamples() error {
	step("kubectl apply -f config/samples/")
	out, err := d.env.Kubectl(d.ctx, "apply", "-f", filepath.Join(d.root, "config", "samples"))
	fmt.Print(indent(out))
	if err != nil {
		return fmt.Errorf("kubectl apply: %w", err)
	}

	step("Pointing the sample authenticator at the fake Entra ID (its issuer and CA bundle)")
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"providers": []map[string]string{
		{"uri": d.azure.IssuerV1(tenant), "caBundle": string(d.azure.CAPEM())},
	}}})
	out, err = d.env.Kubectl(d.ctx, "patch", "azureauthenticator", service, "--type=merge", "-p", string(patch))
	fmt.Print(indent(out))
	if err != nil {
		return fmt.Errorf("kubectl patch: %w", err)
	}

	step("Waiting for the authenticator and every AzureHost to be Ready")
	for _, args := range [][]string{
		{"wait", "--for=condition=Ready", "azureauthenticator/" + service, "--timeout=60s"},
		{"wait", "--for=condition=Ready", "azurehosts", "--all", "-n", "payments", "--timeout=60s"},
	} {
		out, err = d.env.Kubectl(d.ctx, args...)
		fmt.Print(indent(out))
		if err != nil {
			return fmt.Errorf("kubectl wait: %w", err)
		}
	}
	out, _ = d.env.Kubectl(d.ctx, "get", "azureauthenticators,azurehosts", "-A")
	fmt.Print(indent(out))

	step("An invalid AzureHost is refused by the API server")
	bad := filepath.Join(d.work, "invalid-azurehost.yaml")
	if err := os.WriteFile(bad, []byte(invalidHost), 0o600); err != nil {
		return err
	}
	out, err = d.env.Kubectl(d.ctx, "apply", "-f", bad)
	fmt.Print(indent(out))
	if err == nil {
		return errors.New("the API server accepted an invalid AzureHost")
	}
	return nil
}

// installChart shows the install path: the Helm chart installed into the
// same control plane, every object accepted by the API server, and the
// NOTES a user reads next. There is no kubelet here, so its pods never run;
// the manager started above is the one serving.
func (d *demo) installChart() error {
	step("helm install azure-authenticator charts/azure-authenticator -n azure-authenticator --create-namespace --set crds.enabled=false")
	fmt.Println("    (the CRDs are installed already; there is no kubelet, so the chart's pods never run)")
	h, err := helm.New(filepath.Join(d.work, "kubeconfig"), filepath.Join(d.work, "helm"))
	if err != nil {
		return err
	}
	_, _ = h.Run(d.ctx, "uninstall", "azure-authenticator", "--namespace", "azure-authenticator")
	out, err := h.Run(d.ctx, "install", "azure-authenticator", helm.Chart(), "--namespace", "azure-authenticator", "--create-namespace", "--set", "crds.enabled=false")
	fmt.Print(indent(out))
	if err != nil {
		return err
	}
	out, err = d.env.Kubectl(d.ctx, "get", "deployments,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets", "-n", "azure-authenticator")
	fmt.Print(indent(out))
	return err
}

// walkthrough authenticates as workloads at each layer of the model, each
// with a token from its own emulated identity endpoint, and reads the
// exposed sample Secret with each access token.
func (d *demo) walkthrough() error {
	cases := []struct {
		title, host, machine, app string
		authStatus, fetchStatus   int
	}{
		{"A VM's system-assigned identity, token from its IMDS (host pinned to principal id, tenant and addresses)", "ledger-vm", "ledger-vm", "", http.StatusOK, http.StatusOK},
		{"An App Service app's user-assigned identity, token from its IDENTITY_ENDPOINT (host pinned to that app)", "billing-api", "", "billing-api", http.StatusOK, http.StatusOK},
		{"Any identity of the resource group, a Container Instance: it authenticates, but the Secret's owner did not grant it", "rg-wide", "nightly-report", "", http.StatusOK, http.StatusForbidden},
		{"A VM in another resource group tries to log in as ledger-vm", "ledger-vm", "unknown-vm", "", http.StatusUnauthorized, 0},
	}
	const variable = "payments/payments-db/password"
	for _, c := range cases {
		step("%s", c.title)
		var token string
		var err error
		if c.app != "" {
			token, err = d.appToken(d.emu.App(c.app))
		} else {
			token, err = d.imdsToken(d.emu.Machine(c.machine))
		}
		if err != nil {
			return err
		}
		if c.host == "ledger-vm" && c.machine == "ledger-vm" {
			_ = os.WriteFile(filepath.Join(d.work, "ledger-vm.jwt"), []byte(token), 0o600)
		}
		login := "host/payments/" + c.host
		path := "/authn-azure/" + service + "/" + account + "/" + url.PathEscape(login) + "/authenticate"
		fmt.Printf("    POST %s (body jwt=<token>)\n", path)
		status, body, err := d.do(http.MethodPost, path, "jwt="+token, "")
		if err != nil {
			return err
		}
		fmt.Printf("    -> %d %s\n", status, shorten(body))
		if status != c.authStatus {
			return fmt.Errorf("%s: authentication answered %d, want %d", c.host, status, c.authStatus)
		}
		if status != http.StatusOK {
			reason, err := d.lastAuditReason(login)
			if err != nil {
				return err
			}
			fmt.Printf("    the client sees only the generic 401; the audit log says why:\n    %s\n", reason)
			continue
		}
		var tok struct{ Payload string }
		_ = json.Unmarshal([]byte(body), &tok)
		fmt.Printf("    access token claims: %s\n", decodePayload(tok.Payload))
		fpath := "/secrets/" + account + "/variable/" + url.PathEscape(variable)
		fmt.Printf("    GET %s (Authorization: Token token=\"<base64 access token>\")\n", fpath)
		status, value, err := d.do(http.MethodGet, fpath, "", `Token token="`+base64.StdEncoding.EncodeToString([]byte(body))+`"`)
		if err != nil {
			return err
		}
		fmt.Printf("    -> %d %s\n", status, shorten(value))
		if status != c.fetchStatus {
			return fmt.Errorf("%s: fetching %s answered %d, want %d", c.host, variable, status, c.fetchStatus)
		}
	}
	fmt.Printf("\n    (The ledger-vm Azure token is saved in bin/demo/ledger-vm.jwt: TOKEN=$(cat bin/demo/ledger-vm.jwt))\n")
	return nil
}

// appToken asks an app's identity endpoint for a token as App Service
// clients do.
func (d *demo) appToken(app *azuretest.Endpoint) (string, error) {
	tokenURL := app.URL + "?api-version=2019-08-01&resource=" + url.QueryEscape("https://management.azure.com/")
	fmt.Printf("    GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=... (X-IDENTITY-HEADER: $IDENTITY_HEADER)\n")
	return d.identityToken(tokenURL, "X-IDENTITY-HEADER", app.Secret)
}

// imdsToken asks a machine's IMDS for a token as a VM does.
func (d *demo) imdsToken(m *azuretest.Endpoint) (string, error) {
	tokenURL := m.URL + "?api-version=2018-02-01&resource=" + url.QueryEscape("https://management.azure.com/")
	fmt.Printf("    GET %s (Metadata: true)\n", tokenURL)
	return d.identityToken(tokenURL, "Metadata", "true")
}

func (d *demo) identityToken(tokenURL, header, value string) (string, error) {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, tokenURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set(header, value)
	resp, err := (&http.Client{Transport: loopback.Transport(), Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("the identity endpoint answered %d", resp.StatusCode)
	}
	fmt.Printf("    -> 200 {\"access_token\":\"eyJ...\",\"expires_on\":%q,\"resource\":\"https://management.azure.com/\",...}\n", out.ExpiresOn)
	return out.AccessToken, nil
}

func (d *demo) do(method, path, body, authorization string) (int, string, error) {
	req, err := http.NewRequestWithContext(d.ctx, method, d.authnURL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (d *demo) lastAuditReason(host string) (string, error) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(d.auditPath)
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		for i := len(lines) - 1; i >= 0; i-- {
			var e struct{ Host, Result, Code, Reason string }
			if json.Unmarshal(lines[i], &e) == nil && e.Host == host && e.Result == "failure" {
				return e.Code + ": " + e.Reason, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("no audit line for %s in %s", host, d.auditPath)
}

// decodePayload shows an access token's claims, decoded as the Conjur SDK
// decodes them (padded standard base64).
func decodePayload(p string) string {
	b, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func shorten(s string) string {
	if len(s) > 100 {
		return s[:97] + "..."
	}
	return s
}

const invalidHost = `apiVersion: authn.dap.io/v1alpha1
kind: AzureHost
metadata:
  name: invalid
  namespace: payments
spec:
  subscriptionID: 6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11
  resourceGroup: rg-payments
  userAssignedIdentity: id-billing-api
  systemAssignedIdentity: 1e2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8
`

func waitReady(ctx context.Context, url string, exited <-chan error) error {
	client := &http.Client{Timeout: time.Second, Transport: loopback.Transport()}
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the manager exited before it was ready: %v (see bin/demo/manager.log)", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("the manager was not ready within 90s (see bin/demo/manager.log)")
		}
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}
