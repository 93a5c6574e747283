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
	"slices"
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
	for _, args := range [][]string{{"--clients", "0"}, {"--clients", "1,600"}, {"--round", "2h"}, {"--rounds", "100"}, {"--modes", "bare", "--cpuprofile", "p"}} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// --clients takes one count or a list of them to sweep, in the order given.
func TestClientsIsOneCountOrAList(t *testing.T) {
	for in, want := range map[string][]int{"32": {32}, "1,2,4,8,16,32,64,128": {1, 2, 4, 8, 16, 32, 64, 128}, "64, 1": {64, 1}, "512": {512}} {
		if got, err := parseClients(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("parseClients(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "513", "1,,2", "1,2,1", "4,x", "-1", "1;2"} {
		if got, err := parseClients(in); err == nil {
			t.Errorf("parseClients(%q) = %v, accepted", in, got)
		}
	}
}

// With several client counts, ratios to the bare reference are per count:
// a round at 1 client is not compared with one at 64.
func TestSummaryIsPerClientCount(t *testing.T) {
	var out bytes.Buffer
	summarize(&out, []Result{
		{Mode: "bare", Round: 1, Clients: 1, ServerCPU: 100}, {Mode: "product", Round: 1, Clients: 1, ServerCPU: 150},
		{Mode: "bare", Round: 1, Clients: 64, ServerCPU: 200}, {Mode: "product", Round: 1, Clients: 64, ServerCPU: 220},
	})
	for _, want := range []string{"1 clients: server CPU", "product         1.50  (1.50-1.50)", "64 clients: server CPU", "product         1.10  (1.10-1.10)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
