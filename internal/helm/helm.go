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

// Package helm runs the helm CLI that hack/build-helm.sh builds, on this
// repository's chart, for the chart's tests and the demo. Like the envtest
// binaries, a missing helm is an error naming the command that builds it:
// nothing skips.
//
// A test fixture: only tests, hack/ and test/ import it.
package helm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// Chart is the path of the chart in this repository.
func Chart() string { return filepath.Join(testenv.RepoRoot(), "charts", "azure-authenticator") }

// Binary is $HELM, or the helm hack/build-helm.sh has built.
func Binary() (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	out, err := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "build-helm.sh"), "--print").Output() //nolint:gosec // our own script
	if err != nil {
		return "", fmt.Errorf("no helm: set HELM or run `make helm` (hack/build-helm.sh) first")
	}
	return strings.TrimSpace(string(out)), nil
}

// CLI runs helm against one cluster, with its state (repositories, cache)
// kept in a private directory so nothing of the user's leaks in or out.
type CLI struct {
	Binary     string
	Kubeconfig string
	Home       string
	// Dir is where helm runs (relative paths in arguments); default: here.
	Dir string
}

// New returns a CLI for the cluster of kubeconfig (may be empty for
// commands that need no cluster), its state under home.
func New(kubeconfig, home string) (*CLI, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	return &CLI{Binary: bin, Kubeconfig: kubeconfig, Home: home}, nil
}

// Run runs helm with args and returns its standard output; on failure the
// error carries standard error.
func (c *CLI) Run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Binary, args...) //nolint:gosec // the helm we built, with the caller's arguments
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(c.Home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(c.Home, "config"),
		"HELM_DATA_HOME="+filepath.Join(c.Home, "data"),
	)
	if c.Kubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+c.Kubeconfig)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}
