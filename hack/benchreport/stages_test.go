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
	"math"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// Stacks as runtime/pprof records them, leaf first.
var (
	jsonAlloc = []string{"runtime.mallocgc", "runtime.newobject", "encoding/json.(*decodeState).object", "encoding/json.Unmarshal",
		mod + "internal/azuread.parseToken", mod + "authn.(*Handler).authenticate", "net/http.(*conn).serve", "runtime.goexit"}
	rsaLeaf = []string{"crypto/internal/fips140/bigmod.addMulVVW2048", "crypto/internal/fips140/bigmod.(*Nat).montgomeryMul",
		"crypto/internal/fips140/rsa.VerifyPKCS1v15", "crypto/rsa.VerifyPKCS1v15", mod + "internal/azuread.verifySignature",
		mod + "internal/azuread.(*Verifier).Verify", "runtime.goexit"}
	gcWorker = []string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker.func2", "runtime.systemstack", "runtime.gcBgMarkWorker", "runtime.goexit"}
)

// Each stack goes to one stage: the nearest frame that has one, passing
// over the allocator, hashing and bigmod; the collector's work and the
// audit log whatever lies between.
func TestAttributeTakesTheNearestStagePassingOverHelpers(t *testing.T) {
	for _, c := range []struct {
		want  string
		stack []string
	}{
		{"JSON", jsonAlloc},
		{"RS256 verification", rsaLeaf},
		{"RS256 verification", []string{"crypto/internal/fips140/sha256.blockSHANI", "crypto/internal/fips140/sha256.(*Digest).Write",
			"crypto/sha256.Sum256", mod + "internal/azuread.verifySignature", mod + "internal/azuread.(*Verifier).Verify"}},
		{"token parsing and claims", []string{"encoding/base64.(*Encoding).decodeQuantum", "encoding/base64.(*Encoding).Decode",
			mod + "internal/azuread.parseToken", mod + "authn.(*Handler).authenticate"}},
		{"access-token signature", []string{"runtime.asyncPreempt", "crypto/internal/fips140/edwards25519/field.feMul",
			"crypto/internal/fips140/edwards25519.(*Point).ScalarBaseMult", "crypto/internal/fips140/ed25519.sign", "crypto/ed25519.Sign",
			mod + "internal/accesstoken.Sign", mod + "authn.(*Handler).issue"}},
		{"TLS records", []string{"runtime.memmove", "crypto/internal/fips140/aes/gcm.gcmAesEnc", "crypto/tls.(*Conn).write", "net/http.(*response).finishRequest"}},
		{"network I/O", []string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.write", "internal/poll.(*FD).Write",
			"net.(*netFD).Write", "crypto/tls.(*Conn).write", "net/http.(*conn).serve"}},
		{"HTTP server and routing", []string{"runtime.memclrNoHeapPointers", "runtime.mallocgc", "net/http.readRequest", "net/http.(*conn).serve"}},
		{"policy index", []string{"runtime.mapaccess2_faststr", mod + "internal/policy.(*Index).Decide", mod + "authn.(*Handler).authenticate"}},
		{"audit log", []string{"encoding/json.(*encodeState).marshal", "encoding/json.Marshal", mod + "authn.(*auditor).record",
			mod + "authn.(*Handler).audit", mod + "authn.(*Handler).respond", "net/http.(*conn).serve"}},
		{"metrics", []string{"github.com/prometheus/client_golang/prometheus.(*histogram).Observe", mod + "authn.(*Handler).count", mod + "authn.(*Handler).respond"}},
		{stageGC, gcWorker},
		{stageGC, []string{"runtime.gcDrainN", "runtime.gcAssistAlloc1", "runtime.gcAssistAlloc", "runtime.mallocgc", "encoding/json.Unmarshal"}},
		{stageGC, []string{"runtime.futex", "runtime.findRunnable", "runtime.schedule", "runtime.park_m", "runtime.mcall"}},
		{stageGC, nil},
		{stageOther, []string{"bufio.(*Scanner).Scan", "main.serve.func1", "runtime.goexit"}},
	} {
		if got := attribute(c.stack); got != c.want {
			t.Errorf("%s: %q, want %q", strings.Join(c.stack, " < "), got, c.want)
		}
	}
}

// handProfile is a CPU profile with one sample per stack, of ms
// milliseconds each; a stack's first two frames are one location, the
// first inlined into the second, as the compiler records inlining.
func handProfile(stacks [][]string, ms []int64) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10_000_000, DurationNanos: 3e9,
	}
	fns := map[string]*profile.Function{}
	fn := func(name string) *profile.Function {
		if fns[name] == nil {
			fns[name] = &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name}
			p.Function = append(p.Function, fns[name])
		}
		return fns[name]
	}
	for i, stack := range stacks {
		s := &profile.Sample{Value: []int64{ms[i] / 10, ms[i] * 1e6}}
		for j := 0; j < len(stack); j++ {
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Address: uint64(0x1000 + len(p.Location))}
			loc.Line = append(loc.Line, profile.Line{Function: fn(stack[j])})
			if j == 0 && len(stack) > 1 {
				j++
				loc.Line = append(loc.Line, profile.Line{Function: fn(stack[j])})
			}
			p.Location = append(p.Location, loc)
			s.Location = append(s.Location, loc)
		}
		p.Sample = append(p.Sample, s)
	}
	return p
}

// Shares are of CPU time, every stage listed in order, GC and other last,
// and survive runtime/pprof's file format.
func TestByStageSharesOutTheCPUTime(t *testing.T) {
	p := handProfile([][]string{rsaLeaf, jsonAlloc, gcWorker, rsaLeaf}, []int64{30, 20, 10, 40})
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	parsed, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	st, err := byStage(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != len(stages)+2 || st[len(st)-2].Name != stageGC || st[len(st)-1].Name != stageOther {
		t.Fatalf("stages %+v", st)
	}
	want := map[string]float64{"RS256 verification": 0.7, "JSON": 0.2, stageGC: 0.1}
	sum := 0.0
	for _, x := range st {
		sum += x.Share
		if math.Abs(x.Share-want[x.Name]) > 1e-9 {
			t.Errorf("%s: %.3f, want %.3f", x.Name, x.Share, want[x.Name])
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("shares add up to %f", sum)
	}
	if _, err := byStage(&profile.Profile{SampleType: []*profile.ValueType{{Type: "alloc_space", Unit: "bytes"}}}); err == nil {
		t.Error("a heap profile was taken for a CPU profile")
	}
	var out bytes.Buffer
	if err := explain(&out, parsed, 3); err != nil || !strings.Contains(out.String(), " 70.0%  RS256 verification\n") ||
		!strings.Contains(out.String(), "crypto/internal/fips140/bigmod.addMulVVW2048") {
		t.Errorf("explain: %v\n%s", err, out.String())
	}
}
