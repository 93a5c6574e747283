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
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/clock"

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
	// Cache, when set, remembers accepted tokens (see VerifiedCache).
	Cache *VerifiedCache
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
	var ck cacheKey
	if v.Cache != nil {
		ck = cacheKeyOf(a, raw)
		if c, ok := v.cached(ck); ok {
			return c, v.checkTimes(a, c)
		}
	}
	t, key, provider, err := v.prepare(ctx, a, raw)
	switch {
	case err != nil && t != nil:
		dummyVerify(ctx, t.signingInput) // parsed already, as DummyVerify would
		return nil, err
	case err != nil:
		DummyVerify(ctx, raw)
		return nil, err
	}
	countVerification(ctx)
	if !verifySignature(key, t.alg, t.signingInput, t.signature) {
		return nil, failure.New(failure.TokenDecodeFailed, "signature does not verify with the provider's key "+t.kid)
	}
	c, err := v.checkClaims(a, provider, &t.claims)
	if err == nil && v.Cache != nil {
		v.Cache.add(&cacheEntry{key: ck, claims: *c, provider: provider, kid: t.kid, pub: key})
	}
	return c, err
}

// cached returns a copy of the claims cached under k if the key that
// verified them is still the provider's key of that id, and forgets the
// entry otherwise.
func (v *Verifier) cached(k cacheKey) (*Claims, bool) {
	e := v.Cache.get(k)
	if e != nil && v.Keys.serves(e.provider, e.kid, e.pub) {
		tokenCacheLookups.WithLabelValues("hit").Inc()
		c := e.claims
		return &c, true
	}
	if e != nil {
		v.Cache.remove(k)
	}
	tokenCacheLookups.WithLabelValues("miss").Inc()
	return nil, false
}

// token is a compact JWS taken apart, not yet verified.
type token struct {
	alg, kid     string
	claims       tokenClaims
	signingInput string // header.payload, as sent
	signature    []byte
}

// parseToken takes raw apart: three base64url parts, a header that passes
// checkHeader, a payload that is one JSON object. The real path and
// DummyVerify both do exactly this work, so that the time of a refusal
// does not tell which of them answered.
func parseToken(raw string) (*token, error) {
	if len(raw) > MaxTokenBytes {
		return nil, failure.New(failure.RequestBodyMissingJWTToken, "token longer than 16 KiB")
	}
	first, last := strings.IndexByte(raw, '.'), strings.LastIndexByte(raw, '.')
	// Exactly three non-empty parts; five would be a JWE: never accepted.
	if dots := strings.Count(raw, "."); dots != 2 || first == 0 || first+1 == last || last == len(raw)-1 {
		return nil, failure.New(failure.RequestBodyMissingJWTToken, fmt.Sprintf("not a signed JWT: %d parts", dots+1))
	}
	// The decoders skip CR and LF, which would give one token countless
	// spellings (a break in the signature changes neither it nor the
	// verdict): base64url has none.
	if strings.IndexByte(raw, '\n') >= 0 || strings.IndexByte(raw, '\r') >= 0 {
		return nil, failure.New(failure.TokenDecodeFailed, "token holds a line break, which base64url does not")
	}
	header, err := base64.RawURLEncoding.DecodeString(raw[:first])
	if err != nil {
		return nil, failure.New(failure.TokenDecodeFailed, "header is not base64url")
	}
	payload, err := base64.RawURLEncoding.DecodeString(raw[first+1 : last])
	if err != nil {
		return nil, failure.New(failure.TokenDecodeFailed, "payload is not base64url")
	}
	t := &token{signingInput: raw[:last]}
	if t.signature, err = base64.RawURLEncoding.DecodeString(raw[last+1:]); err != nil {
		return nil, failure.New(failure.TokenDecodeFailed, "signature is not base64url")
	}
	if t.alg, t.kid, err = checkHeader(string(header)); err != nil {
		return nil, err
	}
	if !scanObject(string(payload), t.claims.member) {
		return nil, failure.New(failure.TokenDecodeFailed, "payload is not a JSON object")
	}
	return t, nil
}

