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

// Command demo runs azure-authenticator end to end on this machine: a local
// control plane (kube-apiserver + etcd on loopback, built by
// hack/build-envtest.sh), the manager binary against it, and the samples of
// config/samples. It prints each step, then keeps everything running until
// Ctrl-C, when it stops and removes all it started. With --check it exits
// after the steps instead, non-zero if any failed (CI's smoke test).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
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

func run(check bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := testenv.RepoRoot()
	work := filepath.Join(root, "bin", "demo")
	if err := os.MkdirAll(work, 0o750); err != nil {
		return err
	}

	step("Building the manager (bin/manager)")
	manager := filepath.Join(root, "bin", "manager")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", manager, root).CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}

	step("Starting a local control plane: etcd + kube-apiserver on loopback, CRDs installed")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the control plane")
		_ = env.Stop()
	}()
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := copyFile(env.Kubeconfig, kubeconfig); err != nil {
		return err
	}
	fmt.Printf("    API server %s, kubeconfig %s\n", env.Config.Host, kubeconfig)

	step("Starting the manager against it (log: bin/demo/manager.log)")
	probe, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(work, "manager.log"))
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	mgrCmd := exec.Command(manager, "--kubeconfig", kubeconfig, "--metrics-bind-address", "0",
		"--health-probe-bind-address", probe, "--leader-elect", "--leader-election-namespace", "default")
	mgrCmd.Stdout, mgrCmd.Stderr = logFile, logFile
	if err := mgrCmd.Start(); err != nil {
		return fmt.Errorf("starting the manager: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- mgrCmd.Wait() }()
	defer func() {
		step("Stopping the manager")
		_ = mgrCmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-exited:
		case <-time.After(15 * time.Second):
			_ = mgrCmd.Process.Kill()
			err = <-exited
		}
		if err != nil {
			fmt.Printf("    the manager exited with %v (see bin/demo/manager.log)\n", err)
		}
	}()
	if err := waitReady(ctx, "http://"+probe+"/readyz", exited); err != nil {
		return err
	}
	fmt.Println("    /readyz answers ok: the policy index has synced")

	step("kubectl apply -f config/samples/")
	out, err := env.Kubectl(ctx, "apply", "-f", filepath.Join(root, "config", "samples"))
	fmt.Print(indent(out))
	if err != nil {
		return fmt.Errorf("kubectl apply: %w", err)
	}

	step("Waiting for every AzureHost to be Ready")
	out, err = env.Kubectl(ctx, "wait", "--for=condition=Ready", "azurehosts", "--all", "-n", "payments", "--timeout=60s")
	fmt.Print(indent(out))
	if err != nil {
		return fmt.Errorf("kubectl wait: %w", err)
	}
	out, _ = env.Kubectl(ctx, "get", "azureauthenticators,azurehosts", "-A")
	fmt.Print(indent(out))

	step("An invalid AzureHost is refused by the API server")
	bad := filepath.Join(work, "invalid-azurehost.yaml")
	if err := os.WriteFile(bad, []byte(invalidHost), 0o600); err != nil {
		return err
	}
	out, err = env.Kubectl(ctx, "apply", "-f", bad)
	fmt.Print(indent(out))
	if err == nil {
		return errors.New("the API server accepted an invalid AzureHost")
	}

	if check {
		step("All steps succeeded")
		return nil
	}
	step("Running. Try:")
	fmt.Printf(`    export KUBECONFIG=%s
    kubectl get azauth,azh -A
    kubectl describe azh -n payments billing-api
    kubectl label namespace payments authn.dap.io/team-   # watch the hosts lose Ready
Press Ctrl-C to stop and clean up.
`, kubeconfig)
	select {
	case <-ctx.Done():
		return nil
	case err := <-exited:
		return fmt.Errorf("the manager exited: %v (see bin/demo/manager.log)", err)
	}
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
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
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
			return errors.New("the manager was not ready within 60s (see bin/demo/manager.log)")
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
