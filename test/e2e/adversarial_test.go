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
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

// Sources: a realistic token from each kind of Azure compute, matched at
// every layer. Shapes labelled "inferred" are documented but not observed
// in a real token by us (docs/security.md).
func TestEverySourceAuthenticates(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	tests := []struct {
		name string
		id   azuretest.Identity
	}{
		{"VM", vm},
		{"VMSS uniform (token names the scale set)", azuretest.VMSSUniform(f.tenant, subscription, "rg-apps", "vmss-web")},
		{"VMSS flexible (each instance is a VM)", azuretest.VMSSFlex(f.tenant, subscription, "rg-apps", "vmss-flex", "f9ae3d85")},
		{"App Service", azuretest.AppService(f.tenant, subscription, "rg-apps", "web-app")},
		{"Function app", azuretest.AppService(f.tenant, subscription, "rg-apps", "func-app")},
		{"Container Instance", azuretest.ContainerInstance(f.tenant, subscription, "rg-apps", "aci-job")},
		{"Container App (inferred)", azuretest.ContainerApp(f.tenant, subscription, "rg-apps", "ca-api")},
		{"App Service slot (inferred)", azuretest.AppServiceSlot(f.tenant, subscription, "rg-apps", "web-app", "staging")},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// System-assigned, pinned to this exact resource.
			name := fmt.Sprintf("sami-%d", i)
			f.host(name, authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "RG-APPS", SystemAssignedIdentity: tc.id.ObjectID, ResourceID: tc.id.MIRID})
			accessTokenClaims(t, authenticate(t, f.service, account, f.login(name), azure.Token(tc.id, azuretest.TokenOptions{})))

			// A user-assigned identity attached to the same resource,
			// pinned to it with resourceID (matched against xms_az_rid).
			uname := fmt.Sprintf("uami-%d", i)
			f.host(uname, authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-identities", UserAssignedIdentity: "id-shared", ResourceID: tc.id.MIRID})
			uami := azuretest.UserAssigned(f.tenant, subscription, "rg-identities", "id-shared", tc.id.MIRID)
			accessTokenClaims(t, authenticate(t, f.service, account, f.login(uname), azure.Token(uami, azuretest.TokenOptions{})))

			// The same identity from another resource is refused.
			elsewhere := azuretest.UserAssigned(f.tenant, subscription, "rg-identities", "id-shared", vm.MIRID+"-other")
			expectFailure(t, authenticate(t, f.service, account, f.login(uname), azure.Token(elsewhere, azuretest.TokenOptions{})), http.StatusUnauthorized, unauthorized, f.login(uname), "CONJ00049E")
		})
	}
}

func TestV2IssuerTokensAuthenticate(t *testing.T) {
	// Inferred: managed-identity tokens for ARM are v1; a resource that
	// asks for v2 tokens gets a GUID audience, which must be configured.
	g := newFixture(t)
	setProviders(t, g, []authnv1alpha1.Provider{{URI: azure.IssuerV2(g.tenant), CABundle: string(azure.CAPEM())}})
	updateAuthenticator(t, g, func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Audiences = []string{azuretest.DefaultV2Audience} })
	vm := g.vm("rg-apps", "vm-1")
	g.host("v2-app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: vm.ObjectID})
	accessTokenClaims(t, authenticate(t, g.service, account, g.login("v2-app"), azure.Token(vm, azuretest.TokenOptions{V2: true})))
	// A v1 token for ARM is refused by this v2-only authenticator.
	expectFailure(t, authenticate(t, g.service, account, g.login("v2-app"), azure.Token(vm, azuretest.TokenOptions{})), http.StatusUnauthorized, unauthorized, g.login("v2-app"), "CONJ00035E")
}

