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

package azuread_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// ExplainToken fails the check, with the very failure, that Verify answers
// with, for every token but one whose signature is wrong; and passes every
// check it decides when Verify accepts.
func TestExplainTokenAgreesWithVerify(t *testing.T) {
	azure := azuretest.NewServer()
	t.Cleanup(azure.Close)
	const tenant, other = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b5e3c1d-2f4a-4b6c-8d7e-9f0a1b2c3d4e"
	const sub = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	auth := &policy.Authenticator{
		ServiceID: "prod", Enabled: true, ClockSkew: time.Minute,
		Audiences: []string{"https://management.azure.com/"},
		Providers: []policy.Provider{{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}},
	}
	v := &azuread.Verifier{Keys: azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext})}
	vm := azuretest.VM(tenant, sub, "rg-apps", "vm-1")
	signed := func(mutate func(map[string]any)) string {
		c := azure.Claims(vm, azuretest.TokenOptions{})
		mutate(c)
		return azure.Sign(c)
	}
	without := func(k string) string { return signed(func(c map[string]any) { delete(c, k) }) }
	set := func(k string, v any) string { return signed(func(c map[string]any) { c[k] = v }) }
	good := azure.Token(vm, azuretest.TokenOptions{})
	now := time.Now()
	for _, tc := range []struct {
		name, token, check string // check: "" when accepted
	}{
		{"accepted", good, ""},
		{"not a JWT", "not-a-jwt", azuread.CheckFormat},
		{"a line break", good[:20] + "\n" + good[20:], azuread.CheckFormat},
		{"no kid", azure.SignWithHeader(map[string]any{"alg": "RS256"}, azure.Claims(vm, azuretest.TokenOptions{})), azuread.CheckFormat},
		{"no iss", without("iss"), azuread.CheckIssuer},
		{"an issuer no provider names", set("iss", azure.IssuerV1(other)), azuread.CheckIssuer},
		{"no oid", without("oid"), azuread.CheckClaims},
		{"no exp", without("exp"), azuread.CheckClaims},
		{"iat a string", set("iat", "1"), azuread.CheckClaims},
		{"tid of another tenant", set("tid", other), azuread.CheckTenant},
		{"no aud", without("aud"), azuread.CheckAudience},
		{"aud with a number", set("aud", []any{1}), azuread.CheckAudience},
		{"another audience", set("aud", "https://vault.azure.net"), azuread.CheckAudience},
		{"expired", azure.Token(vm, azuretest.TokenOptions{IssuedAt: now.Add(-2 * time.Hour), Lifetime: time.Hour}), azuread.CheckTimes},
		{"not valid yet", set("nbf", now.Add(time.Hour).Unix()), azuread.CheckTimes},
		{"issued in the future", set("iat", now.Add(time.Hour).Unix()), azuread.CheckTimes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, verr := v.Verify(context.Background(), auth, tc.token)
			checks, claims := azuread.ExplainToken(auth, tc.token, time.Now())
			sig := checks[azuread.CheckIndex(azuread.CheckSignature)]
			if sig.Outcome != azuread.Unknown {
				t.Fatalf("the signature was decided: %+v", sig)
			}
			var failed *azuread.TokenCheck
			for i := range checks {
				if checks[i].Outcome == azuread.Fail {
					failed = &checks[i]
					break
				}
			}
			if tc.check == "" {
				if verr != nil || failed != nil || claims == nil {
					t.Fatalf("Verify: %v; ExplainToken failed %+v, claims %v", verr, failed, claims)
				}
				for _, c := range checks {
					if c.Name != azuread.CheckSignature && c.Outcome != azuread.Pass {
						t.Fatalf("check %s: %v", c.Name, c.Outcome)
					}
				}
				return
			}
			var f *failure.Error
			if !errors.As(verr, &f) {
				t.Fatalf("Verify = %v, want a failure", verr)
			}
			if failed == nil || failed.Name != tc.check || failed.Err.Code != f.Code || !strings.Contains(f.Error(), failed.Err.Message) {
				t.Fatalf("Verify answers %v; ExplainToken failed %+v, want check %s", f, failed, tc.check)
			}
			if claims != nil {
				t.Fatal("claims returned for a refused token")
			}
			for _, c := range checks {
				if c.Name == failed.Name {
					break
				}
				if c.Name != azuread.CheckSignature && c.Outcome != azuread.Pass {
					t.Fatalf("check %s before the failure: %v", c.Name, c.Outcome)
				}
			}
		})
	}
	// ExplainSignature runs Verify: it passes the signature of a token
	// refused later, and fails an altered one with Verify's answer.
	sigIdx := azuread.CheckIndex(azuread.CheckSignature)
	parts := strings.Split(good, ".")
	for _, tc := range []struct {
		name, token string
		want        azuread.Outcome
	}{
		{"good", good, azuread.Pass},
		{"expired but signed", azure.Token(vm, azuretest.TokenOptions{IssuedAt: now.Add(-2 * time.Hour), Lifetime: time.Hour}), azuread.Pass},
		{"altered", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4] + "AAAA", azuread.Fail},
		{"format refused first", "not-a-jwt", azuread.Unknown},
	} {
		checks, _ := azuread.ExplainToken(auth, tc.token, time.Now())
		v.ExplainSignature(context.Background(), auth, tc.token, checks)
		if got := checks[sigIdx]; got.Outcome != tc.want || tc.want == azuread.Fail && got.Err.Code != failure.TokenDecodeFailed {
			t.Errorf("ExplainSignature(%s) = %+v, want %v", tc.name, got, tc.want)
		}
	}

	// Without the authenticator (the caller may not read it) only the
	// token's format is decided.
	checks, claims := azuread.ExplainToken(nil, good, now)
	if claims != nil || checks[0].Outcome != azuread.Pass {
		t.Fatalf("nil authenticator: %+v", checks)
	}
	for _, c := range checks[1:] {
		if c.Outcome != azuread.Unknown {
			t.Fatalf("nil authenticator decided %s", c.Name)
		}
	}
}
