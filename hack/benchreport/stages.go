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
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

const mod = "github.com/azure-authenticator/azure-authenticator/"

// stage is a part of the product server's work, recognised by prefixes of
// the function names on a sample's stack.
type stage struct {
	name   string
	covers string // for the report
	prefix []string
	// whole: the stage claims a sample wherever one of its frames is on
	// the stack, so that a feature's cost is the feature's even where it
	// is spent in shared code (the audit line's JSON, the metrics' maps).
	whole bool
}

const (
	stageGC    = "GC and runtime"
	stageOther = "other"
)

// stages, in the order of the report. A frame belongs to the first stage
// with one of its prefixes; frames of no stage (runtime, allocator, memmove,
// base64, sha2, bigmod, bufio, strconv, ...) are transparent: their cost
// goes to the stage of the nearest caller that has one, so that allocation
// and hashing count where they were asked for.
var stages = []stage{
	{name: "audit log", covers: "the audit line: building and marshalling it (written to io.Discard here)", whole: true,
		prefix: []string{mod + "authn.(*Handler).audit", mod + "authn.(*auditor)."}},
	{name: "metrics", covers: "Prometheus counters and histograms", whole: true,
		prefix: []string{"github.com/prometheus/", mod + "authn.(*Handler).count"}},
	{name: "TLS records", covers: "crypto/tls: records sealed and opened (AES-GCM); handshakes, were there any in a warmed-up round",
		prefix: []string{"crypto/tls."}},
	{name: "RS256 verification", covers: "crypto/rsa and what it calls (bigmod), the SHA-256 of the signed part",
		prefix: []string{"crypto/rsa.", "crypto/internal/fips140/rsa.", mod + "internal/azuread.verifySignature"}},
	{name: "access-token signature", covers: "Ed25519 signing and the access token's encoding, less its JSON",
		prefix: []string{"crypto/ed25519.", "crypto/internal/fips140/ed25519.", mod + "internal/accesstoken."}},
	{name: "JSON", covers: "encoding/json wherever a request calls it, but for the audit line",
		prefix: []string{"encoding/json."}},
	{name: "token parsing and claims", covers: "internal/azuread but for the RSA verification and encoding/json: splitting, base64, claims, checks, key lookup",
		prefix: []string{mod + "internal/azuread."}},
	{name: "policy index", covers: "internal/policy: the host and authenticator lookup",
		prefix: []string{mod + "internal/policy."}},
	{name: "HTTP server and routing", covers: "net/http, the form, authn's routing and responses",
		prefix: []string{"net/http.", "net/textproto.", "net/url.", "mime.", mod + "authn."}},
	{name: "network I/O", covers: "socket reads and writes: syscalls, the poller",
		prefix: []string{"syscall.", "internal/poll.", "net."}},
}

// gcFrames mark the collector's own work, in its background workers or as
// an allocation's assist: it is the price of all allocations together, not
// of the one that happened to pay it.
var gcFrames = []string{
	"runtime.gc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.(*scavengerState)", "runtime.wbBufFlush",
	"runtime.markroot", "runtime.scanobject", "runtime.scanstack",
}

// stageCPU is one stage's part of the profile.
type stageCPU struct {
	Name, Covers string
	Share        float64 // of all samples
}

// readProfile reads a CPU profile written by runtime/pprof.
func readProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return profile.Parse(f)
}

// byStage shares out a CPU profile's samples among the stages, GC and
// runtime, and other, in the order of stages.
func byStage(p *profile.Profile) ([]stageCPU, error) {
	vi := cpuIndex(p)
	if vi < 0 {
		return nil, errors.New("not a CPU profile")
	}
	sums := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		sums[attribute(frames(s))] += v
	}
	if total == 0 {
		return nil, errors.New("the profile has no samples")
	}
	var out []stageCPU
	for _, st := range stages {
		out = append(out, stageCPU{Name: st.name, Covers: st.covers, Share: float64(sums[st.name]) / float64(total)})
	}
	return append(out,
		stageCPU{Name: stageGC, Covers: "background mark and sweep workers, mark assists, the scheduler when no request frame is on the stack", Share: float64(sums[stageGC]) / float64(total)},
		stageCPU{Name: stageOther, Covers: "stacks with a non-runtime frame but none of the above", Share: float64(sums[stageOther]) / float64(total)}), nil
}

// cpuIndex is the index of the CPU time among a sample's values, or -1.
func cpuIndex(p *profile.Profile) int {
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			return i
		}
	}
	return -1
}

// frames is a sample's stack, leaf first, inlined calls included.
func frames(s *profile.Sample) []string {
	var fs []string
	for _, loc := range s.Location {
		for _, l := range loc.Line { // the innermost inlined call first
			if l.Function != nil {
				fs = append(fs, l.Function.Name)
			}
		}
	}
	return fs
}

// attribute names the stage of one stack (leaf first).
func attribute(stack []string) string {
	for _, f := range stack {
		if hasPrefix(f, gcFrames) {
			return stageGC
		}
	}
	for _, f := range stack {
		if st := stageOf(f); st != nil && st.whole {
			return st.name
		}
	}
	runtimeOnly := true
	for _, f := range stack {
		if st := stageOf(f); st != nil {
			return st.name
		}
		if !strings.HasPrefix(f, "runtime.") && !strings.HasPrefix(f, "internal/runtime/") {
			runtimeOnly = false
		}
	}
	if runtimeOnly {
		return stageGC
	}
	return stageOther
}

func stageOf(frame string) *stage {
	for i := range stages {
		if hasPrefix(frame, stages[i].prefix) {
			return &stages[i]
		}
	}
	return nil
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// explain prints, for each stage, the functions where its samples were
// spent (the leaf frames), for whoever tunes the stage patterns or looks
// for what to optimise.
func explain(w io.Writer, p *profile.Profile, top int) error {
	st, err := byStage(p)
	if err != nil {
		return err
	}
	vi := cpuIndex(p)
	leaves := map[string]map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		fs := frames(s)
		name, leaf := attribute(fs), "(no frame)"
		if len(fs) > 0 {
			leaf = fs[0]
		}
		if leaves[name] == nil {
			leaves[name] = map[string]int64{}
		}
		leaves[name][leaf] += s.Value[vi]
		total += s.Value[vi]
	}
	for _, x := range st {
		_, _ = fmt.Fprintf(w, "%5.1f%%  %s\n", 100*x.Share, x.Name)
		fns := slices.SortedFunc(maps.Keys(leaves[x.Name]), func(a, b string) int {
			return cmp.Or(cmp.Compare(leaves[x.Name][b], leaves[x.Name][a]), strings.Compare(a, b))
		})
		for _, f := range fns[:min(top, len(fns))] {
			_, _ = fmt.Fprintf(w, "        %5.1f%%  %s\n", 100*float64(leaves[x.Name][f])/float64(total), f)
		}
	}
	return nil
}