func TestCaseVariantsMatchForASCIIOnly(t *testing.T) {
	f := newFixture(t)
	// Azure writes IDs in inconsistent casing: hosts match regardless.
	f.host("cased", authnv1alpha1.AzureHostSpec{SubscriptionID: strings.ToUpper(subscription), ResourceGroup: "Rg-Apps", UserAssignedIdentity: "ID-App"})
	id := azuretest.UserAssigned(f.tenant, subscription, "RG-APPS", "id-app", f.vm("rg", "vm").MIRID)
	claims := azure.Claims(id, azuretest.TokenOptions{})
	claims["xms_mirid"] = strings.Replace(strings.Replace(id.MIRID, "resourcegroups", "ResourceGroups", 1), "Microsoft.ManagedIdentity/userAssignedIdentities", "microsoft.managedidentity/USERASSIGNEDIDENTITIES", 1)
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("cased"), azure.Sign(claims)))

	// Non-ASCII letters compare exactly: Ü is not ü.
	f.host("unicode", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-Ünïcode"})
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("unicode"), azure.Token(f.vm("rg-Ünïcode", "vm"), azuretest.TokenOptions{})))
	expectFailure(t, authenticate(t, f.service, account, f.login("unicode"), azure.Token(f.vm("rg-ünïcode", "vm"), azuretest.TokenOptions{})), http.StatusUnauthorized, unauthorized, f.login("unicode"), "CONJ00049E")
}

func TestResourceGroupCalledProvidersWorks(t *testing.T) {
	f := newFixture(t)
	for _, rg := range []string{"myproviders", "providers", "subscriptions"} {
		f.host(rg, rgSpec(rg))
		accessTokenClaims(t, authenticate(t, f.service, account, f.login(rg), azure.Token(f.vm(rg, "vm"), azuretest.TokenOptions{})))
	}
}

