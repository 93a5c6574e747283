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

package azuretest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// IMDS returns a handler for the Instance Metadata Service identity route,
// /metadata/identity/oauth2/token, of one machine whose identities are ids
// (the first is the default). It behaves as Azure's does where clients
// notice: it requires the header Metadata: true, refuses requests with
// X-Forwarded-For, requires api-version, selects an identity by client_id,
// object_id or msi_res_id, turns resource into the token's aud, and writes
// every field as a JSON string. Serve it on loopback only.
func (s *Server) IMDS(ids ...Identity) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status int, code, desc string) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		}
		switch {
		case r.URL.Path != "/metadata/identity/oauth2/token":
			http.NotFound(w, r)
			return
		case r.Method != http.MethodGet:
			fail(http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
			return
		case r.Header.Get("Metadata") != "true":
			fail(http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
			return
		case r.Header.Get("X-Forwarded-For") != "":
			fail(http.StatusBadRequest, "invalid_request", "Request contains X-Forwarded-For header")
			return
		}
		q := r.URL.Query()
		if q.Get("api-version") == "" {
			fail(http.StatusBadRequest, "invalid_request", "Bad request. api-version was not specified in the request")
			return
		}
		resource := q.Get("resource")
		if resource == "" {
			fail(http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
			return
		}
		var chosen *Identity
		for i := range ids {
			id := &ids[i]
			switch {
			case q.Get("client_id") != "" && q.Get("client_id") == id.ClientID,
				q.Get("object_id") != "" && q.Get("object_id") == id.ObjectID,
				q.Get("msi_res_id") != "" && q.Get("msi_res_id") == id.MIRID:
				chosen = id
			}
		}
		if q.Get("client_id") == "" && q.Get("object_id") == "" && q.Get("msi_res_id") == "" && len(ids) > 0 {
			chosen = &ids[0]
		}
		if chosen == nil {
			fail(http.StatusBadRequest, "invalid_request", "Identity not found")
			return
		}
		now := s.Now()
		exp := now.Add(DefaultLifetime)
		token := s.Token(*chosen, TokenOptions{Audience: resource, IssuedAt: now})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token":   token,
			"client_id":      chosen.ClientID,
			"expires_in":     strconv.FormatInt(int64(DefaultLifetime/time.Second), 10),
			"expires_on":     strconv.FormatInt(exp.Unix(), 10),
			"ext_expires_in": strconv.FormatInt(int64(DefaultLifetime/time.Second), 10),
			"not_before":     strconv.FormatInt(now.Unix(), 10),
			"resource":       resource,
			"token_type":     "Bearer",
		})
	})
}
