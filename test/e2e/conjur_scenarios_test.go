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
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// Conjur's 31 authn-azure acceptance scenarios (cucumber/authenticators_azure),
// adapted as docs/conjur-scenarios.md explains. Names: feature, number, title.

func decodeStd(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func rgSpec(rg string) authnv1alpha1.AzureHostSpec {
	return authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: rg}
}

// closedPort is a loopback port nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// crdRefuses asserts that the API server refuses obj with a message
// containing want.
func crdRefuses(t *testing.T, obj client.Object, want string) {
	t.Helper()
	err := k8s.Create(context.Background(), obj, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("create = %v, want a refusal mentioning %q", err, want)
	}
}

// --- authn_azure_bad_configuration.feature ---

func TestConjur_BadConfiguration_1_ProviderURIMissingIsRefused(t *testing.T) {
	crdRefuses(t, &authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "no-providers"}}, "spec.providers")
}

func TestConjur_BadConfiguration_2_ProviderURIWithoutValueIsRefused(t *testing.T) {
	crdRefuses(t, &authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "empty-provider"},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{Providers: []authnv1alpha1.Provider{{URI: ""}}}}, "spec.providers[0].uri")
}

func TestConjur_BadConfiguration_3_WebserviceMissingIsDenied(t *testing.T) {
	f := newFixture(t)
	f.host("test-app", rgSpec("rg-apps"))
	r := authenticate(t, "no-such-service", account, f.login("test-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	expectFailure(t, r, http.StatusUnauthorized, unauthorized, f.login("test-app"), "CONJ00005E")
}

func TestConjur_BadConfiguration_4_NoAuthenticatePermissionIsForbidden(t *testing.T) {
	f := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.AllowedHosts.HostSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"group": "apps"}}
	})
	f.host("test-app", rgSpec("rg-apps")) // not labelled group=apps
	r := authenticate(t, f.service, account, f.login("test-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	want := `{"error":{"code":"forbidden","message":"CONJ00006E '` + f.login("test-app") + `' does not have 'authenticate' privilege on default:webservice:conjur/authn-azure/` + f.service + `"}}`
	expectFailure(t, r, http.StatusForbidden, want, f.login("test-app"), "CONJ00006E")
}

func TestConjur_BadConfiguration_5_UnreachableProviderIsDenied(t *testing.T) {
	// Conjur used an invalid hostname; here: a closed loopback port.
	port, tenant := closedPort(t), newTenant()
	issuer := "https://" + port + "/" + tenant + "/"
	f := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.Providers = []authnv1alpha1.Provider{{URI: issuer}}
	})
	f.host("test-app", rgSpec("rg-apps"))
	claims := azure.Claims(azuretest.VM(tenant, subscription, "rg-apps", "vm-1"), azuretest.TokenOptions{})
	claims["iss"] = issuer
	r := authenticate(t, f.service, account, f.login("test-app"), azure.Sign(claims))
	expectFailure(t, r, http.StatusUnauthorized, unauthorized, f.login("test-app"), "CONJ00011E")
}

// --- authn_azure_basic_host.feature ---

func TestConjur_BasicHost_1_HostAuthenticatesAndFetchesASecret(t *testing.T) {
	f := newFixture(t)
	f.host("test-app", rgSpec("rg-apps"))
	f.exposedSecret("test-variable", "test-app", map[string][]byte{"value": []byte("test-secret")})
	r := authenticate(t, f.service, account, f.login("test-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	if c := accessTokenClaims(t, r); c["sub"] != f.login("test-app") {
		t.Fatalf("sub = %v", c["sub"])
	}
	if got := fetch(t, r.body, f.ns+"/test-variable/value"); got.status != http.StatusOK || got.body != "test-secret" {
		t.Fatalf("fetching the secret: %d %s", got.status, got.body)
	}
	if e := lastAudit(t, "authenticate", f.login("test-app")); e.Result != "success" || e.Service != f.service || e.Account != account {
		t.Fatalf("audit = %+v", e)
	}
}

func TestConjur_BasicHost_2_ProviderURIWithoutTrailingSlashWorks(t *testing.T) {
	f := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.Providers[0].URI = strings.TrimSuffix(a.Spec.Providers[0].URI, "/")
	})
	f.host("test-app", rgSpec("rg-apps"))
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("test-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})))
}

func TestConjur_BasicHost_3_ChangingTheProviderTakesEffectAtOnce(t *testing.T) {
	f := newFixture(t)
	f.host("test-app", rgSpec("rg-apps"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("test-app"), token))

	good := f.auth.Spec.Providers
	setProviders(t, f, []authnv1alpha1.Provider{{URI: "https://" + closedPort(t) + "/" + f.tenant + "/"}})
	expectFailure(t, authenticate(t, f.service, account, f.login("test-app"), token), http.StatusUnauthorized, unauthorized, f.login("test-app"), "CONJ00035E")

	setProviders(t, f, good)
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("test-app"), token))
}

