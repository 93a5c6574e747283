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

// Verify against the fake Entra ID the end-to-end suites and the demo use:
// tokens minted as Azure mints them, over real HTTPS discovery and JWKS.
func TestVerifyAgainstTheFakeEntraID(t *testing.T) {
	azure := azuretest.NewServer()
	t.Cleanup(azure.Close)
	const tenant, other = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b5e3c1d-2f4a-4b6c-8d7e-9f0a1b2c3d4e"
	const sub = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	auth := &policy.Authenticator{
		ServiceID: "prod", Enabled: true, ClockSkew: time.Minute,
		Audiences: []string{"https://management.azure.com/", azuretest.DefaultV2Audience},
		Providers: []policy.Provider{
			{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()},
			{Issuer: azure.IssuerV2(tenant), TenantID: tenant, CABundle: azure.CAPEM()},
		},
	}
	v := &azuread.Verifier{Keys: azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext})}
	vm := azuretest.VM(tenant, sub, "rg-apps", "vm-1")
	uami := azuretest.UserAssigned(tenant, sub, "rg-ids", "id-1", vm.MIRID)

	t.Run("accepted", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			id      azuretest.Identity
			opts    azuretest.TokenOptions
			version string
		}{
			{"v1 system-assigned", vm, azuretest.TokenOptions{}, "1.0"},
			{"v2 system-assigned", vm, azuretest.TokenOptions{V2: true}, "2.0"},
			{"v1 user-assigned", uami, azuretest.TokenOptions{}, "1.0"},
		} {
			claims, err := v.Verify(context.Background(), auth, azure.Token(tc.id, tc.opts))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if claims.TenantID != tenant || claims.ObjectID != tc.id.ObjectID || claims.MIRID != tc.id.MIRID || claims.AzRID != tc.id.AzRID ||
				claims.Version != tc.version || !claims.Expiry.After(time.Now()) {
				t.Fatalf("%s: claims %+v for identity %+v", tc.name, claims, tc.id)
			}
		}
	})

	signed := func(mutate func(map[string]any)) string {
		c := azure.Claims(vm, azuretest.TokenOptions{})
		mutate(c)
		return azure.Sign(c)
	}
	good := azure.Token(vm, azuretest.TokenOptions{})
	parts := strings.Split(good, ".")
	for _, tc := range []struct {
		name  string
		token string
		code  failure.Code
	}{
		{"expired", azure.Token(vm, azuretest.TokenOptions{IssuedAt: time.Now().Add(-2 * time.Hour), Lifetime: time.Hour}), failure.TokenExpired},
		{"not valid yet (nbf)", azure.Token(vm, azuretest.TokenOptions{IssuedAt: time.Now().Add(time.Hour)}), failure.TokenDecodeFailed},
		{"issued in the future (iat, no nbf)", signed(func(c map[string]any) {
			c["iat"] = time.Now().Add(time.Hour).Unix()
			delete(c, "nbf")
		}), failure.IssuedInFuture},
		{"audience not accepted", azure.Token(vm, azuretest.TokenOptions{Audience: "https://vault.azure.net"}), failure.AudienceNotAccepted},
		{"another tenant under a trusted issuer", signed(func(c map[string]any) { c["tid"] = other }), failure.TenantMismatch},
		{"an issuer no provider names", azure.Token(azuretest.VM(other, sub, "rg-apps", "vm-1"), azuretest.TokenOptions{}), failure.TokenDecodeFailed},
		{"signature altered", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4] + "AAAA", failure.TokenDecodeFailed},
		{"not a JWT", "not-a-jwt", failure.RequestBodyMissingJWTToken},
		{"no xms_mirid", signed(func(c map[string]any) { delete(c, "xms_mirid") }), failure.TokenClaimNotFoundOrEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), auth, tc.token)
			var f *failure.Error
			if !errors.As(err, &f) || f.Code != tc.code {
				t.Fatalf("Verify = %v, want %s", err, tc.code)
			}
		})
	}
}
