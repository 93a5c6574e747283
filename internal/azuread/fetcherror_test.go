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

package azuread

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
)

// A short real timeout for the cases where the provider never answers;
// nothing asserts on time.
const shortTimeout = 300 * time.Millisecond

// When the fetch a request depended on failed, the answer is Conjur's:
// CONJ00010E for a timeout, CONJ00011E for anything else; an unknown kid
// with healthy keys stays CONJ00035E.
func TestFetchFailuresAnswerConjurCodes(t *testing.T) {
	k, unknown := rsaKey(t, 0), rsaKey(t, 1)
	cases := []struct {
		name   string
		loaded bool // keys fetched before the request
		break_ func(r *testRig)
		want   failure.Code
	}{
		{name: "first fetch times out", break_: func(r *testRig) { r.idp.hold() }, want: failure.ProviderDiscoveryTimeout},
		{name: "first fetch gets 503", break_: func(r *testRig) { r.idp.set(func(f *fakeIdP) { f.status = 503 }) }, want: failure.ProviderDiscoveryFailed},
		{name: "first fetch gets 503 for JWKS", break_: func(r *testRig) { r.idp.set(func(f *fakeIdP) { f.jwksStatus = 503 }) }, want: failure.ProviderDiscoveryFailed},
		{name: "first fetch meets an untrusted certificate", break_: func(r *testRig) { r.auth.Providers[0].CABundle = otherCAPEM(t) }, want: failure.ProviderDiscoveryFailed},
		{name: "forced refresh times out", loaded: true, break_: func(r *testRig) { r.idp.hold() }, want: failure.ProviderDiscoveryTimeout},
		{name: "forced refresh gets 503", loaded: true, break_: func(r *testRig) { r.idp.set(func(f *fakeIdP) { f.status = 503 }) }, want: failure.ProviderDiscoveryFailed},
		{name: "forced refresh gets 503 for JWKS", loaded: true, break_: func(r *testRig) { r.idp.set(func(f *fakeIdP) { f.jwksStatus = 503 }) }, want: failure.ProviderDiscoveryFailed},
		{name: "unknown kid after a good refresh", loaded: true, break_: func(*testRig) {}, want: failure.TokenDecodeFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Options{HTTPTimeout: shortTimeout}, k)
			kid := k
			if tc.loaded {
				if err := r.set(t).refreshNow(context.Background()); err != nil {
					t.Fatal(err)
				}
				r.clock.Step(time.Minute) // past the forced-refresh floor
				kid = unknown
			}
			tc.break_(r)
			_, err := r.v.Verify(context.Background(), r.auth, r.idp.sign(kid, r.clock.Now()))
			if got := codeOf(err); got != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			if tc.loaded && tc.want != failure.TokenDecodeFailed {
				// Within the floor now: no fetch, so the unknown kid is
				// just unknown.
				r.idp.release()
				r.idp.set(func(f *fakeIdP) { f.status, f.jwksStatus = 0, 0 })
				if _, err := r.v.Verify(context.Background(), r.auth, r.idp.sign(unknown, r.clock.Now())); codeOf(err) != failure.TokenDecodeFailed {
					t.Fatalf("within the floor: got %v, want CONJ00035E", err)
				}
			}
		})
	}
}

// A provider that never had keys answers from its last failure without
// fetching again before the retry interval: a timeout still says
// CONJ00010E.
func TestProviderWithoutKeysAnswersItsLastFailure(t *testing.T) {
	k := rsaKey(t, 0)
	r := newRig(t, Options{HTTPTimeout: shortTimeout}, k)
	r.idp.hold()
	token := r.idp.sign(k, r.clock.Now())
	if _, err := r.v.Verify(context.Background(), r.auth, token); codeOf(err) != failure.ProviderDiscoveryTimeout {
		t.Fatalf("first: got %v", err)
	}
	rec := newWaitRecorder(1)
	if _, err := r.v.Verify(rec.ctx(context.Background()), r.auth, token); codeOf(err) != failure.ProviderDiscoveryTimeout {
		t.Fatalf("second: got %v, want CONJ00010E", err)
	}
	if rec.calls.Load() != 0 {
		t.Fatal("waited for a fetch before the retry interval")
	}
	r.idp.release()
	r.idp.set(func(f *fakeIdP) { f.status = 503 })
	r.clock.Step(30 * time.Second)
	if _, err := r.v.Verify(context.Background(), r.auth, token); codeOf(err) != failure.ProviderDiscoveryFailed {
		t.Fatalf("after a 503: got %v, want CONJ00011E", err)
	}
	if _, err := r.v.Verify(context.Background(), r.auth, token); codeOf(err) != failure.ProviderDiscoveryFailed {
		t.Fatalf("without a new fetch: got %v, want CONJ00011E", err)
	}
}

// Fetch errors are typed: the stage and the timeout are fields, and the
// client-safe texts come from them, whatever the error's wording.
func TestFetchErrorsAreClassifiedByType(t *testing.T) {
	cases := []struct {
		name    string
		break_  func(r *testRig)
		stage   FetchStage
		timeout bool
		generic string
	}{
		{"discovery 503", func(r *testRig) { r.idp.set(func(f *fakeIdP) { f.status = 503 }) }, StageDiscovery, false, "OIDC discovery failed"},
		{"jwks 503", func(r *testRig) { r.idp.set(func(f *fakeIdP) { f.jwksStatus = 503 }) }, StageJWKS, false, "fetching the signing keys failed"},
		{"no usable key", func(r *testRig) { r.idp.publish() }, StageJWKS, false, "fetching the signing keys failed"},
		{"impostor issuer", func(r *testRig) {
			r.idp.set(func(f *fakeIdP) { f.claimIssuer = "https://sts.windows.net/" + f.tenant + "/" })
		}, StageDiscovery, false, "OIDC discovery failed"},
		{"untrusted certificate", func(r *testRig) {}, StageDiscovery, false, "TLS failure reaching the provider"},
		{"timeout", func(r *testRig) { r.idp.hold() }, StageDiscovery, true, "timed out reaching the provider"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Options{HTTPTimeout: shortTimeout}, rsaKey(t, 0))
			p := r.idp.provider()
			if tc.name == "untrusted certificate" {
				p.CABundle = otherCAPEM(t)
			}
			tc.break_(r)
			set, err := r.ks.ensure(p)
			if err != nil {
				t.Fatal(err)
			}
			err = set.refreshNow(context.Background())
			var fe *FetchError
			if !errors.As(err, &fe) || fe.Stage != tc.stage || fe.Timeout != tc.timeout {
				t.Fatalf("got %#v, want stage %s, timeout %v", err, tc.stage, tc.timeout)
			}
			if h := r.ks.Health(p); h.Err != tc.generic {
				t.Fatalf("health reason %q, want %q", h.Err, tc.generic)
			}
		})
	}
	// Wording alone classifies nothing.
	for err, want := range map[error]string{
		errors.New("jwks: HTTP 503"): "the provider could not be reached",
		&FetchError{Stage: StageDiscovery, Err: errors.New("GET https://tls.x509.example/: HTTP 503")}: "OIDC discovery failed",
		&FetchError{Stage: StageJWKS, Err: context.DeadlineExceeded, Timeout: true}:                    "timed out reaching the provider",
	} {
		if got := genericFetchError(err); got != want {
			t.Errorf("genericFetchError(%v) = %q, want %q", err, got, want)
		}
	}
}
