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

// Package testenv starts the real control plane for tests: kube-apiserver
// and etcd built by hack/build-envtest.sh, with this repository's CRDs
// installed. It never skips: a test that needs the API server fails when the
// binaries are missing, with the command that builds them.
//
// A test fixture: only tests, hack/ and test/ import it.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
)

// Env is a running control plane.
type Env struct {
	Environment *envtest.Environment
	Config      *rest.Config
	Scheme      *k8sruntime.Scheme
	// Kubeconfig is a file that kubectl can use to reach the API server.
	Kubeconfig string
	dir        string
}

// SetLogger sends controller-runtime's log to standard error, errors only
// unless TEST_VERBOSE_LOGS is set, so that go test -v stays readable.
func SetLogger() {
	level := zapcore.ErrorLevel
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		level = zapcore.Level(-2)
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(level)))
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testenv: cannot find the source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Scheme knows the built-in types and ours.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(authnv1alpha1.AddToScheme(s))
	return s
}

// AssetsDir returns KUBEBUILDER_ASSETS, or the directory that
// hack/build-envtest.sh has already built, so `go test` works without make.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	out, err := exec.Command(filepath.Join(RepoRoot(), "hack", "build-envtest.sh"), "--print").Output()
	if err != nil {
		return "", fmt.Errorf("no kube-apiserver/etcd for envtest: set KUBEBUILDER_ASSETS or run `make envtest` (hack/build-envtest.sh) first")
	}
	return strings.TrimSpace(string(out)), nil
}

// Start starts kube-apiserver and etcd with the CRDs installed. Every
// client built from Env.Config dials loopback only.
func Start() (*Env, error) { return start(true) }

// StartWithoutCRDs starts an empty control plane, for installers (the Helm
// chart) that bring the CRDs themselves.
func StartWithoutCRDs() (*Env, error) { return start(false) }

func start(withCRDs bool) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("envtest binary %s missing in %s: run `make envtest`", bin, assets)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, Scheme: Scheme()}
	if withCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(RepoRoot(), "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("failed to start envtest (kube-apiserver + etcd from %s): %w", assets, err)
	}
	cfg.Dial = loopback.DialContext
	e := &Env{Environment: env, Config: cfg, Scheme: env.Scheme}
	if err := e.writeKubeconfig(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return e, nil
}

// Stop stops the control plane and removes the kubeconfig.
func (e *Env) Stop() error {
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
	return e.Environment.Stop()
}

func (e *Env) writeKubeconfig() error {
	user, err := e.Environment.ControlPlane.AddUser(envtest.User{Name: "envtest-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("failed to add the kubectl user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("failed to build a kubeconfig: %w", err)
	}
	if e.dir, err = os.MkdirTemp("", "azure-authenticator-envtest-"); err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, kc, 0o600)
}

// KubeconfigAs writes a kubeconfig that acts as user (with groups) by
// impersonation, as the admin user may: a process given it has exactly
// the permissions RBAC grants that user. For a ServiceAccount, pass
// ServiceAccountUser's results.
func (e *Env) KubeconfigAs(user string, groups ...string) (string, error) {
	kc, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		return "", fmt.Errorf("failed to read the admin kubeconfig: %w", err)
	}
	for _, auth := range kc.AuthInfos {
		auth.Impersonate, auth.ImpersonateGroups = user, groups
	}
	f, err := os.CreateTemp(e.dir, "kubeconfig-as-")
	if err != nil {
		return "", err
	}
	_ = f.Close()
	if err := clientcmd.WriteToFile(*kc, f.Name()); err != nil {
		return "", fmt.Errorf("failed to write a kubeconfig: %w", err)
	}
	return f.Name(), nil
}

// ServiceAccountUser is the user name and groups the API server gives a
// ServiceAccount's tokens.
func ServiceAccountUser(namespace, name string) (string, []string) {
	return "system:serviceaccount:" + namespace + ":" + name,
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
}

// Kubectl runs the kubectl built with the control plane against it and
// returns its combined output.
func (e *Env) Kubectl(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.Environment.BinaryAssetsDirectory, "kubectl"), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Eventually polls fn until it returns nil. The bound is generous for a
// shared 2-core machine; a failure says what was last seen.
func Eventually(t testing.TB, what string, fn func() error) {
	t.Helper()
	EventuallyWithin(t, 15*time.Second, what, fn)
}

// Until fails t unless ok turns true within 15s.
func Until(t testing.TB, what string, ok func() bool) {
	t.Helper()
	Eventually(t, what, func() error {
		if ok() {
			return nil
		}
		return errors.New("not yet")
	})
}

// EventuallyWithin is Eventually with another bound, for waits that
// include client-go's backoff (up to a minute between relists).
func EventuallyWithin(t testing.TB, bound time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, bound, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// AddUser provisions a user without groups (so with no permission but
// what RBAC grants it) and returns its configuration, dialing through
// dialer (loopback only).
func (e *Env) AddUser(name string, dialer *Dialer) (*rest.Config, error) {
	user, err := e.Environment.ControlPlane.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to add user %s: %w", name, err)
	}
	cfg := rest.CopyConfig(user.Config())
	cfg.Dial = dialer.DialContext
	return cfg, nil
}

// Dialer dials loopback and can cut every connection it made, as a network
// blip would: in-flight requests and watches fail and clients reconnect.
type Dialer struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// DialContext dials loopback only and remembers the connection.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := loopback.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conns == nil {
		d.conns = map[net.Conn]struct{}{}
	}
	d.conns[c] = struct{}{}
	return c, nil
}

// CutAll closes every connection made so far and returns how many.
func (d *Dialer) CutAll() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.conns)
	for c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
	return n
}

// Update applies mutate to the latest stored obj and writes it, retrying
// when someone (a controller writing status) wrote in between.
func Update(t testing.TB, c client.Client, obj client.Object, mutate func()) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return c.Update(context.Background(), obj)
	})
	if err != nil {
		t.Fatalf("updating %T %s: %v", obj, obj.GetName(), err)
	}
}
