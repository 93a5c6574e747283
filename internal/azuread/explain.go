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
	"strings"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Outcome is what an offline explanation can say of one check.
type Outcome int

const (
	// Unknown: the check cannot be decided offline, or was not reached.
	Unknown Outcome = iota
	// Pass: the server's own check holds.
	Pass
	// Fail: the server's own check fails; Err is what the server answers.
	Fail
)

// Names of the token checks, in the order Verify makes them.
const (
	CheckFormat    = "token format"
	CheckIssuer    = "issuer names a provider"
	CheckSignature = "signing key and signature"
	CheckClaims    = "claims present"
	CheckTenant    = "tenant of the issuer"
	CheckAudience  = "audience"
	CheckTimes     = "time window"
)

// TokenCheck is the outcome of one of Verify's checks on an unverified token.
type TokenCheck struct {
	Name  string
	Codes []failure.Code // what the server may answer at this check
	Outcome
	Err *failure.Error // when Outcome is Fail
}

// tokenChecks lists Verify's checks in its order, with the codes each may
// answer.
func tokenChecks() []TokenCheck {
	return []TokenCheck{
		{Name: CheckFormat, Codes: []failure.Code{failure.RequestBodyMissingJWTToken, failure.TokenDecodeFailed}},
		{Name: CheckIssuer, Codes: []failure.Code{failure.TokenClaimNotFoundOrEmpty, failure.TokenDecodeFailed}},
		{Name: CheckSignature, Codes: []failure.Code{failure.TokenDecodeFailed, failure.ProviderDiscoveryTimeout, failure.ProviderDiscoveryFailed}},
		{Name: CheckClaims, Codes: []failure.Code{failure.TokenClaimNotFoundOrEmpty}},
		{Name: CheckTenant, Codes: []failure.Code{failure.TenantMismatch}},
		{Name: CheckAudience, Codes: []failure.Code{failure.TokenClaimNotFoundOrEmpty, failure.AudienceNotAccepted}},
		{Name: CheckTimes, Codes: []failure.Code{failure.TokenExpired, failure.TokenDecodeFailed, failure.IssuedInFuture}},
	}
}

// fixedClock is a clock.PassiveClock stopped at one instant.
type fixedClock time.Time

func (c fixedClock) Now() time.Time                  { return time.Time(c) }
func (c fixedClock) Since(t time.Time) time.Duration { return time.Time(c).Sub(t) }

// ExplainToken runs Verify's checks, in Verify's order and with Verify's
// own code (parseToken, providerFor, checkClaims), on raw at now, except
// the one that needs the provider's keys: the signature is never checked,
// so that check is always Unknown. Verify stops at the first failure;
// checks after it are Unknown. a nil authenticator (one the caller cannot
// read) leaves every check that needs it Unknown. The claims are returned
// when every decided check passed; they are unverified.
func ExplainToken(a *policy.Authenticator, raw string, now time.Time) ([]TokenCheck, *Claims) {
	checks := tokenChecks()
	at := 0 // the check being decided
	decide := func(err error) bool {
		if err != nil {
			checks[at].Outcome, checks[at].Err = Fail, failure.As(err)
			return false
		}
		checks[at].Outcome = Pass
		at++
		return true
	}
	t, err := parseToken(raw)
	if !decide(err) || a == nil {
		return checks, nil
	}
	// As prepare does: the unverified iss picks the provider.
	iss := t.claims.iss.str
	var provider policy.Provider
	if t.claims.iss.kind != jsonString || iss == "" {
		err = failure.New(failure.TokenClaimNotFoundOrEmpty, "no iss", "iss")
	} else if p, ok := providerFor(a, iss); !ok {
		err = failure.New(failure.TokenDecodeFailed, "issuer "+iss+" is not a provider of authenticator "+a.ServiceID)
	} else {
		provider = p
	}
	if !decide(err) {
		return checks, nil
	}
	at++ // the signature: left Unknown
	v := &Verifier{Clock: fixedClock(now)}
	c, err := v.checkClaims(a, provider, &t.claims)
	if err != nil {
		f := failure.As(err)
		at = claimCheckOf(f)
		checks[at].Outcome, checks[at].Err = Fail, f
		for i := CheckIndex(CheckClaims); i < at; i++ {
			checks[i].Outcome = Pass
		}
		return checks, nil
	}
	for i := at; i < len(checks); i++ {
		checks[i].Outcome = Pass
	}
	return checks, c
}

// CheckIndex is the position of the named token check.
func CheckIndex(name string) int {
	for i, c := range tokenChecks() {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// claimCheckOf tells which of checkClaims' checks answered f: each code
// belongs to one check, but for a missing or malformed aud (CONJ00051E,
// as for the other claims) and a token not yet valid (CONJ00035E).
func claimCheckOf(f *failure.Error) int {
	switch f.Code {
	case failure.TokenClaimNotFoundOrEmpty:
		if strings.Contains(f.Message, "'aud'") {
			return CheckIndex(CheckAudience)
		}
		return CheckIndex(CheckClaims)
	case failure.TenantMismatch:
		return CheckIndex(CheckTenant)
	case failure.AudienceNotAccepted:
		return CheckIndex(CheckAudience)
	case failure.TokenExpired, failure.IssuedInFuture:
		return CheckIndex(CheckTimes)
	case failure.TokenDecodeFailed:
		if strings.HasPrefix(f.Reason, "not valid before") {
			return CheckIndex(CheckTimes)
		}
		return CheckIndex(CheckIssuer) // "issuer changed": cannot happen unverified
	}
	return CheckIndex(CheckClaims)
}

// ExplainSignature decides the signature check of checks (ExplainToken's
// for a and raw) by running Verify itself, which fetches the provider's
// keys as the server does. Verify stops at its first failure: when that
// is the failure ExplainToken found after the signature, the signature
// held; any other failure is the signature's (or its key's). An error
// that is not a failure (ctx ended) leaves the check Unknown.
func (v *Verifier) ExplainSignature(ctx context.Context, a *policy.Authenticator, raw string, checks []TokenCheck) {
	sig := CheckIndex(CheckSignature)
	for _, c := range checks[:sig] {
		if c.Outcome != Pass {
			return // Verify would stop before the signature
		}
	}
	_, err := v.Verify(ctx, a, raw)
	if err == nil {
		checks[sig].Outcome = Pass
		return
	}
	var f *failure.Error
	if !errors.As(err, &f) {
		return
	}
	for _, c := range checks[sig+1:] {
		if c.Outcome == Fail && c.Err.Code == f.Code && c.Err.Message == f.Message {
			checks[sig].Outcome = Pass
			return
		}
	}
	checks[sig].Outcome, checks[sig].Err = Fail, f
}