// tokenClaims are the members of a token's claims that the checks read.
// Numbers are float64, exact for every time claim up to 2^53 s.
type tokenClaims struct {
	iss, ver, tid, oid, mirid, azrid, aud, exp, iat, nbf jsonValue
}

func (c *tokenClaims) member(name string) *jsonValue {
	switch name {
	case "iss":
		return &c.iss
	case "ver":
		return &c.ver
	case "tid":
		return &c.tid
	case "oid":
		return &c.oid
	case "xms_mirid":
		return &c.mirid
	case "xms_az_rid":
		return &c.azrid
	case "aud":
		return &c.aud
	case "exp":
		return &c.exp
	case "iat":
		return &c.iat
	case "nbf":
		return &c.nbf
	}
	return nil
}

// prepare does everything before the signature check: parse the token,
// pick the provider by its unverified iss, and find the key. On error the
// token is returned too when it parsed.
func (v *Verifier) prepare(ctx context.Context, a *policy.Authenticator, raw string) (*token, crypto.PublicKey, policy.Provider, error) {
	var none policy.Provider
	t, err := parseToken(raw)
	if err != nil {
		return nil, nil, none, err
	}
	// The issuer picks the provider whose keys may verify the token; the
	// unverified iss is trusted only that far.
	iss := t.claims.iss.str
	if t.claims.iss.kind != jsonString || iss == "" {
		return t, nil, none, failure.New(failure.TokenClaimNotFoundOrEmpty, "no iss", "iss")
	}
	provider, ok := providerFor(a, iss)
	if !ok {
		return t, nil, none, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("issuer %q is not a provider of authenticator %s", iss, a.ServiceID))
	}
	key, err := v.key(ctx, provider, t.alg, t.kid)
	if err != nil {
		return t, nil, none, err
	}
	if !signatureFits(key, t.signature) {
		return t, nil, none, failure.New(failure.TokenDecodeFailed, "signature cannot have been made with the provider's key "+t.kid)
	}
	return t, key, provider, nil
}

