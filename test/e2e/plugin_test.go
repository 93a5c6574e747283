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
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// The plugin is built once per run of this package, as `make build` builds
// it, and removed when the package's tests end (runMain).
var plugin struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	took time.Duration
}

// pluginBinary is the path of the built kubectl-azauthn.
func pluginBinary(t *testing.T) string {
	t.Helper()
	plugin.once.Do(func() {
		start := time.Now()
		if plugin.dir, plugin.err = os.MkdirTemp("", "kubectl-azauthn-"); plugin.err != nil {
			return
		}
		plugin.bin = filepath.Join(plugin.dir, "kubectl-azauthn")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", plugin.bin, "./cmd/kubectl-azauthn")
		cmd.Dir = testenv.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			plugin.err = &buildError{err: err, out: string(out)}
		}
		plugin.took = time.Since(start)
	})
	if plugin.err != nil {
		t.Fatalf("building kubectl-azauthn: %v", plugin.err)
	}
	t.Logf("kubectl-azauthn built once for this package in %v", plugin.took.Round(time.Millisecond))
	return plugin.bin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// removePlugin deletes the built plugin, if any.
func removePlugin() {
	if plugin.dir != "" {
		_ = os.RemoveAll(plugin.dir)
	}
}
