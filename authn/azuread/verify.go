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
	"net"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/azure-authenticator/azure-authenticator/authn/armid"
	"github.com/azure-authenticator/azure-authenticator/authn/failure"
	"github.com/azure-authenticator/azure-authenticator/authn/policy"
)

// MaxTokenBytes bounds the token text we look at.
const MaxTokenBytes = 16 << 10

// Verifier checks Azure tokens for an authenticator.
type Verifier struct {
	Keys *KeySets
	Now  func() time.Time
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
// claims, or a *failure.Error saying why not.
func (v *Verifier) Verify(ctx context.Context, a *policy.Authenticator, raw string) (*Claims, error) {
	header, payload, err := splitCompact(raw)
	if err != nil {
		return nil, err
	}
	alg, kid, err := checkHeader(header)
	if err != nil {
		return nil, err
	}
	// The issuer picks the provider whose keys may verify the token; the
	// unverified iss is trusted only that far.
	var unverified struct {
		Issuer any `json:"iss"`
	}
	if err := json.Unmarshal(payload, &unverified); err != nil {
		return nil, failure.New(failure.TokenDecodeFailed, "payload is not a JSON object")
	}
	iss, ok := unverified.Issuer.(string)
	if !ok || iss == "" {
		return nil, failure.New(failure.TokenClaimNotFoundOrEmpty, "no iss", "iss")
	}
	provider, ok := providerFor(a, iss)
	if !ok {
		return nil, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("issuer %q is not a provider of authenticator %s", iss, a.ServiceID))
	}
	key, err := v.key(ctx, provider, alg, kid)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, failure.New(failure.TokenDecodeFailed, "not a single-signature compact JWS")
	}
	verified, err := jws.Verify(key)
	if err != nil {
		return nil, failure.New(failure.TokenDecodeFailed, "signature does not verify with the provider's key "+kid)
	}
	return v.checkClaims(a, provider, verified)
}

// key finds the verification key for kid, refreshing the provider's keys
// once (rate-limited) when kid is unknown, and verifying with the new keys
// in the same request.
func (v *Verifier) key(ctx context.Context, p policy.Provider, alg, kid string) (crypto.PublicKey, error) {
	set, err := v.Keys.ensure(p)
	if err != nil {
		return nil, failure.New(failure.ProviderDiscoveryFailed, err.Error(), p.Issuer)
	}
	key, algs, found, fetched := set.lookup(kid)
	if !fetched && set.due(v.Keys.opts.Now()) {
		// Never fetched yet (a brand-new authenticator): fetch now rather
		// than fail every request until the background loop comes by.
		_ = set.refresh(ctx, false)
		key, algs, found, fetched = set.lookup(kid)
	}
	if !fetched {
		return nil, failure.New(failure.ProviderDiscoveryFailed, "no keys: "+errText(set), p.Issuer)
	}
	if !slices.Contains(algs, alg) {
		return nil, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("alg %s is not advertised by the provider (%v)", alg, algs))
	}
	if !found {
		if err := set.refresh(ctx, true); err != nil {
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				return nil, failure.New(failure.ProviderDiscoveryTimeout, "refresh for unknown kid "+kid+": "+err.Error(), p.Issuer)
			}
		}
		if key, _, found, _ = set.lookup(kid); !found {
			return nil, failure.New(failure.TokenDecodeFailed, "unknown key id "+kid)
		}
	}
	if !keyFitsAlg(key, alg) {
		return nil, failure.New(failure.TokenDecodeFailed, fmt.Sprintf("key %s does not fit alg %s", kid, alg))
	}
	return key, nil
}

func errText(s *keySet) string {
	if h := s.health(); h.Err != "" {
		return h.Err
	}
	return "not fetched"
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
	now := v.Now()
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