func TestConjur_BasicHost_4_MissingAzureTokenIsBadRequest(t *testing.T) {
	f := newFixture(t)
	r := postRaw(t, "/authn-azure/"+f.service+"/"+account+"/"+"host%2F"+f.ns+"%2Ftest-app/authenticate", "")
	expectFailure(t, r, http.StatusBadRequest, `{"error":{"code":"bad_request","message":"CONJ00009E Field 'jwt' is missing or empty in request body"}}`, f.login("test-app"), "CONJ00009E")
}

func TestConjur_BasicHost_5_EmptyAzureTokenIsBadRequest(t *testing.T) {
	f := newFixture(t)
	r := authenticate(t, f.service, account, f.login("test-app"), "")
	expectFailure(t, r, http.StatusBadRequest, `{"error":{"code":"bad_request","message":"CONJ00009E Field 'jwt' is missing or empty in request body"}}`, f.login("test-app"), "CONJ00009E")
}

// --- authn_azure_hosts.feature ---

func TestConjur_Hosts_1_UserAssignedIdentityIsAuthorized(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-compute", "vm-1")
	f.host("uami-app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-identities", UserAssignedIdentity: "id-app"})
	id := azuretest.UserAssigned(f.tenant, subscription, "rg-identities", "id-app", vm.MIRID)
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("uami-app"), azure.Token(id, azuretest.TokenOptions{})))
}

func TestConjur_Hosts_2_SystemAssignedIdentityIsAuthorized(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("sami-app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: vm.ObjectID})
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("sami-app"), azure.Token(vm, azuretest.TokenOptions{})))
}

func TestConjur_Hosts_3_HostWithoutResourceGroupIsRefused(t *testing.T) {
	crdRefuses(t, &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "no-rg"},
		Spec: authnv1alpha1.AzureHostSpec{SubscriptionID: subscription}}, "spec.resourceGroup")
}

func TestConjur_Hosts_4_HostWithoutSubscriptionIsRefused(t *testing.T) {
	crdRefuses(t, &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "no-sub"},
		Spec: authnv1alpha1.AzureHostSpec{ResourceGroup: "rg"}}, "spec.subscriptionID")
}

func TestConjur_Hosts_5_HostWithoutAnyAzureFieldIsRefused(t *testing.T) {
	crdRefuses(t, &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "empty"}}, "spec.subscriptionID")
}

func TestConjur_Hosts_6_HostWithBothIdentitiesIsRefused(t *testing.T) {
	crdRefuses(t, &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "both"},
		Spec: authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg", UserAssignedIdentity: "id-app", SystemAssignedIdentity: subscription}},
		"set at most one of userAssignedIdentity and systemAssignedIdentity")
}

