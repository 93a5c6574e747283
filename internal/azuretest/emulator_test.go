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

package azuretest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

func startDefaultWorld(t *testing.T) *azuretest.Emulator {
	t.Helper()
	w, err := azuretest.LoadWorld(filepath.Join(testenv.RepoRoot(), "hack", "azure-world.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := azuretest.StartEmulator(w, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

var client = &http.Client{Transport: loopback.Transport(), Timeout: 10 * time.Second}

// call returns status and decoded JSON body.
func call(t *testing.T, rawURL string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

const arm = "https%3A%2F%2Fmanagement.azure.com%2F"

func TestIMDSBehavesLikeAzure(t *testing.T) {
	e := startDefaultWorld(t)
	vm := e.Machine("ledger-vm")
	ok := vm.URL + "?api-version=2018-02-01&resource=" + arm
	tests := []struct {
		name   string
		url    string
		header []string
		status int
		desc   string
	}{
		{"no Metadata header", ok, nil, 400, "Required metadata header not specified"},
		{"Metadata not exactly true", ok, []string{"Metadata", "True"}, 400, "Required metadata header not specified"},
		{"X-Forwarded-For is refused", ok, []string{"Metadata", "true", "X-Forwarded-For", "10.0.0.1"}, 400, "X-Forwarded-For"},
		{"no api-version", vm.URL + "?resource=" + arm, []string{"Metadata", "true"}, 400, "api-version was not specified"},
		{"duplicate parameters", ok + "&resource=" + arm, []string{"Metadata", "true"}, 400, "Duplicate"},
		{"an identity that is not attached", ok + "&client_id=00000000-0000-4000-8000-000000000000", []string{"Metadata", "true"}, 400, "Identity not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, tc.url, tc.header...)
			if status != tc.status || !strings.Contains(body["error_description"].(string), tc.desc) {
				t.Fatalf("got %d %v", status, body)
			}
		})
	}
	status, body := call(t, ok, "Metadata", "true")
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	for _, field := range []string{"access_token", "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before", "resource", "token_type"} {
		if _, isString := body[field].(string); !isString {
			t.Errorf("%s is not a JSON string: %v", field, body[field])
		}
	}
	c := claimsOf(t, body["access_token"].(string))
	if c["aud"] != "https://management.azure.com/" || c["oid"] != "1e2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8" ||
		!strings.HasSuffix(c["xms_mirid"].(string), "/resourcegroups/rg-payments/providers/Microsoft.Compute/virtualMachines/ledger-vm") {
		t.Fatalf("claims %v", c)
	}
	if c["nbf"] != c["iat"] {
		t.Errorf("nbf %v != iat %v", c["nbf"], c["iat"])
	}
}

func TestIMDSDefaultIdentityRules(t *testing.T) {
	w := &azuretest.World{
		Tenants: []string{"72f988bf-86f1-41af-91ab-2d7cd011db47"},
		UserAssignedIdentities: []azuretest.UserAssignedSpec{
			{Name: "id-a", Subscription: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg-ids"},
			{Name: "id-b", Subscription: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg-ids"},
		},
		Machines: []azuretest.ComputeSpec{
			{Name: "two-uamis", Subscription: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg", UserAssigned: []string{"id-a", "id-b"}},
			{Name: "one-uami", Subscription: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg", UserAssigned: []string{"id-a"}},
			{Name: "none", Subscription: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg"},
			{Name: "both", Subscription: "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", ResourceGroup: "rg",
				SystemAssigned: &azuretest.SystemAssignedSpec{}, UserAssigned: []string{"id-b"}},
		},
	}
	e, err := azuretest.StartEmulator(w, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	q := "?api-version=2018-02-01&resource=" + arm
	get := func(machine, extra string) (int, map[string]any) {
		return call(t, e.Machine(machine).URL+q+extra, "Metadata", "true")
	}
	if status, body := get("two-uamis", ""); status != 400 || body["error_description"] != "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request" {
		t.Fatalf("two UAMIs, no selector: %d %v", status, body)
	}
	idB := e.Machine("two-uamis").Compute.UserAssigned[1]
	for _, sel := range []string{"&client_id=" + idB.ClientID, "&object_id=" + idB.ObjectID, "&msi_res_id=" + url.QueryEscape(strings.ToUpper(idB.MIRID))} {
		status, body := get("two-uamis", sel)
		if status != 200 || claimsOf(t, body["access_token"].(string))["oid"] != idB.ObjectID {
			t.Fatalf("selector %s: %d %v", sel, status, body)
		}
	}
	if status, body := get("one-uami", ""); status != 200 || !strings.Contains(claimsOf(t, body["access_token"].(string))["xms_mirid"].(string), "id-a") {
		t.Fatalf("the only UAMI is the default: %d %v", status, body)
	}
	if status, body := get("none", ""); status != 400 || body["error_description"] != "Identity not found" {
		t.Fatalf("no identity at all: %d %v", status, body)
	}
	status, body := get("both", "")
	if c := claimsOf(t, body["access_token"].(string)); status != 200 || c["xms_az_rid"] != nil {
		t.Fatalf("the system identity is the default: %d %v", status, c)
	}
}

func TestAppServiceEndpointBehavesLikeAzure(t *testing.T) {
	e := startDefaultWorld(t)
	app := e.App("billing-api")
	base := app.URL + "?api-version=2019-08-01&resource=" + arm
	if status, _ := call(t, base); status != 401 {
		t.Fatalf("no X-IDENTITY-HEADER: %d", status)
	}
	if status, _ := call(t, app.URL+"?api-version=2018-02-01&resource="+arm, "X-IDENTITY-HEADER", app.Secret); status != 400 {
		t.Fatalf("wrong api-version: %d", status)
	}
	uami := app.Compute.UserAssigned[0]
	status, body := call(t, base+"&principal_id="+uami.ObjectID, "X-IDENTITY-HEADER", app.Secret)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	if _, has := body["expires_in"]; has {
		t.Error("App Service answers carry no expires_in")
	}
	c := claimsOf(t, body["access_token"].(string))
	if !strings.HasSuffix(c["xms_az_rid"].(string), "/providers/Microsoft.Web/sites/billing-api") {
		t.Fatalf("claims %v", c)
	}
}

// Fidelity, checked by a client nobody here wrote: the Azure SDK for Go's
// ManagedIdentityCredential gets a token from the App Service endpoint
// through IDENTITY_ENDPOINT and IDENTITY_HEADER.
func TestAzureSDKManagedIdentityCredentialUsesTheAppServiceEndpoint(t *testing.T) {
	e := startDefaultWorld(t)
	app := e.App("billing-api")
	t.Setenv("IDENTITY_ENDPOINT", app.URL)
	t.Setenv("IDENTITY_HEADER", app.Secret)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: client, Retry: azpolicy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, azpolicy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	c := claimsOf(t, tok.Token)
	if c["oid"] != app.Compute.UserAssigned[0].ObjectID || !strings.HasPrefix(c["aud"].(string), "https://management.azure.com") {
		t.Fatalf("claims %v", c)
	}
	if time.Until(tok.ExpiresOn) < 23*time.Hour {
		t.Fatalf("ExpiresOn %v: the SDK misread expires_on", tok.ExpiresOn)
	}
}

func TestEmulatorRefusesNonLoopbackAddresses(t *testing.T) {
	if _, err := azuretest.StartEmulator(&azuretest.World{Tenants: []string{"72f988bf-86f1-41af-91ab-2d7cd011db47"}}, "0.0.0.0"); err == nil {
		t.Fatal("listening on 0.0.0.0 was allowed")
	}
}
