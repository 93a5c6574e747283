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

// Package plugin drives the kubectl-azauthn binary, built as `make build`
// builds it, against a real API server with the product's controllers
// running, as a pipeline would.
package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/controllers"
	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/feed"
	"github.com/azure-authenticator/azure-authenticator/internal/health"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

var (
	env    *testenv.Env
	k8s    client.Client // direct, uncached
	plugin string        // the built binary
)

// teamLabel admits a namespace to the suite's authenticator.
const teamLabel = "plugin.test/team"

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	testenv.SetLogger()
	dir, err := os.MkdirTemp("", "kubectl-azauthn-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	plugin = filepath.Join(dir, "kubectl-azauthn")
	if err := build(plugin); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: client:", err)
		return 1
	}
	stop, err := startManager()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer stop()
	// One authenticator for the suite, admitting labelled namespaces: a
	// host there becomes Ready=True/Admitted, elsewhere NoAuthenticator.
	auth := &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: "plugin-test"},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers: []authnv1alpha1.Provider{{URI: "https://127.0.0.1:8400/5d7e9f1a-2b3c-4d5e-9f60-718293a4b5c6/"}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: teamLabel, Operator: metav1.LabelSelectorOpExists}},
			}},
		},
	}
	if err := k8s.Create(context.Background(), auth); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the authenticator:", err)
		return 1
	}
	return m.Run()
}

// build compiles the plugin as make build does, with the race detector
// when the tests run under it.
func build(out string) error {
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/kubectl-azauthn")...)
	cmd.Dir = testenv.RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building kubectl-azauthn: %w\n%s", err, b)
	}
	return nil
}

// startManager runs the controllers' half of the manager as internal/app
// builds it (status is what --wait reads) until the suite ends.
func startManager() (stop func(), err error) {
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr, o.Namespace = "0", "0", "default"
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("the suite's manager options: %w", err)
	}
	mgr, err := app.NewManager(env.Config, o, health.NewInformers(ctrl.Log.WithName("watch-health"), nil))
	if err != nil {
		return nil, err
	}
	ix := policy.NewIndex()
	if err := mgr.Add(&feed.IndexFeeder{Cache: mgr.GetCache(), Index: ix}); err != nil {
		return nil, err
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{SecretsHealth: testenv.NewSecretsHealth()}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for !ix.Synced() {
		select {
		case err := <-done:
			cancel()
			return nil, fmt.Errorf("manager stopped before the index synced: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			return nil, errors.New("index did not sync within 60s")
		}
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped with:", err)
		}
	}, nil
}

// result is one run of the plugin.
type result struct {
	code        int
	out, errOut string
	took        time.Duration
}

// azauthn runs the plugin against the suite's API server as the admin,
// with stdin, from the plugin's package directory (for testdata paths).
func azauthn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return azauthnAs(t, env.Kubeconfig, stdin, args...)
}

func azauthnAs(t *testing.T, kubeconfig, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugin, append(args, "--kubeconfig", kubeconfig)...)
	cmd.Dir = filepath.Join(testenv.RepoRoot(), "cmd", "kubectl-azauthn")
	// Nothing of the machine's own kubeconfig may leak in.
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := result{out: out.String(), errOut: errOut.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running kubectl-azauthn %v: %v", args, err)
	}
	return r
}

var nameSeq atomic.Int64

// testNamespace creates a namespace, admitted by the suite's
// authenticator when admitted is true, deleted when the test ends.
func testNamespace(t *testing.T, admitted bool) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("plugin-%d", nameSeq.Add(1))}}
	if admitted {
		ns.Labels = map[string]string{teamLabel: "payments"}
	}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

func getHost(t *testing.T, ns, name string) *authnv1alpha1.AzureHost {
	t.Helper()
	var h authnv1alpha1.AzureHost
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &h); err != nil {
		t.Fatalf("reading azurehost %s/%s: %v", ns, name, err)
	}
	return &h
}