func TestConjur_Hosts_7_to_10_IncorrectRestrictionsAreDenied(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	uami := azuretest.UserAssigned(f.tenant, subscription, "rg-apps", "id-app", vm.MIRID)
	tests := []struct {
		name  string
		spec  authnv1alpha1.AzureHostSpec
		token string
	}{
		{"incorrect-subscription", authnv1alpha1.AzureHostSpec{SubscriptionID: "00000000-0000-4000-8000-000000000000", ResourceGroup: "rg-apps"}, azure.Token(vm, azuretest.TokenOptions{})},
		{"incorrect-resource-group", rgSpec("rg-other"), azure.Token(vm, azuretest.TokenOptions{})},
		{"incorrect-user-assigned", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", UserAssignedIdentity: "id-other"}, azure.Token(uami, azuretest.TokenOptions{})},
		{"incorrect-system-assigned", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: "00000000-0000-4000-8000-000000000000"}, azure.Token(vm, azuretest.TokenOptions{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.host(tc.name, tc.spec)
			expectFailure(t, authenticate(t, f.service, account, f.login(tc.name), tc.token), http.StatusUnauthorized, unauthorized, f.login(tc.name), "CONJ00049E")
		})
	}
}

func TestConjur_Hosts_11_NonExistingHostIsDenied(t *testing.T) {
	f := newFixture(t)
	r := authenticate(t, f.service, account, f.login("non-existing-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	expectFailure(t, r, http.StatusUnauthorized, unauthorized, f.login("non-existing-app"), "CONJ00007E")
	if e := lastAudit(t, "authenticate", f.login("non-existing-app")); e.Service != f.service || !strings.Contains(e.Reason, "not found") {
		t.Fatalf("audit = %+v", e)
	}
}

func TestConjur_Hosts_12_HostNotPermittedIsForbidden(t *testing.T) {
	f := newFixture(t)
	// The host lives in a namespace the authenticator does not select.
	other := &fixture{t: t, ns: f.ns + "-other", service: f.service, tenant: f.tenant}
	create(t, nsObject(other.ns))
	other.host("test-app", rgSpec("rg-apps"))
	r := authenticate(t, f.service, account, other.login("test-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "CONJ00006E") {
		t.Fatalf("got %d %s, want 403", r.status, r.body)
	}
	if e := lastAudit(t, "authenticate", other.login("test-app")); e.Code != "CONJ00006E" {
		t.Fatalf("audit = %+v", e)
	}
}

func TestConjur_Hosts_13_FailureIsWrittenToTheAuditLog(t *testing.T) {
	f := newFixture(t)
	f.host("no-resource-group-app", rgSpec("rg-elsewhere"))
	authenticate(t, f.service, account, f.login("no-resource-group-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	e := lastAudit(t, "authenticate", f.login("no-resource-group-app"))
	if e.Result != "failure" || e.Service != f.service || e.Account != account || e.ClientIP != "127.0.0.1" || e.Code != "CONJ00049E" || !strings.Contains(e.Reason, "resource-group") {
		t.Fatalf("audit = %+v", e)
	}
}

// --- authn_azure_performance.feature: the request kinds, checked for
// correctness under 10 concurrent clients; their speed is measured by
// BenchmarkAuthenticate, never asserted. ---

func TestConjur_Performance_1_to_4_RequestKindsUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	f.host("test-app", rgSpec("rg-apps"))
	f.host("no-azure-annotations-app", rgSpec("rg-nothing-matches"))
	token := azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})
	kinds := []struct {
		name   string
		login  string
		token  string
		header []string
		status int
	}{
		{"successful requests", "test-app", token, nil, http.StatusOK},
		{"successful requests with Accept-Encoding base64", "test-app", token, []string{"Accept-Encoding", "base64"}, http.StatusOK},
		{"invalid token", "test-app", "invalidAzureToken", nil, http.StatusUnauthorized},
		{"invalid resource restrictions", "no-azure-annotations-app", token, nil, http.StatusUnauthorized},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan string, 100)
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 10 {
						r := authenticate(t, f.service, account, f.login(k.login), k.token, k.header...)
						if r.status != k.status {
							errs <- r.body
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Fatalf("unexpected answer: %s", e)
			}
		})
	}
}

// --- authn_azure_via_api.feature ---

func TestConjur_ViaAPI_1_AuthenticatorCreatedThroughTheAPIAuthorizesUserAssigned(t *testing.T) {
	// Conjur's V2 authenticators API becomes creating an AzureAuthenticator.
	f := newFixture(t)
	f.host("uami-app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-identities", UserAssignedIdentity: "id-app"})
	id := azuretest.UserAssigned(f.tenant, subscription, "rg-identities", "id-app", f.vm("rg-compute", "vm-1").MIRID)
	accessTokenClaims(t, authenticate(t, f.service, account, f.login("uami-app"), azure.Token(id, azuretest.TokenOptions{})))
}

// --- authn_status_azure.feature (the status user becomes an admitted host) ---

func TestConjur_Status_1_ProperlyConfiguredAuthenticatorIsOK(t *testing.T) {
	f := newFixture(t)
	f.host("status-app", rgSpec("rg-apps"))
	tok := authenticate(t, f.service, account, f.login("status-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	r := get(t, "/authn-azure/"+f.service+"/"+account+"/status", "Authorization", authorization(tok.body))
	if r.status != http.StatusOK || r.body != `{"status":"ok"}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s %v", r.status, r.body, r.header)
	}
}

func TestConjur_Status_2_NonResponsiveProviderIs500(t *testing.T) {
	f := newFixture(t)
	f.host("status-app", rgSpec("rg-apps"))
	tok := authenticate(t, f.service, account, f.login("status-app"), azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
	// A second authenticator admitting the same host, with a provider that
	// never answers.
	broken := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.Providers = []authnv1alpha1.Provider{{URI: "https://" + closedPort(t) + "/" + newTenant() + "/"}}
		a.Spec.AllowedHosts.NamespaceSelector.MatchLabels = map[string]string{"authn-test": f.ns}
	})
	r := get(t, "/authn-azure/"+broken.service+"/"+account+"/status", "Authorization", authorization(tok.body))
	if r.status != http.StatusInternalServerError || !strings.HasPrefix(r.body, `{"status":"error","error":"CONJ00011E `) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if strings.Contains(r.body, "127.0.0.1") || strings.Contains(r.body, "https") {
		t.Fatalf("the status body leaks the provider URL: %s", r.body)
	}
}

func TestConjur_Status_3_ProviderURIMissingIsRefused(t *testing.T) {
	// Conjur answered 500 for a missing provider-uri; here such an
	// authenticator cannot exist.
	crdRefuses(t, &authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "status-no-provider"},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{Providers: []authnv1alpha1.Provider{}}}, "spec.providers")
}

// authorization is the Conjur header for a token response body.
func authorization(tokenJSON string) string {
	return `Token token="` + base64.StdEncoding.EncodeToString([]byte(tokenJSON)) + `"`
}

func setProviders(t *testing.T, f *fixture, providers []authnv1alpha1.Provider) {
	t.Helper()
	updateAuthenticator(t, f, func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Providers = providers })
}
