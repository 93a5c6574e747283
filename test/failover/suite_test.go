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

// Package failover runs the manager binary itself, as separate processes
// against one API server (envtest) and the fake Entra ID (internal/azuretest):
// two replicas with short lease timings, the leader killed with SIGKILL,
// and restarts with and without the signing-key Secret. What a process
// keeps in memory is lost when it dies; only what the API server holds
// carries over, as in a cluster.
package failover

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
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

var (
	env        *testenv.Env
	k8s        client.Client
	azure      *azuretest.Server
	managerBin string
	seq        atomic.Int64
)

const (
	account      = "default"
	subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"

	// The lease timings every replica here runs with: short, so that a
	// takeover fits a test, and valid by client-go's rules.
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond

	// revocationBound is the product's documented hard bound (README,
	// "Revocation"): a change acknowledged by the API server takes effect
	// on every connected replica within it.
	revocationBound = 5 * time.Second

	tlsSecret     = "failover-tls"
	signingSecret = "failover-signing-keys"
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	testenv.SetLogger()
	dir, err := os.MkdirTemp("", "azure-authenticator-failover-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	// The binary is built without -race whatever the test runs with: the
	// race detector covers this test process; the manager's own races are
	// covered by the in-process suites.
	managerBin = filepath.Join(dir, "manager")
	start := time.Now()
	if out, err := exec.Command("go", "build", "-o", managerBin, testenv.RepoRoot()).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: go build: %v\n%s", err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("built the manager in %v\n", time.Since(start).Round(time.Millisecond))
	}
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

// fixture is one test's world: a namespace that holds the managers' own
// objects (Lease, signing keys, serving certificate) and the workloads'
// (AzureHosts, exposed Secrets), an authenticator admitting it, and a
// tenant on the fake Entra ID.
type fixture struct {
	t       *testing.T
	ns      string
	service string
	tenant  string
	ca      []byte // the serving CA, once a replica has published it
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	n := seq.Add(1)
	f := &fixture{t: t, ns: fmt.Sprintf("failover-%d", n), service: fmt.Sprintf("svc-%d", n),
		tenant: fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, n)}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns, Labels: map[string]string{"failover-test": f.ns}}})
	create(t, &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: f.service},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: azure.IssuerV1(f.tenant), CABundle: string(azure.CAPEM())}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"failover-test": f.ns}}},
		},
	})
	return f
}

// host creates an AzureHost admitting any identity of resource group rg.
func (f *fixture) host(name, rg string) *authnv1alpha1.AzureHost {
	f.t.Helper()
	h := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: rg}}
	create(f.t, h)
	return h
}

// exposedSecret creates a Secret with one key, readable by allowed.
func (f *fixture) exposedSecret(name, allowed string) *corev1.Secret {
	f.t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name,
			Labels:      map[string]string{secrets.ExposeLabel: "true"},
			Annotations: map[string]string{secrets.AllowedHostsAnnotation: allowed}},
		Data: map[string][]byte{"value": []byte("value of " + name)},
	}
	create(f.t, s)
	return s
}

// azureToken mints a fresh managed-identity token of a VM in rg.
func (f *fixture) azureToken(rg string) string {
	return azure.Token(azuretest.VM(f.tenant, subscription, rg, "vm-1"), azuretest.TokenOptions{})
}

// variable is the id of an exposed Secret's one key.
func (f *fixture) variable(secret string) string { return f.ns + "/" + secret + "/value" }

// args are the flags of every replica of the fixture but its own
// addresses and audit file.
func (f *fixture) args(authnAddr, probeAddr, auditPath string) []string {
	return []string{
		"--kubeconfig", env.Kubeconfig,
		"--leader-elect", "--leader-election-namespace", f.ns,
		"--leader-election-lease-duration", leaseDuration.String(),
		"--leader-election-renew-deadline", renewDeadline.String(),
		"--leader-election-retry-period", retryPeriod.String(),
		"--authn-bind-address", authnAddr, "--health-probe-bind-address", probeAddr,
		"--metrics-bind-address", "0", "--audit-log", auditPath,
		"--signing-key-secret", signingSecret, "--tls-secret", tlsSecret,
	}
}

// replica is one manager process.
type replica struct {
	name                string
	authnAddr, probeAdr string
	auditPath, logPath  string
	cmd                 *exec.Cmd
	done                chan struct{} // closed once the process has exited
	waitErr             error         // how it exited, set before done closes
	http                *http.Client
}

// start runs a replica named name on free loopback ports, waits until
// /readyz answers 200 and returns it. The test's cleanup kills it.
func (f *fixture) start(name string) *replica {
	f.t.Helper()
	return f.startOn(name, freeAddr(f.t), freeAddr(f.t))
}

