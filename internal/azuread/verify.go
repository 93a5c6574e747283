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
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/clock"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// MaxTokenBytes bounds the token text we look at.
const MaxTokenBytes = 16 << 10

// Verifier checks Azure tokens for an authenticator.
type Verifier struct {
	Keys  *KeySets
	Clock clock.PassiveClock // [the real clock]
}

func (v *Verifier) now() time.Time {
	if v.Clock == nil {
		return time.Now()
	}
	return v.Clock.Now()
}

// Claims are the verified claims a decision needs.
type Claims struct {
	Issuer    string
	Version   string
	TenantID  string
	Audience  string // the accepted one
	ObjectID  string
	MIRID     string
	AzRID     string // empty when absent
	IssuedAt  time.Time
	NotBefore time.Time // zero when absent
	Expiry    time.Time
}

// forbiddenHeaders carry their own key or demand extensions: never trust them.
var forbiddenHeaders = []string{"jwk", "jku", "x5u", "x5c", "crit"}

// Verify checks raw against the authenticator's providers and returns its
// claims, or a *failure.Error saying why not (or, if ctx ended while it
// waited for a key fetch, an error wrapping ctx's). Every call pays exactly
// one signature verification, real or dummy, whatever refuses the token.
func (v *Verifier) Verify(ctx context.Context, a *policy.Authenticator, raw string) (*Claims, error) {
	jws, key, provider, kid, err := v.prepare(ctx, a, raw)
	if err != nil {
		DummyVerify(ctx, raw)
		return nil, err
	}
	countVerification(ctx)
	verified, err := jws.Verify(key)
	if err != nil {
		return nil, failure.New(failure.TokenDecodeFailed, "signature does not verify with the provider's key "+kid)
	}
	return v.checkClaims(a, provider, verified)
}

// prepare does everything before the signature check: parse the token,
// pick the provider by its unverified iss, and find the key.
func (v *Verifier) prepare(ctx context.Context, a *policy.Authenticator, raw string) (*jose.JSONWebSignature, crypto.PublicKey, policy.Provider, string, error) {
	var none policy.Provider
	header, payload, err := splitCompact(raw)
	if err != nil {
		return nil, nil, none, "", err
	}
	alg, kid, err := checkHeader(header)
	if err != nil {
		return nil, nil, none, "", err
	}
	// The issuer picks the provider whose keys may verify the token; the
	// unverified iss is trusted only that far.
	var unverified struct {
		Issuer any `json:"iss"`
	}
	if err := json.Unmarshal(payload, &unverified); err != nil {
		return nil, nil, none, "", failure.New(failure.TokenDecodeFailed, "payload is not a JSON object")
	}
	iss, ok := unverified.Issuer.(string)
	if !ok || iss == "" {
		return nil, nil, none, "", failure.New(failure.TokenClaimNotFoundOrEmpty, "no iss", "iss")
	}
	provider, ok := providerFor(a, iss)
	if !ok {
		return nil, nil, none, "", failure.New(failure.TokenDecodeFailed, fmt.Sprintf("issuer %q is not a provider of authenticator %s", iss, a.ServiceID))
	}
	key, err := v.key(ctx, provider, alg, kid)
	if err != nil {
		return nil, nil, none, "", err
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, nil, none, "", failure.New(failure.TokenDecodeFailed, "not a single-signature compact JWS")
	}
	if !signatureFits(key, jws.Signatures[0].Signature) {
		return nil, nil, none, "", failure.New(failure.TokenDecodeFailed, "signature cannot have been made with the provider's key "+kid)
	}
	return jws, key, provider, kid, nil
}

// signatureFits reports whether sig has the shape a signature by key must
// have. The verifiers refuse other shapes before any arithmetic, in next to
// no time, so such a token would be answered faster than an unknown
// service (which pays a full dummy verification): it is refused here, and
// pays the dummy verification like every other early refusal.
func signatureFits(key crypto.PublicKey, sig []byte) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return len(sig) == (k.N.BitLen()+7)/8 && new(big.Int).SetBytes(sig).Cmp(k.N) < 0
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		n := k.Curve.Params().N
		return r.Sign() > 0 && s.Sign() > 0 && r.Cmp(n) < 0 && s.Cmp(n) < 0
	case ed25519.PublicKey:
		return len(sig) == ed25519.SignatureSize && sig[63]&224 == 0
	}
	return false
}

