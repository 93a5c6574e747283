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
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// Every way Verify can refuse a token before the real signature check pays
// exactly one dummy verification, as a success or a bad signature pays
// one real one: the time of an answer does not tell which check refused.
func TestEveryRejectionPaysExactlyOneVerification(t *testing.T) {
	rsa0, ec0 := rsaKey(t, 0), ecKey(t)
	r := newRig(t, Options{}, rsa0, ec0)
	r.idp.set(func(f *fakeIdP) { f.algs = []string{"RS256", "ES256"} })
	if err := r.set(t).refreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	down := newFakeIdP(t, rsa0)
	down.set(func(f *fakeIdP) { f.status = 503 })
	badCA := policy.Provider{Issuer: "https://127.0.0.1:1/" + r.idp.tenant + "/", TenantID: r.idp.tenant, CABundle: []byte("not PEM")}

	now := r.clock.Now()
	claims := r.idp.claims(now)
	hdr := func(h map[string]any) string {
		out := map[string]any{"typ": "JWT", "alg": "RS256", "kid": rsa0.id}
		for k, v := range h {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return azuretest.Segment(out)
	}
	withClaims := func(change map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		for k, v := range change {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	good := r.idp.sign(rsa0, now)
	parts := strings.Split(good, ".")
	sig := parts[2]

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name  string
		auth  *policy.Authenticator
		ctx   context.Context
		token func() string
		code  failure.Code // "" for a context error
		ok    bool
	}{
		{name: "too long", token: func() string { return strings.Repeat("a", MaxTokenBytes+1) }, code: failure.RequestBodyMissingJWTToken},
		{name: "two parts", token: func() string { return parts[0] + "." + parts[1] }, code: failure.RequestBodyMissingJWTToken},
		{name: "five parts (JWE)", token: func() string { return "a.b.c.d.e" }, code: failure.RequestBodyMissingJWTToken},
		{name: "empty signature", token: func() string { return parts[0] + "." + parts[1] + "." }, code: failure.RequestBodyMissingJWTToken},
		{name: "header not base64url", token: func() string { return "!!." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "payload not base64url", token: func() string { return parts[0] + ".!!." + sig }, code: failure.TokenDecodeFailed},
		{name: "header not JSON", token: func() string { return b64("nope") + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "header carries jwk", token: func() string {
			return hdr(map[string]any{"jwk": map[string]any{"kty": "RSA"}}) + "." + parts[1] + "." + sig
		}, code: failure.TokenDecodeFailed},
		{name: "header carries crit", token: func() string { return hdr(map[string]any{"crit": []string{"exp"}}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "alg HS256", token: func() string { return hdr(map[string]any{"alg": "HS256"}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "alg none", token: func() string { return hdr(map[string]any{"alg": "none"}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "no kid", token: func() string { return hdr(map[string]any{"kid": nil}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "payload not an object", token: func() string { return parts[0] + "." + b64("[1]") + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "no iss", token: func() string {
			return parts[0] + "." + azuretest.Segment(withClaims(map[string]any{"iss": nil})) + "." + sig
		}, code: failure.TokenClaimNotFoundOrEmpty},
		{name: "iss not a string", token: func() string {
			return parts[0] + "." + azuretest.Segment(withClaims(map[string]any{"iss": 7})) + "." + sig
		}, code: failure.TokenClaimNotFoundOrEmpty},
		{name: "foreign iss", token: func() string {
			return parts[0] + "." + azuretest.Segment(withClaims(map[string]any{"iss": "https://sts.windows.net/" + r.idp.tenant + "/"})) + "." + sig
		}, code: failure.TokenDecodeFailed},
		{name: "provider down", auth: authenticatorFor(down.provider()), token: func() string {
			return r.idp.signWith(rsa0, map[string]any{"alg": "RS256", "kid": rsa0.id}, withClaims(map[string]any{"iss": down.issuer()}))
		}, code: failure.ProviderDiscoveryFailed},
		{name: "unusable caBundle", auth: authenticatorFor(badCA), token: func() string {
			return r.idp.signWith(rsa0, map[string]any{"alg": "RS256", "kid": rsa0.id}, withClaims(map[string]any{"iss": badCA.Issuer}))
		}, code: failure.ProviderDiscoveryFailed},
		{name: "alg not advertised", token: func() string { return hdr(map[string]any{"alg": "PS256"}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "unknown kid after a forced refresh", token: func() string { return hdr(map[string]any{"kid": "nope"}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "unknown kid within the floor", token: func() string { return hdr(map[string]any{"kid": "still-nope"}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "RSA key under ES256", token: func() string { return hdr(map[string]any{"alg": "ES256"}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "EC key under RS256", token: func() string { return hdr(map[string]any{"kid": ec0.id}) + "." + parts[1] + "." + sig }, code: failure.TokenDecodeFailed},
		{name: "RSA signature too short", token: func() string { return parts[0] + "." + parts[1] + "." + b64("short") }, code: failure.TokenDecodeFailed},
		{name: "RSA signature not below the modulus", token: func() string {
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 256))
		}, code: failure.TokenDecodeFailed},
		{name: "signature not base64url", token: func() string { return parts[0] + "." + parts[1] + ".***" }, code: failure.TokenDecodeFailed},
		{name: "caller gone", ctx: cancelled, token: func() string {
			r.clock.Step(time.Minute)
			return hdr(map[string]any{"kid": "gone"}) + "." + parts[1] + "." + sig
		}},
		// Past the signature check: one real verification, nothing more.
		{name: "bad signature", token: func() string {
			return parts[0] + "." + azuretest.Segment(withClaims(map[string]any{"oid": "other"})) + "." + sig
		}, code: failure.TokenDecodeFailed},
		{name: "expired", token: func() string {
			return r.idp.signWith(rsa0, map[string]any{"alg": "RS256", "kid": rsa0.id}, withClaims(map[string]any{"exp": now.Add(-time.Hour).Unix()}))
		}, code: failure.TokenExpired},
		{name: "valid RS256", token: func() string { return good }, ok: true},
		{name: "valid ES256", token: func() string { return r.idp.sign(ec0, now) }, ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			parent := tc.ctx
			if parent == nil {
				parent = context.Background()
			}
			auth := tc.auth
			if auth == nil {
				auth = r.auth
			}
			_, err := r.v.Verify(WithVerificationCounter(parent, &n), auth, tc.token())
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && tc.code == "" && !errors.Is(err, context.Canceled):
				t.Fatalf("got %v, want the caller's context error", err)
			case !tc.ok && tc.code != "" && codeOf(err) != tc.code:
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			if got := n.Load(); got != 1 {
				t.Fatalf("%d signature verifications, want exactly 1", got)
			}
		})
	}
}

// Signatures of a shape the key cannot make are refused before the real
// check (whose refusal of them would be nearly free), and so pay the dummy.
func TestSignatureFits(t *testing.T) {
	rsaPub := rsaKey(t, 0).priv.Public().(*rsa.PublicKey)
	ecPub := ecKey(t).priv.Public().(*ecdsa.PublicKey)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	below := make([]byte, 256)
	below[0] = 0x01
	n := ecPub.Params().N.FillBytes(make([]byte, 32))
	one := big.NewInt(1).FillBytes(make([]byte, 32))
	for _, tc := range []struct {
		name string
		key  crypto.PublicKey
		sig  []byte
		want bool
	}{
		{"RSA, right size", rsaPub, below, true},
		{"RSA, short", rsaPub, below[:255], false},
		{"RSA, long", rsaPub, append(below, 0), false},
		{"RSA, not below N", rsaPub, bytes.Repeat([]byte{0xff}, 256), false},
		{"EC, in range", ecPub, append(one, one...), true},
		{"EC, r zero", ecPub, append(make([]byte, 32), one...), false},
		{"EC, s = N", ecPub, append(one, n...), false},
		{"EC, short", ecPub, one, false},
		{"Ed25519, right size", edPub, make([]byte, 64), true},
		{"Ed25519, high bits", edPub, append(make([]byte, 63), 0xe0), false},
		{"Ed25519, short", edPub, make([]byte, 63), false},
		{"unknown key type", "key", make([]byte, 64), false},
	} {
		if got := signatureFits(tc.key, tc.sig); got != tc.want {
			t.Errorf("%s: signatureFits = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// DummyVerify counts as one verification, like a real one.
func TestDummyVerifyCounts(t *testing.T) {
	var n atomic.Int64
	ctx := WithVerificationCounter(context.Background(), &n)
	DummyVerify(ctx, "a.b.c")
	DummyVerify(context.Background(), "a.b.c") // no counter: nothing to count
	if n.Load() != 1 {
		t.Fatalf("count = %d", n.Load())
	}
}

// BenchmarkVerifyRejections compares a refusal before the signature check
// with a full verification; their times should be of the same order.
func BenchmarkVerifyRejections(b *testing.B) {
	azure := azuretest.NewServer()
	defer azure.Close()
	tenant := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	p := policy.Provider{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}
	ks := NewKeySets(Options{DialContext: loopback.DialContext})
	set, err := ks.ensure(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := set.refreshNow(context.Background()); err != nil {
		b.Fatal(err)
	}
	v := &Verifier{Keys: ks}
	auth := authenticatorFor(p)
	claims := azure.Claims(azuretest.VM(tenant, "0f4c6c8e-7c31-4a39-8f2d-2f8e3b5a1d90", "rg", "vm-1"), azuretest.TokenOptions{})
	good := azure.Sign(claims)
	parts := strings.Split(good, ".")
	foreign := map[string]any{}
	for k, val := range claims {
		foreign[k] = val
	}
	foreign["iss"] = "https://sts.windows.net/" + tenant + "/"
	cases := []struct {
		name, token string
		ok          bool
	}{
		{"full-verify", good, true},
		{"reject-foreign-issuer", parts[0] + "." + azuretest.Segment(foreign) + "." + parts[2], false},
		{"reject-unknown-kid", azure.SignWithHeader(map[string]any{"alg": "RS256", "kid": "nope"}, claims), false},
		{"reject-malformed", "x.y.z", false},
		{"reject-short-signature", parts[0] + "." + parts[1] + "." + parts[2][:40], false},
		{"dummy-only", "", false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if tc.token == "" {
					DummyVerify(ctx, good)
					continue
				}
				_, err := v.Verify(ctx, auth, tc.token)
				if (err == nil) != tc.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
