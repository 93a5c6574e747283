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

package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// checkGolden compares got with testdata/golden/name byte for byte; with
// -update it rewrites the file first.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (-update rewrites it, after checking):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// runCapture runs the plugin with args and returns its exit code, output
// and error output.
func runCapture(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestUsageAndExitCodes(t *testing.T) {
	if code, _, errOut := runCapture(t, "", "no-such-command"); code != exitUsage || !strings.Contains(errOut, `unknown command "no-such-command"`) {
		t.Fatalf("unknown command: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCapture(t, ""); code != exitUsage || !strings.Contains(out, "Usage: kubectl azauthn") {
		t.Fatalf("no command: exit %d, %q", code, out)
	}
	code, out, _ := runCapture(t, "", "--help")
	if code != exitOK || !strings.Contains(out, "Exit codes:") {
		t.Fatalf("--help: exit %d, %q", code, out)
	}
	for _, c := range commands {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("the usage does not list %q", c.name)
		}
		if code, out, _ := runCapture(t, "", c.name, "--help"); code != exitOK || !strings.Contains(out, "Usage: kubectl azauthn "+c.name) {
			t.Errorf("%s --help: exit %d, %q", c.name, code, out)
		}
		if code, _, errOut := runCapture(t, "", c.name, "--no-such-flag"); code != exitUsage || !strings.Contains(errOut, "no-such-flag") {
			t.Errorf("%s --no-such-flag: exit %d, %q", c.name, code, errOut)
		}
	}
}