// key finds the verification key for kid. A provider never fetched yet
// (a brand-new authenticator) is fetched now rather than failing every
// request until the background loop comes by; an unknown kid forces one
// refresh (rate-limited) and is looked up again in the same request. When
// the fetch the request depended on failed, the answer is Conjur's
// discovery failure (CONJ00010E on a timeout, CONJ00011E otherwise).
func (v *Verifier) key(ctx context.Context, p policy.Provider, alg, kid string) (crypto.PublicKey, error) {
	set, err := v.Keys.ensure(p)
	if err != nil {
		return nil, failure.New(failure.ProviderDiscoveryFailed, "unusable provider: "+err.Error(), p.Issuer)
	}
	key, algs, found, fetched := set.lookup(kid)
	waited := false // for a fetch that ended during this request
	if !fetched {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("before fetching the keys of %s: %w", p.Issuer, err)
		}
		cause := set.lastError() // without a fetch now: why the last one failed
		if c := set.fetchIfDue(v.Keys.opts.Clock.Now()); c != nil {
			if err := set.wait(ctx, c); err != nil {
				return nil, waitFailure(err, p.Issuer, "first key fetch")
			}
			waited, cause = true, c.err
			key, algs, found, fetched = set.lookup(kid)
		}
		if !fetched {
			return nil, fetchFailure(cause, p.Issuer, "no keys")
		}
	}
	// An alg the provider does not advertise cannot force a refresh.
	if !slices.Contains(algs, alg) {
		return nil, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("alg %s is not advertised by the provider (%v)", alg, algs))
	}
	if !found && !waited { // keys fetched a moment ago need no second fetch
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("before refreshing the keys of %s: %w", p.Issuer, err)
		}
		if c := set.forceFetch(v.Keys.opts.Clock.Now()); c != nil {
			if err := set.wait(ctx, c); err != nil {
				return nil, waitFailure(err, p.Issuer, "refresh for unknown kid "+kid)
			}
			if c.err != nil {
				return nil, fetchFailure(c.err, p.Issuer, "refresh for unknown kid "+kid)
			}
			key, algs, found, _ = set.lookup(kid)
		}
	}
	if !found {
		return nil, failure.New(failure.TokenDecodeFailed, "unknown key id "+kid)
	}
	if !slices.Contains(algs, alg) { // the refresh may have changed them
		return nil, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("alg %s is not advertised by the provider (%v)", alg, algs))
	}
	if !keyFitsAlg(key, alg) {
		return nil, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("key %s does not fit alg %s", kid, alg))
	}
	return key, nil
}

// waitFailure is the answer of a caller that stopped waiting for a fetch:
// its own context's error, or the bound on the wait as a timeout.
func waitFailure(err error, issuer, what string) error {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fetchFailure(err, issuer, what)
	}
	return err
}

func keyFitsAlg(key crypto.PublicKey, alg string) bool {
	switch key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// providerFor finds the authenticator's provider named by iss. A trailing
// slash on either side does not matter (Conjur normalises provider URIs the
// same way); everything else must be equal.
func providerFor(a *policy.Authenticator, iss string) (policy.Provider, bool) {
	want := strings.TrimSuffix(iss, "/")
	for _, p := range a.Providers {
		if strings.TrimSuffix(p.Issuer, "/") == want {
			return p, true
		}
	}
	return policy.Provider{}, false
}

func splitCompact(raw string) (header, payload []byte, err error) {
	if len(raw) > MaxTokenBytes {
		return nil, nil, failure.New(failure.RequestBodyMissingJWTToken, "token longer than 16 KiB")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		// Five parts would be a JWE: never accepted.
		return nil, nil, failure.New(failure.RequestBodyMissingJWTToken, fmt.Sprintf("not a signed JWT: %d parts", len(parts)))
	}
	if header, err = base64.RawURLEncoding.DecodeString(parts[0]); err != nil {
		return nil, nil, failure.New(failure.TokenDecodeFailed, "header is not base64url")
	}
	if payload, err = base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
		return nil, nil, failure.New(failure.TokenDecodeFailed, "payload is not base64url")
	}
	return header, payload, nil
}

