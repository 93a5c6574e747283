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
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"sync/atomic"
)

// dummyKeyPEM is an RSA-2048 public key whose private half was thrown away,
// and dummySignature a signature it made over another message: verifying
// one costs what verifying a real RS256 token costs (the modular
// exponentiation runs in full and the comparison fails at the end).
const (
	dummyKeyPEM = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuIvQul+/JrSF0NJEKCR6
HTAeDahEQlViS1Dwo4ZjpfPDIFrQ9PTSnGpu8WAbU8j5dvZ0lTQs2JtPOj676Yke
Ef2N3P5WdZf3j4WgXZqSTy2LSTACw19mUr/5nQz2ae15nu4sZKZtPP1sRyY0i5C3
PsG0gKvqAVfIwGQ9ZkdUGT+cGp1LewwBzQ6RNU67lrdV7IwcNckwB07rCuFcVB5e
74aGMpXYW/bPP3536PADfoBfuHxAEANOp95t1tTt6GFzCDPzMbktvFbepXwP5A9c
E2F9Bg7rKJjhKqtynTfszi+ILfC+U0Aac2mI9LzoALKVUImWVVSyW8hF5eyoWIbO
pwIDAQAB
-----END PUBLIC KEY-----
`
	dummySignatureB64 = "XOrjnr69HHtFNuG5IGHcZyV0VG1Z6R0RVRixVPp38XyTucw4zQ2zU3af2oHFGcdJuhMf2rg7CJidpfbty+ZsAFe80O1dOMA+QsPzuDA1se+Jt7coY2eSgo56o0MvpKrRgf0R3Bf6zc9lgmWm8Dhu1eaMZL7HWcS31w+E/xrIB9gGhIhuKPI6Eg4AmJBRm/MxeU1iiwl+QWRcY6F4jxVIKU0OvpSCbI1efROuQzTOwY7o29k3cYrx5ZHbpBaoHSUmDLMo4x7fiu/38V3xBLepPoxKxtiHR9O0ejoRU5+21sJ0UmjJ1/ecsn4glf2aDS1YPV6+b0X2ZT1EEQk5IwpOmQ=="
)

var dummyKey, dummySignature = mustDummy()

// mustDummy parses constants: it fails only if the source is edited wrong,
// and then at start-up rather than on the first rejected request.
func mustDummy() (*rsa.PublicKey, []byte) {
	block, _ := pem.Decode([]byte(dummyKeyPEM))
	if block == nil {
		panic("azuread: dummy key is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		panic("azuread: dummy key: " + err.Error())
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok || key.N.BitLen() != 2048 {
		panic("azuread: dummy key is not RSA-2048")
	}
	sig, err := base64.StdEncoding.DecodeString(dummySignatureB64)
	if err != nil || len(sig) != 256 {
		panic("azuread: dummy signature is not 256 bytes of base64")
	}
	return key, sig
}

// DummyVerify does the work of one RS256 signature verification over raw
// and throws the result away. A refusal that happens before the real
// signature check (unknown service, account or issuer, malformed token,
// unknown key...) pays it, so that the time of an answer does not tell a
// caller without a valid token which check refused it.
//
// It also parses raw as the real path does before it verifies (parseToken:
// the header and the claims), so that an unknown service costs what a known
// one costs for the same token; the remaining difference is measured by
// BenchmarkRefusalTimings in package authn.
func DummyVerify(ctx context.Context, raw string) {
	input := raw
	if t, err := parseToken(raw); err == nil {
		input = t.signingInput
	}
	dummyVerify(ctx, input)
}

// dummyVerify is the verification half of DummyVerify, for a token the
// caller has parsed already.
func dummyVerify(ctx context.Context, input string) {
	countVerification(ctx)
	sum := sha256.Sum256([]byte(input))
	_ = rsa.VerifyPKCS1v15(dummyKey, crypto.SHA256, sum[:], dummySignature)
}

type verificationCounterKey struct{}

// WithVerificationCounter returns a context in which every signature
// verification (real or dummy) adds one to n: tests assert that each path
// pays exactly one, instead of measuring time.
func WithVerificationCounter(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, verificationCounterKey{}, n)
}

func countVerification(ctx context.Context) {
	if n, _ := ctx.Value(verificationCounterKey{}).(*atomic.Int64); n != nil {
		n.Add(1)
	}
}