// verifySignature checks sig over input for alg with key, as RFC 7518
// defines each algorithm (PSS salt length as the signer chose it).
func verifySignature(key crypto.PublicKey, alg, input string, sig []byte) bool {
	if k, ok := key.(ed25519.PublicKey); ok {
		return alg == "EdDSA" && ed25519.Verify(k, []byte(input), sig)
	}
	// The SumNNN functions hash the input in place; a hash.Hash would take
	// a copy of the 1.5 KB signing input.
	var h crypto.Hash
	var digest []byte
	switch alg[len(alg)-3:] {
	case "256":
		sum := sha256.Sum256([]byte(input))
		h, digest = crypto.SHA256, sum[:]
	case "384":
		sum := sha512.Sum384([]byte(input))
		h, digest = crypto.SHA384, sum[:]
	case "512":
		sum := sha512.Sum512([]byte(input))
		h, digest = crypto.SHA512, sum[:]
	default:
		return false
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg[:2] {
		case "RS":
			return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		case "PS":
			return rsa.VerifyPSS(k, h, digest, sig, nil) == nil
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		curveFits := alg == "ES256" && k.Curve == elliptic.P256() || alg == "ES384" && k.Curve == elliptic.P384() || alg == "ES512" && k.Curve == elliptic.P521()
		if !curveFits || len(sig) != 2*size {
			return false
		}
		return ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
	}
	return false
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

// checkHeader accepts only an asymmetric alg, a key id, and no header that
// brings its own key or demands an extension.
func checkHeader(raw string) (alg, kid string, err error) {
	var a, k jsonValue
	forbidden := ""
	ok := scanObject(raw, func(name string) *jsonValue {
		switch name {
		case "alg":
			return &a
		case "kid":
			return &k
		}
		if forbidden == "" && slices.Contains(forbiddenHeaders, name) {
			forbidden = name
		}
		return nil
	})
	switch {
	case !ok:
		return "", "", failure.New(failure.TokenDecodeFailed, "header is not a JSON object")
	case forbidden != "":
		return "", "", failure.New(failure.TokenDecodeFailed, "header carries "+forbidden)
	case a.kind != jsonString || !slices.Contains(asymmetricAlgs, a.str):
		return "", "", failure.New(failure.TokenDecodeFailed, fmt.Sprintf("alg %s is not an accepted asymmetric algorithm", a.raw))
	case k.kind != jsonString || k.str == "":
		return "", "", failure.New(failure.TokenDecodeFailed, "header has no kid")
	}
	return a.str, k.str, nil
}

func (v *Verifier) checkClaims(a *policy.Authenticator, p policy.Provider, m *tokenClaims) (*Claims, error) {
	c := &Claims{}
	var err error
	str := func(name string, val jsonValue, required bool) string {
		if err != nil {
			return ""
		}
		switch {
		case val.kind == jsonAbsent && !required:
			return ""
		case val.kind != jsonString || (required && val.str == ""):
			err = failure.New(failure.TokenClaimNotFoundOrEmpty, fmt.Sprintf("claim %s is missing, empty or not a string", name), name)
		}
		return val.str
	}
	num := func(name string, val jsonValue, required bool) time.Time {
		if err != nil {
			return time.Time{}
		}
		if val.kind == jsonAbsent && !required {
			return time.Time{}
		}
		f := val.num
		if val.kind != jsonNumber || math.IsNaN(f) || f < 0 || f > 1e11 {
			err = failure.New(failure.TokenClaimNotFoundOrEmpty, fmt.Sprintf("claim %s is missing or not a number", name), name)
			return time.Time{}
		}
		return time.Unix(int64(f), 0)
	}
	c.Issuer = str("iss", m.iss, true)
	c.Version = str("ver", m.ver, false)
	c.TenantID = str("tid", m.tid, true)
	c.ObjectID = str("oid", m.oid, true)
	c.MIRID = str("xms_mirid", m.mirid, true)
	c.AzRID = str("xms_az_rid", m.azrid, false)
	c.Expiry = num("exp", m.exp, true)
	c.IssuedAt = num("iat", m.iat, true)
	c.NotBefore = num("nbf", m.nbf, false)
	if err != nil {
		return nil, err
	}
	if strings.TrimSuffix(c.Issuer, "/") != strings.TrimSuffix(p.Issuer, "/") {
		return nil, failure.New(failure.TokenDecodeFailed, "issuer changed between parse and verification")
	}
	if !armid.EqualFold(c.TenantID, p.TenantID) {
		return nil, failure.New(failure.TenantMismatch, fmt.Sprintf("tid %s is not the tenant %s of issuer %s", c.TenantID, p.TenantID, p.Issuer))
	}
	if c.Audience, err = acceptedAudience(m.aud, a.Audiences); err != nil {
		return nil, err
	}
	if err := v.checkTimes(a, c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkTimes checks expiry, not-before and issued-at against now, with the
// authenticator's clock skew: on every request, cached or not.
func (v *Verifier) checkTimes(a *policy.Authenticator, c *Claims) error {
	now := v.now()
	skew := a.ClockSkew
	switch {
	case !now.Before(c.Expiry.Add(skew)):
		return failure.New(failure.TokenExpired, fmt.Sprintf("expired at %s", c.Expiry.UTC().Format(time.RFC3339)))
	case !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-skew)):
		return failure.New(failure.TokenDecodeFailed, fmt.Sprintf("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339)))
	case c.IssuedAt.After(now.Add(skew)):
		return failure.New(failure.IssuedInFuture, fmt.Sprintf("issued at %s", c.IssuedAt.UTC().Format(time.RFC3339)))
	}
	return nil
}

// acceptedAudience returns the token's audience that the authenticator
// accepts: aud is a string, or an array of strings of which one must match.
func acceptedAudience(aud jsonValue, accepted []string) (string, error) {
	var auds []string
	switch {
	case aud.kind == jsonString:
		if aud.str != "" && slices.Contains(accepted, aud.str) {
			return aud.str, nil
		}
		auds = []string{aud.str}
	case aud.kind == jsonStringArray:
		auds = aud.strs
	case aud.kind == jsonOther && strings.HasPrefix(aud.raw, "["):
		return "", failure.New(failure.TokenClaimNotFoundOrEmpty, "aud holds a non-string", "aud")
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
