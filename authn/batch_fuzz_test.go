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
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

// FuzzBatch sends arbitrary variable_ids to the batch route with a valid
// access token: the answer is one of the documented statuses, never a
// 500; a 200 holds exactly the ids asked for (as sent), each the value of
// a key the host was granted in its own namespace.
func FuzzBatch(f *testing.F) {
	for _, s := range []string{"apps/db/k0", "apps/db/k0,apps/db/k1", "default:variable:apps/db/k0", "apps/db/nope", "other/db/k0",
		"apps/closed/k0", ",", "apps/db/k0,", "apps%2Fdb%2Fk0", "apps/db/k0,apps/db/k0", "apps/db/bin", "apps/../db/k0"} {
		f.Add(s)
	}
	store := secrets.NewStore()
	store.MarkSynced()
	granted := map[string][]byte{"k0": []byte("v0"), "k1": []byte("v1"), "bin": {0xff, 0xfe}}
	store.Put("apps", "db", secrets.Compile("apps", "db", map[string]string{secrets.ExposeLabel: "true"},
		map[string]string{secrets.AllowedHostsAnnotation: "app"}, granted))
	store.Put("apps", "closed", secrets.Compile("apps", "closed", map[string]string{secrets.ExposeLabel: "true"},
		map[string]string{secrets.AllowedHostsAnnotation: "someone-else"}, map[string][]byte{"k0": []byte("no")}))
	store.Put("other", "db", secrets.Compile("other", "db", map[string]string{secrets.ExposeLabel: "true"},
		map[string]string{secrets.AllowedHostsAnnotation: "*"}, map[string][]byte{"k0": []byte("theirs")}))
	w := newWorld(f, func(c *authn.Config) { c.Secrets = store; c.Audit = nil })
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, nil)
	rec := w.authenticate("host/apps/app", azure.Token(vm, azuretest.TokenOptions{}), "127.0.0.1:1")
	if rec.Code != http.StatusOK {
		f.Fatalf("authenticate: %d %s", rec.Code, rec.Body)
	}
	authz := `Token token="` + base64.StdEncoding.EncodeToString(rec.Body.Bytes()) + `"`
	batch := func(ids string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/secrets?variable_ids="+url.QueryEscape(ids), nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set("Authorization", authz)
		rec := httptest.NewRecorder()
		w.server.ServeHTTP(rec, r)
		return rec
	}
	// The rule below binds only what is served: the seed must be.
	if rec := batch("apps/db/k0,apps/db/k1"); rec.Code != http.StatusOK {
		f.Fatalf("the seed batch: %d %s", rec.Code, rec.Body)
	}
	f.Fuzz(func(t *testing.T, ids string) {
		rec := batch(ids)
		switch rec.Code {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusNotAcceptable:
			return
		case http.StatusOK:
		default:
			t.Fatalf("variable_ids=%q: %d %s", ids, rec.Code, rec.Body)
		}
		var got map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("variable_ids=%q: 200 with %q: %v", ids, rec.Body, err)
		}
		for _, id := range strings.Split(ids, ",") {
			key := strings.TrimPrefix(strings.TrimPrefix(id, "default:variable:"), "apps/db/")
			want, ok := granted[key]
			if !ok || got[id] != string(want) {
				t.Fatalf("variable_ids=%q: %q answered %q", ids, id, got[id])
			}
		}
	})
}