// Adversarial tokens: each is refused with the generic 401 and the audit
// code of the README's table.
func TestAdversarialTokensAreRefused(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("victim", rgSpec("rg-apps"))
	good := azure.Claims(vm, azuretest.TokenOptions{})
	key := azure.SigningKey()
	header := map[string]any{"typ": "JWT", "alg": "RS256", "kid": key.ID}
	with := func(k string, v any) map[string]any {
		c := clone(good)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	withHeader := func(k string, v any) map[string]any {
		h := clone(header)
		h[k] = v
		return h
	}
	now := time.Now()
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.Private.PublicKey)
	hs256 := func() string {
		h := azuretest.Segment(map[string]any{"typ": "JWT", "alg": "HS256", "kid": key.ID})
		p := azuretest.Segment(good)
		mac := hmac.New(sha256.New, pubDER)
		mac.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	none := azuretest.Segment(map[string]any{"typ": "JWT", "alg": "none"}) + "." + azuretest.Segment(good) + ".x"
	otherTenant := newTenant()
	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"alg none", none, "CONJ00035E"},
		{"HS256 signed with the provider's public key", hs256(), "CONJ00035E"},
		{"embedded jwk", azure.SignWithHeader(withHeader("jwk", map[string]any{"kty": "RSA"}), good), "CONJ00035E"},
		{"jku header", azure.SignWithHeader(withHeader("jku", "https://127.0.0.1/keys"), good), "CONJ00035E"},
		{"x5u header", azure.SignWithHeader(withHeader("x5u", "https://127.0.0.1/cert"), good), "CONJ00035E"},
		{"x5c header", azure.SignWithHeader(withHeader("x5c", []string{"MIIB"}), good), "CONJ00035E"},
		{"crit header", azure.SignWithHeader(withHeader("crit", []string{"exp"}), good), "CONJ00035E"},
		{"no kid", azure.SignWithHeader(map[string]any{"typ": "JWT", "alg": "RS256"}, good), "CONJ00035E"},
		{"JWE (five parts)", "a.b.c.d.e", "CONJ00077E"},
		{"garbage", "invalidAzureToken", "CONJ00077E"},
		{"bad signature", azure.Sign(good)[:40] + "x" + azure.Sign(good)[41:], "CONJ00035E"},
		{"expired", azure.Token(vm, azuretest.TokenOptions{IssuedAt: now.Add(-25 * time.Hour)}), "CONJ00016E"},
		{"not yet valid", azure.Sign(with("nbf", now.Add(10*time.Minute).Unix())), "CONJ00035E"},
		{"issued in the future", azure.Sign(with("iat", now.Add(10*time.Minute).Unix())), "AZAUTH003E"},
		{"wrong issuer", azure.Sign(with("iss", "https://sts.windows.net/"+f.tenant+"/")), "CONJ00035E"},
		{"tid of another tenant", azure.Sign(with("tid", otherTenant)), "AZAUTH002E"},
		{"another trusted-looking issuer claiming this tenant", azure.Sign(with("iss", azure.IssuerV1(otherTenant))), "CONJ00035E"},
		{"wrong audience", azure.Token(vm, azuretest.TokenOptions{Audience: "https://vault.azure.net"}), "AZAUTH001E"},
		{"audience array without ours", azure.Sign(with("aud", []any{"https://graph.microsoft.com"})), "AZAUTH001E"},
		{"missing xms_mirid", azure.Sign(with("xms_mirid", nil)), "CONJ00051E"},
		{"empty xms_mirid", azure.Sign(with("xms_mirid", "")), "CONJ00051E"},
		{"numeric xms_mirid", azure.Sign(with("xms_mirid", 42)), "CONJ00051E"},
		{"missing oid", azure.Sign(with("oid", nil)), "CONJ00051E"},
		{"empty oid", azure.Sign(with("oid", "")), "CONJ00051E"},
		{"oid as an object", azure.Sign(with("oid", map[string]any{"x": 1})), "CONJ00051E"},
		{"missing tid", azure.Sign(with("tid", nil)), "CONJ00051E"},
		{"missing exp", azure.Sign(with("exp", nil)), "CONJ00051E"},
		{"exp as a string", azure.Sign(with("exp", "2000000000")), "CONJ00051E"},
		{"xms_mirid without providers", azure.Sign(with("xms_mirid", "/subscriptions/"+subscription+"/resourcegroups/rg-apps")), "CONJ00053E"},
		{"xms_mirid with two provider fields", azure.Sign(with("xms_mirid", "/subscriptions/"+subscription+"/resourcegroups/rg-apps/providers/Microsoft.Compute/virtualMachines")), "CONJ00054E"},
		{"xms_mirid with keywords out of place", azure.Sign(with("xms_mirid", "/resourcegroups/rg-apps/subscriptions/"+subscription+"/providers/Microsoft.Compute/virtualMachines/vm")), "CONJ00053E"},
		{"xms_mirid that is not a path", azure.Sign(with("xms_mirid", "vm-1")), "CONJ00053E"},
		{"malformed xms_az_rid", azure.Sign(with("xms_az_rid", "/subscriptions/x")), "CONJ00053E"},
		{"expires too soon for an access token", azure.Token(vm, azuretest.TokenOptions{IssuedAt: now.Add(-time.Hour), Lifetime: time.Hour + 10*time.Second}), "AZAUTH007E"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectFailure(t, authenticate(t, f.service, account, f.login("victim"), tc.token), http.StatusUnauthorized, unauthorized, f.login("victim"), tc.code)
		})
	}
	// And the untouched token works: the refusals are about the changes.
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("victim"), azure.Sign(good)))
}