// checkHeader accepts only an asymmetric alg, a key id, and no header that
// brings its own key or demands an extension.
func checkHeader(raw []byte) (alg, kid string, err error) {
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil || h == nil {
		return "", "", failure.New(failure.TokenDecodeFailed, "header is not a JSON object")
	}
	for _, name := range forbiddenHeaders {
		if _, ok := h[name]; ok {
			return "", "", failure.New(failure.TokenDecodeFailed, "header carries "+name)
		}
	}
	if json.Unmarshal(h["alg"], &alg) != nil || !slices.Contains(asymmetricAlgs, alg) {
		return "", "", failure.New(failure.TokenDecodeFailed, fmt.Sprintf("alg %s is not an accepted asymmetric algorithm", h["alg"]))
	}
	if json.Unmarshal(h["kid"], &kid) != nil || kid == "" {
		return "", "", failure.New(failure.TokenDecodeFailed, "header has no kid")
	}
	return alg, kid, nil
}

func (v *Verifier) checkClaims(a *policy.Authenticator, p policy.Provider, payload []byte) (*Claims, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, failure.New(failure.TokenDecodeFailed, "payload is not a JSON object")
	}
	c := &Claims{}
	var err error
	str := func(name string, required bool) string {
		if err != nil {
			return ""
		}
		val, present := m[name]
		s, isString := val.(string)
		switch {
		case !present && !required:
			return ""
		case !isString || (required && s == ""):
			err = failure.New(failure.TokenClaimNotFoundOrEmpty, fmt.Sprintf("claim %s is missing, empty or not a string", name), name)
		}
		return s
	}
	num := func(name string, required bool) time.Time {
		if err != nil {
			return time.Time{}
		}
		val, present := m[name]
		if !present && !required {
			return time.Time{}
		}
		n, isNum := val.(json.Number)
		f, convErr := n.Float64()
		if !isNum || convErr != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
			err = failure.New(failure.TokenClaimNotFoundOrEmpty, fmt.Sprintf("claim %s is missing or not a number", name), name)
			return time.Time{}
		}
		return time.Unix(int64(f), 0)
	}
	c.Issuer = str("iss", true)
	c.Version = str("ver", false)
	c.TenantID = str("tid", true)
	c.ObjectID = str("oid", true)
	c.MIRID = str("xms_mirid", true)
	c.AzRID = str("xms_az_rid", false)
	c.Expiry = num("exp", true)
	c.IssuedAt = num("iat", true)
	c.NotBefore = num("nbf", false)
	if err != nil {
		return nil, err
	}
	if strings.TrimSuffix(c.Issuer, "/") != strings.TrimSuffix(p.Issuer, "/") {
		return nil, failure.New(failure.TokenDecodeFailed, "issuer changed between parse and verification")
	}
	if !armid.EqualFold(c.TenantID, p.TenantID) {
		return nil, failure.New(failure.TenantMismatch, fmt.Sprintf("tid %s is not the tenant %s of issuer %s", c.TenantID, p.TenantID, p.Issuer))
	}
	if c.Audience, err = acceptedAudience(m["aud"], a.Audiences); err != nil {
		return nil, err
	}
	now := v.now()
	skew := a.ClockSkew
	switch {
	case !now.Before(c.Expiry.Add(skew)):
		return nil, failure.New(failure.TokenExpired, fmt.Sprintf("expired at %s", c.Expiry.UTC().Format(time.RFC3339)))
	case !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-skew)):
		return nil, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339)))
	case c.IssuedAt.After(now.Add(skew)):
		return nil, failure.New(failure.IssuedInFuture, fmt.Sprintf("issued at %s", c.IssuedAt.UTC().Format(time.RFC3339)))
	}
	return c, nil
}

// acceptedAudience returns the token's audience that the authenticator
// accepts: aud is a string, or an array of strings of which one must match.
func acceptedAudience(aud any, accepted []string) (string, error) {
	var auds []string
	switch v := aud.(type) {
	case string:
		auds = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", failure.New(failure.TokenClaimNotFoundOrEmpty, "aud holds a non-string", "aud")
			}
			auds = append(auds, s)
		}
	default:
		return "", failure.New(failure.TokenClaimNotFoundOrEmpty, "aud is missing or not a string", "aud")
	}
	for _, a := range auds {
		if a != "" && slices.Contains(accepted, a) {
			return a, nil
		}
	}
	return "", failure.New(failure.AudienceNotAccepted, fmt.Sprintf("aud %q is not among %q", auds, accepted))
}
