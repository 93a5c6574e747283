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
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

func TestVersionIsStampedOrRecorded(t *testing.T) {
	saved := version
	t.Cleanup(func() { version = saved })
	version = "v9.9.9"
	if got := versionString(); got != "v9.9.9" {
		t.Fatalf("stamped version: %q", got)
	}
	version = ""
	if got := versionString(); got == "" {
		t.Fatal("no version at all")
	}
}

// runWith runs the manager's run with these arguments and a fresh flag
// set, as if started so.
func runWith(t *testing.T, args ...string) error {
	t.Helper()
	savedArgs, savedFlags := os.Args, flag.CommandLine
	t.Cleanup(func() { os.Args, flag.CommandLine = savedArgs, savedFlags })
	os.Args = append([]string{"manager"}, args...)
	flag.CommandLine = flag.NewFlagSet("manager", flag.ContinueOnError)
	return run()
}

// Lease timings client-go would refuse are refused before anything
// starts (no kubeconfig is even looked for), naming the flags.
func TestLeaseTimingFlagsAreValidatedAtStart(t *testing.T) {
	err := runWith(t, "--leader-elect", "--leader-election-namespace", "ns",
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "5s", "--leader-election-retry-period", "500ms")
	if err == nil || !strings.Contains(err.Error(), "--leader-election-renew-deadline (5s) must be shorter than --leader-election-lease-duration (4s)") {
		t.Fatalf("run() = %v", err)
	}
	err = runWith(t, "--leader-election-namespace", "ns", "--leader-election-retry-period", "0")
	if err == nil || !strings.Contains(err.Error(), "--leader-election-retry-period must be positive") {
		t.Fatalf("run() = %v", err)
	}
}

// The flags default to controller-runtime's own lease timings.
func TestLeaseTimingFlagsDefaultToControllerRuntimes(t *testing.T) {
	_ = runWith(t, "--version")
	for name, want := range map[string]time.Duration{
		"leader-election-lease-duration": 15 * time.Second,
		"leader-election-renew-deadline": 10 * time.Second,
		"leader-election-retry-period":   2 * time.Second,
	} {
		f := flag.CommandLine.Lookup(name)
		if f == nil {
			t.Fatalf("no flag --%s", name)
		}
		if f.DefValue != want.String() {
			t.Errorf("--%s defaults to %s, want %s", name, f.DefValue, want)
		}
	}
}