func TestLoginTricksAreRefused(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	base := "/authn-azure/" + f.service + "/" + account + "/"
	tests := []struct{ name, path string }{
		{"missing host/ prefix", base + f.ns + "%2Fapp/authenticate"},
		{"user login", base + "app/authenticate"},
		{"extra path components", base + "host%2F" + f.ns + "%2Fapp%2Fextra/authenticate"},
		{"unescaped slashes (several segments)", base + "host/" + f.ns + "/app/authenticate"},
		{"double escaping", base + "host%252F" + f.ns + "%252Fapp/authenticate"},
		{"dot-dot namespace", base + "host%2F..%2Fapp/authenticate"},
		{"dot-dot name", base + "host%2F" + f.ns + "%2F../authenticate"},
		{"no login", "/authn-azure/" + f.service + "/" + account + "/authenticate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := postRaw(t, tc.path, "jwt="+token)
			if r.status != http.StatusUnauthorized || r.body != unauthorized {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
	// The same request with the login escaped as the SDK does works.
	accessTokenClaims(t, postRaw(t, base+"host%2F"+f.ns+"%2Fapp/authenticate", "jwt="+token))
}

func TestBodyAndRequestLimits(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	path := "/authn-azure/" + f.service + "/" + account + "/host%2F" + f.ns + "%2Fapp/authenticate"
	r := postRaw(t, path, "jwt="+token+"&pad="+strings.Repeat("x", 70<<10))
	expectFailure(t, r, http.StatusRequestEntityTooLarge, `{"error":{"code":"payload_too_large","message":"AZAUTH005E Request body is too large"}}`, f.login("app"), "AZAUTH005E")
	r = postRaw(t, path, "jwt="+token+"&jwt="+token)
	expectFailure(t, r, http.StatusBadRequest, `{"error":{"code":"bad_request","message":"AZAUTH011E Field 'jwt' appears more than once in request body"}}`, f.login("app"), "AZAUTH011E")
	if r := get(t, path); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET on authenticate: %d", r.status)
	}
	if r := get(t, "/nowhere"); r.status != http.StatusNotFound || !strings.Contains(r.body, `"not_found"`) {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
}

func TestUnknownAccountUnknownServiceAndDisabledAuthenticatorAreGeneric401s(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	expectFailure(t, authenticate(t, f.service, "other-account", f.login("app"), token), http.StatusUnauthorized, unauthorized, f.login("app"), "CONJ00008E")
	expectFailure(t, authenticate(t, "unknown-svc", account, f.login("app"), token), http.StatusUnauthorized, unauthorized, f.login("app"), "CONJ00005E")
	updateAuthenticator(t, f, func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Enabled = ptr.To(false) })
	expectFailure(t, authenticate(t, f.service, account, f.login("app"), token), http.StatusUnauthorized, unauthorized, f.login("app"), "CONJ00004E")
}

// The enumeration property: with a garbage token, or with a valid token
// that does not match the named host, an unknown host, an unadmitted host,
// an admitted host and an unknown service all give the identical 401.
func TestFailuresDoNotTellWhatExists(t *testing.T) {
	f := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.AllowedHosts.HostSelector = nil
	})
	f.host("admitted", rgSpec("rg-admitted"))
	// An unadmitted host: its namespace is not selected.
	outside := &fixture{t: t, ns: f.ns + "-outside", service: f.service}
	create(t, nsObject(outside.ns))
	outside.host("unadmitted", rgSpec("rg-unadmitted"))
	nonMatching := azure.Token(f.vm("rg-somewhere-else", "vm"), azuretest.TokenOptions{})
	for _, token := range []string{"garbage.garbage.garbage", nonMatching} {
		var bodies []string
		for _, c := range []struct{ service, login string }{
			{f.service, f.login("no-such-host")},
			{f.service, outside.login("unadmitted")},
			{f.service, f.login("admitted")},
			{"no-such-service", f.login("admitted")},
		} {
			r := authenticate(t, c.service, account, c.login, token)
			bodies = append(bodies, fmt.Sprintf("%d %s %s", r.status, r.body, r.header.Get("Content-Type")))
		}
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Fatalf("answers differ:\n%s", strings.Join(bodies, "\n"))
			}
		}
		if !strings.HasPrefix(bodies[0], "401 "+unauthorized) {
			t.Fatalf("got %s", bodies[0])
		}
	}
}

func TestAcceptEncodingBase64(t *testing.T) {
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	for _, ae := range []string{"base64", "gzip , bASe64 ,deflate"} {
		r := authenticate(t, f.service, account, f.login("app"), token, "Accept-Encoding", ae)
		if r.status != http.StatusOK || r.header.Get("Content-Encoding") != "base64" || r.header.Get("Content-Type") != "text/plain" {
			t.Fatalf("%q: %d %v", ae, r.status, r.header)
		}
		raw, err := base64.StdEncoding.DecodeString(r.body)
		if err != nil || !json.Valid(raw) {
			t.Fatalf("%q: body is not base64 of the token JSON: %v", ae, err)
		}
	}
	r := authenticate(t, f.service, account, f.login("app"), token)
	if r.header.Get("Content-Type") != "application/json" || strings.HasSuffix(r.body, "\n") {
		t.Fatalf("plain response: %v %q", r.header, r.body)
	}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
