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
	"os"
	"strings"
	"testing"
	"time"
)

// The server's CPU comes from /proc: it grows with work done.
func TestCPUOfReadsProc(t *testing.T) {
	before := cpuOf(os.Getpid())
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); { //nolint:revive // burn CPU
	}
	if after := cpuOf(os.Getpid()); after <= before {
		t.Fatalf("CPU time went from %v to %v after 50 ms of work", before, after)
	}
	if cpuOf(-1) != 0 {
		t.Fatal("a process that does not exist has CPU time")
	}
}

// Ratios are per round, to the bare reference of the same round.
func TestSummaryIsPerRoundRatioToBare(t *testing.T) {
	var out bytes.Buffer
	summarize(&out, []Result{
		{Mode: "bare", Round: 1, ServerCPU: 100}, {Mode: "product", Round: 1, ServerCPU: 120},
		{Mode: "bare", Round: 2, ServerCPU: 200}, {Mode: "product", Round: 2, ServerCPU: 220},
		{Mode: "bare", Round: 3, ServerCPU: 100}, {Mode: "product", Round: 3, ServerCPU: 130},
	})
	if !strings.Contains(out.String(), "product         1.20  (1.10-1.30)") {
		t.Fatalf("summary:\n%s", out.String())
	}
}

// Flags out of range are refused before anything starts.
func TestFlagsAreBounded(t *testing.T) {
	for _, args := range [][]string{{"--clients", "0"}, {"--round", "2h"}, {"--rounds", "100"}} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
