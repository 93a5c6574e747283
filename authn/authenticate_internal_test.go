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

package authn

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// A host deleted, or an authenticator disabled, while the request waits on
// a provider key fetch gets no token: the decision is read once the token
// is verified, not before.
func TestWhatChangesWhileAKeyFetchIsAwaitedDecides(t *testing.T) {
	azure := azuretest.NewServer()
	t.Cleanup(azure.Close)
	azure.SetDelay(200 * time.Millisecond) // the fetch is awaited, not already done
	for _, tc := range []struct {
		name, code, tenant string
		change             func(*policy.Index, *policy.Authenticator)
	}{
		{"host deleted", "CONJ00007E", "3c4d5e6f-0000-4000-8000-000000000001", func(ix *policy.Index, _ *policy.Authenticator) {
			ix.DeleteHost(policy.HostID{Namespace: "apps", Name: "app"})
		}},
		{"authenticator disabled", "CONJ00005E", "3c4d5e6f-0000-4000-8000-000000000002", func(ix *policy.Index, a *policy.Authenticator) {
			disabled := *a
			disabled.Enabled = false
			ix.PutAuthenticator(&disabled)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenant := tc.tenant // one per case: a provider not fetched yet
			vm := azuretest.VM(tenant, "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", "rg-apps", "vm-1")
			id, err := armid.Parse(vm.MIRID)
			if err != nil {
				t.Fatal(err)
			}
			ix := policy.NewIndex()
			ix.PutNamespace("apps", labels.Set{})
			auth := &policy.Authenticator{ServiceID: "prod", Enabled: true, TokenTTL: 8 * time.Minute, ClockSkew: time.Minute,
				Audiences: []string{"https://management.azure.com/"}, NamespaceSelector: labels.Everything(), HostSelector: labels.Everything(),
				Providers: []policy.Provider{{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}}}
			ix.PutAuthenticator(auth)
			ix.PutHost(&policy.Host{ID: policy.HostID{Namespace: "apps", Name: "app"}, UID: "uid", Generation: 1,
				SubscriptionID: armid.FoldASCII(id.SubscriptionID), ResourceGroup: armid.FoldASCII(id.ResourceGroup)})
			ix.MarkSynced()
			key, err := accesstoken.NewSigningKey(time.Now().Add(-time.Minute), time.Now().Add(-time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			var audit bytes.Buffer
			h, err := New(Config{Account: "default", Index: ix, Audit: &audit, Signing: oneKey{accesstoken.NewRing([]*accesstoken.SigningKey{key})},
				Keys: azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext})})
			if err != nil {
				t.Fatal(err)
			}
			waited := false
			h.routeFn = func(w http.ResponseWriter, r *http.Request, req request) {
				r = r.WithContext(azuread.WithWaitHook(r.Context(), func() func() {
					waited = true
					tc.change(ix, auth)
					return nil
				}))
				h.route(w, r, req)
			}
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/authn-azure/prod/default/"+url.PathEscape("host/apps/app")+"/authenticate",
				strings.NewReader("jwt="+azure.Token(vm, azuretest.TokenOptions{})))
			r.RemoteAddr = "127.0.0.1:1"
			h.ServeHTTP(rec, r)
			if !waited {
				t.Fatal("the request did not wait on a key fetch: the test proves nothing")
			}
			var e AuditEvent
			if err := json.Unmarshal(bytes.TrimSpace(audit.Bytes()), &e); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusUnauthorized || e.Code != tc.code {
				t.Fatalf("%d %s, audit %+v; want 401 with %s", rec.Code, rec.Body, e, tc.code)
			}
		})
	}
}
