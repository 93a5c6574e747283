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

package authn_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Two Authorization headers are a malformed header, whatever they hold:
// a proxy that checks one and a server that reads the other would each
// see a different caller. Found by test/e2e's hostile table.
func TestTwoAuthorizationHeadersAreTheGeneric401(t *testing.T) {
	w := newWorld(t, nil)
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, nil)
	rec := w.authenticate("host/apps/app", azure.Token(vm, azuretest.TokenOptions{}), "127.0.0.1:1")
	w.expectOK(rec)
	valid := `Token token="` + base64.StdEncoding.EncodeToString(rec.Body.Bytes()) + `"`
	for _, route := range []string{"/whoami", "/secrets/default/variable/apps%2Fs%2Fk", "/secrets?variable_ids=apps/s/k", "/authn-azure/prod/default/status"} {
		for _, second := range []string{"Token", valid} {
			r := httptest.NewRequest(http.MethodGet, route, nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Header.Add("Authorization", valid)
			r.Header.Add("Authorization", second)
			w.expectRefused(w.serve(r), "AZAUTH012E", "127.0.0.1")
		}
	}
}

// The status route answers 403 to a host an authenticator does not admit
// before it reports on the authenticator's health (README: 404, 403, then
// 200 or 500). A disabled authenticator admits no one, yet only the hosts
// its selectors choose may learn that it is disabled. Found by test/e2e's
// hostile table.
func TestStatusOfADisabledAuthenticatorIsForTheHostsItWouldAdmit(t *testing.T) {
	w := newWorld(t, nil)
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, nil)
	rec := w.authenticate("host/apps/app", azure.Token(vm, azuretest.TokenOptions{}), "127.0.0.1:1")
	w.expectOK(rec)
	ours, _ := labels.Parse("team=a")
	theirs, _ := labels.Parse("team=b")
	for _, a := range []*policy.Authenticator{
		{ServiceID: "off-ours", NamespaceSelector: ours, HostSelector: labels.Everything(), TokenTTL: time.Minute},
		{ServiceID: "off-theirs", NamespaceSelector: theirs, HostSelector: labels.Everything(), TokenTTL: time.Minute},
	} {
		w.index.PutAuthenticator(a)
	}
	status := func(service string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/authn-azure/"+service+"/default/status", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("Authorization", `Token token="`+base64.StdEncoding.EncodeToString(rec.Body.Bytes())+`"`)
		return w.serve(r)
	}
	if got := status("off-ours"); got.Code != http.StatusInternalServerError ||
		got.Body.String() != `{"status":"error","error":"CONJ00004E 'authn-azure/off-ours' is not enabled"}` || w.lastEvent(got).Code != "CONJ00004E" {
		t.Fatalf("disabled, would admit: %d %s", got.Code, got.Body)
	}
	want := `{"error":{"code":"forbidden","message":"CONJ00006E 'host/apps/app' does not have 'authenticate' privilege on default:webservice:conjur/authn-azure/off-theirs"}}`
	if got := status("off-theirs"); got.Code != http.StatusForbidden || got.Body.String() != want || w.lastEvent(got).Code != "CONJ00006E" {
		t.Fatalf("disabled, would not admit: %d %s", got.Code, got.Body)
	}
}