// startOn is start on the given addresses (a restart reuses its
// predecessor's: same flags, but for the audit file, which is its own).
func (f *fixture) startOn(name, authnAddr, probeAddr string) *replica {
	t := f.t
	t.Helper()
	dir := t.TempDir()
	r := &replica{name: name, authnAddr: authnAddr, probeAdr: probeAddr,
		auditPath: filepath.Join(dir, "audit.log"), logPath: filepath.Join(dir, "manager.log"), done: make(chan struct{})}
	logFile, err := os.Create(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(managerBin, f.args(authnAddr, probeAddr, r.auditPath)...)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = sysProcAttr()
	started := time.Now()
	if err := r.cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("starting replica %s: %v", name, err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		_ = logFile.Close()
		close(r.done)
	}()
	t.Cleanup(func() {
		// SIGKILL: nothing of a replica may outlive its test, and nothing
		// it would do on a graceful stop matters any more.
		r.kill()
		if t.Failed() {
			t.Logf("replica %s (%s) output:\n%s", r.name, r.waitErr, tail(r.logPath, 60))
		}
	})
	testenv.EventuallyWithin(t, time.Minute, "replica "+name+" ready", r.ready)
	t.Logf("replica %s ready %v after its start", name, time.Since(started).Round(time.Millisecond))
	if f.ca == nil {
		sec := &corev1.Secret{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: tlsSecret}, sec); err != nil {
			t.Fatalf("reading the serving certificate: %v", err)
		}
		f.ca = sec.Data[servingcert.CACertKey]
	}
	tr, err := loopback.TransportTrusting(f.ca)
	if err != nil {
		t.Fatalf("the serving-certificate Secret has no usable %s: %v", servingcert.CACertKey, err)
	}
	r.http = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return r
}

// exited is nil while the process runs.
func (r *replica) exited() error {
	select {
	case <-r.done:
		return fmt.Errorf("replica %s exited: %v", r.name, r.waitErr)
	default:
		return nil
	}
}

// ready is nil once /readyz answers 200: index synced, signing keys
// loaded, listening with a certificate.
func (r *replica) ready() error {
	if err := r.exited(); err != nil {
		return err
	}
	c := &http.Client{Transport: loopback.Transport(), Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + r.probeAdr + "/readyz")
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

// kill sends SIGKILL and waits for the process to be gone.
func (r *replica) kill() {
	if r.exited() != nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}

// stop sends SIGTERM, as the kubelet does, and waits (bounded) for a
// clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signalling replica %s: %v", r.name, err)
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.kill()
		t.Fatalf("replica %s did not stop within 30s of SIGTERM", r.name)
	}
	if r.waitErr != nil {
		t.Fatalf("replica %s stopped with %v:\n%s", r.name, r.waitErr, tail(r.logPath, 30))
	}
}

// answer is what a client saw; status 0 with err when there was no
// answer.
type answer struct {
	status int
	body   string
	err    error
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, a.body)
}

func (r *replica) do(req *http.Request) answer {
	resp, err := r.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), err: err}
}

// login authenticates as host/<ns>/<host> with an Azure token; a 200's
// body is the access token.
func (r *replica) login(f *fixture, host, azureToken string) answer {
	path := "/authn-azure/" + f.service + "/" + account + "/" + url.PathEscape("host/"+f.ns+"/"+host) + "/authenticate"
	req, err := http.NewRequest(http.MethodPost, "https://"+r.authnAddr+path, strings.NewReader("jwt="+azureToken))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r.do(req)
}

// fetch reads a variable with an access token (a login's body).
func (r *replica) fetch(accessToken, variable string) answer {
	req, err := http.NewRequest(http.MethodGet, "https://"+r.authnAddr+"/secrets/"+account+"/variable/"+url.PathEscape(variable), nil)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Authorization", `Token token="`+base64.StdEncoding.EncodeToString([]byte(accessToken))+`"`)
	return r.do(req)
}

// accessToken logs in until it works (a replica fetches a provider's keys
// on first use) and returns the access token.
func (r *replica) accessToken(t *testing.T, f *fixture, host, rg string) string {
	t.Helper()
	var a answer
	testenv.Eventually(t, "login as "+host+" at replica "+r.name, func() error {
		if a = r.login(f, host, f.azureToken(rg)); a.status != http.StatusOK {
			return errors.New(a.String())
		}
		return nil
	})
	return a.body
}

// audit is the replica's audit log.
func (r *replica) audit(t *testing.T) []authn.AuditEvent {
	t.Helper()
	b, err := os.ReadFile(r.auditPath)
	if err != nil {
		t.Fatalf("reading the audit log of replica %s: %v", r.name, err)
	}
	var out []authn.AuditEvent
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e authn.AuditEvent
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// leaseHolder is the holder of the fixture's Lease ("" when none).
func (f *fixture) leaseHolder() (string, error) {
	l := &coordinationv1.Lease{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "azure-authenticator"}, l); err != nil {
		return "", err
	}
	if l.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *l.Spec.HolderIdentity, nil
}

// waitHolder waits until the Lease has a holder and returns it.
func (f *fixture) waitHolder(t *testing.T) string {
	t.Helper()
	var holder string
	testenv.EventuallyWithin(t, 30*time.Second, "the Lease is held", func() error {
		var err error
		if holder, err = f.leaseHolder(); err != nil {
			return err
		}
		if holder == "" {
			return errors.New("no holder")
		}
		return nil
	})
	return holder
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(context.Background(), obj)) })
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

// tail is the last n lines of a file, but for the probe's repeated
// "healthz check failed" lines of the start-up, which would crowd out the
// rest.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.Contains(l, "healthz check failed") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
