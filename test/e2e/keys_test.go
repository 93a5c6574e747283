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

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

func TestUnknownKidIsHealedByRotationInTheSameRequest(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	vm := f.vm("rg-apps", "vm-1")
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("app"), azure.Token(vm, azuretest.TokenOptions{})))

	azure.RotateKeys() // Azure publishes and signs with a new key
	before := azure.DiscoveryRequests(f.tenant)
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("app"), azure.Token(vm, azuretest.TokenOptions{})))
	after := azure.DiscoveryRequests(f.tenant)
	if after-before != 1 {
		t.Fatalf("%d discovery requests for the rotation, want exactly 1 (one forced refresh)", after-before)
	}
}

func TestRandomKidsCannotForceMoreThanOneRefreshPerCooldown(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	claims := azure.Claims(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("app"), azure.Sign(claims))) // keys loaded
	before := azure.DiscoveryRequests(f.tenant)
	for i := range 20 {
		tok := azure.SignWithHeader(map[string]any{"typ": "JWT", "alg": "RS256", "kid": fmt.Sprintf("random-%d", i)}, claims)
		expectFailure(t, authenticate(t, f.service, account, f.login("app"), tok), http.StatusUnauthorized, unauthorized, f.login("app"), "CONJ00035E")
	}
	if after := azure.DiscoveryRequests(f.tenant); after-before > 1 {
		t.Fatalf("%d refreshes for 20 unknown kids within the cooldown, want at most 1", after-before)
	}
}

func TestProviderDownAtStartRecoversWhenItComesBack(t *testing.T) {
	azure.SetDown(true)
	t.Cleanup(func() { azure.SetDown(false) })
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	expectFailure(t, authenticate(t, f.service, account, f.login("app"), token), http.StatusUnauthorized, unauthorized, f.login("app"), "CONJ00011E")
	waitAuthenticatorReady(t, f.service, "False/ProviderUnavailable")

	azure.SetDown(false)
	eventually(t, "authentication works once the provider is back", func() error {
		if r := authenticate(t, f.service, account, f.login("app"), token); r.status != http.StatusOK {
			return fmt.Errorf("%d", r.status)
		}
		return nil
	})
	a := waitAuthenticatorReady(t, f.service, "True/KeysAvailable")
	if len(a.Status.Providers) != 1 || a.Status.Providers[0].Keys < 1 || a.Status.Providers[0].LastRefreshTime == nil || a.Status.Providers[0].Error != "" {
		t.Fatalf("status.providers = %+v", a.Status.Providers)
	}
}

func TestProviderDownLaterKeepsTheLastGoodKeys(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("app"), token))
	azure.SetDown(true)
	t.Cleanup(func() { azure.SetDown(false) })
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("app"), token))
}

func TestStatusRevokesTokensOfDeletedHosts(t *testing.T) {
	f := newFixture(t)
	h := f.host("app", rgSpec("rg-apps"))
	tok := authenticate(t, f.service, account, f.login("app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	path := "/authn-azure/" + f.service + "/" + account + "/status"
	if r := get(t, path, "Authorization", authorization(tok.body)); r.status != http.StatusOK {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	if r := get(t, "/authn-azure/no-such-service/"+account+"/status", "Authorization", authorization(tok.body)); r.status != http.StatusNotFound {
		t.Fatalf("unknown service: %d %s", r.status, r.body)
	}
	if r := get(t, path); r.status != http.StatusUnauthorized || r.body != unauthorized {
		t.Fatalf("no token: %d %s", r.status, r.body)
	}
	if err := k8s.Delete(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted host's token is refused", func() error {
		if r := get(t, path, "Authorization", authorization(tok.body)); r.status != http.StatusUnauthorized {
			return fmt.Errorf("%d", r.status)
		}
		return nil
	})
}

// An issued access token verifies as a JWS with a JOSE library against
// the keys the server publishes.
func TestIssuedTokensVerifyAgainstThePublishedJWKS(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	tok := authenticate(t, f.service, account, f.login("app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	if tok.status != http.StatusOK {
		t.Fatalf("%d %s", tok.status, tok.body)
	}
	r := get(t, "/.well-known/jwks.json")
	var set jose.JSONWebKeySet
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &set) != nil || len(set.Keys) == 0 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	jws, err := jose.ParseSignedJSON(tok.body, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("not a JWS: %v", err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not published", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("does not verify with the published key: %v", err)
	}
	var c struct{ Sub, Aud, Svc string }
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub != f.login("app") || c.Aud != account || c.Svc != f.service {
		t.Fatalf("claims %s", payload)
	}
}

func waitAuthenticatorReady(t *testing.T, name, want string) *authnv1alpha1.AzureAuthenticator {
	t.Helper()
	a := &authnv1alpha1.AzureAuthenticator{}
	eventually(t, "AzureAuthenticator "+name+" Ready "+want, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, a); err != nil {
			return err
		}
		c := meta.FindStatusCondition(a.Status.Conditions, authnv1alpha1.ConditionReady)
		if c == nil || string(c.Status)+"/"+c.Reason != want {
			return fmt.Errorf("Ready = %+v", c)
		}
		return nil
	})
	return a
}
