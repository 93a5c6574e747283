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
	"strings"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/armid"
)

// Compute is an emulated compute resource (a VM, scale set, container
// group, App Service app, ...) and the managed identities attached to it.
type Compute struct {
	ResourceID string
	// System is its system-assigned identity; nil when it has none.
	System *Identity
	// UserAssigned are the user-assigned identities attached to it; their
	// AzRID is ResourceID.
	UserAssigned []Identity
}

// Identity endpoint errors, with Azure's texts.
const (
	errIdentityNotFound   = "Identity not found"
	errMultipleIdentities = "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"
)

// selectIdentity applies Azure's rules: at most one selector; with none,
// the system-assigned identity if there is one, else the only
// user-assigned one; a selector must name an attached identity.
func (c Compute) selectIdentity(clientID, objectID, resourceID string) (*Identity, string) {
	n := 0
	for _, v := range []string{clientID, objectID, resourceID} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, "Only one of client_id, object_id and msi_res_id may be specified"
	case n == 0 && c.System != nil:
		return c.System, ""
	case n == 0 && len(c.UserAssigned) == 1:
		return &c.UserAssigned[0], ""
	case n == 0 && len(c.UserAssigned) > 1:
		return nil, errMultipleIdentities
	case n == 0:
		return nil, errIdentityNotFound
	}
	all := c.UserAssigned
	if c.System != nil {
		all = append([]Identity{*c.System}, all...)
	}
	for i := range all {
		id := &all[i]
		switch {
		case clientID != "" && strings.EqualFold(clientID, id.ClientID),
			objectID != "" && strings.EqualFold(objectID, id.ObjectID),
			resourceID != "" && id.AzRID != "" && sameResource(resourceID, id.MIRID):
			return id, ""
		}
	}
	return nil, errIdentityNotFound
}

func sameResource(a, b string) bool {
	x, err1 := armid.Parse(a)
	y, err2 := armid.Parse(b)
	return err1 == nil && err2 == nil && x.Equal(y)
}

func writeIdentityError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// singleValued refuses repeated query parameters, as IMDS does.
func singleValued(r *http.Request) bool {
	for _, v := range r.URL.Query() {
		if len(v) > 1 {
			return false
		}
	}
	return true
}

// IMDS returns a handler for the Instance Metadata Service identity route,
// /metadata/identity/oauth2/token, of one machine (each real VM has its
// own IMDS, so serve one handler per listener). Like Azure's: it requires
// the header Metadata: true, refuses X-Forwarded-For and repeated
// parameters, requires api-version and resource, selects the identity by
// client_id, object_id or msi_res_id with the default-identity rules, makes
// resource the token's aud, and writes every field as a JSON string.
// Serve it on loopback only.
func (s *Server) IMDS(c Compute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path != "/metadata/identity/oauth2/token":
			http.NotFound(w, r)
		case r.Method != http.MethodGet:
			writeIdentityError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
		case r.Header.Get("Metadata") != "true":
			writeIdentityError(w, http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		case r.Header.Get("X-Forwarded-For") != "":
			writeIdentityError(w, http.StatusBadRequest, "invalid_request", "Request contains X-Forwarded-For header")
		case !singleValued(r):
			writeIdentityError(w, http.StatusBadRequest, "invalid_request", "Duplicate query parameters")
		case q.Get("api-version") == "":
			writeIdentityError(w, http.StatusBadRequest, "invalid_request", "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds")
		case q.Get("resource") == "":
			writeIdentityError(w, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		default:
			id, problem := c.selectIdentity(q.Get("client_id"), q.Get("object_id"), q.Get("msi_res_id"))
			if id == nil {
				writeIdentityError(w, http.StatusBadRequest, "invalid_request", problem)
				return
			}
			s.writeToken(w, *id, q.Get("resource"), true)
		}
	})
}

// AppService returns a handler for the App Service / Functions / Container
// Apps identity endpoint (IDENTITY_ENDPOINT) of one app, guarded by
// secret (IDENTITY_HEADER, sent as X-IDENTITY-HEADER): api-version
// 2019-08-01, selectors client_id, principal_id (or object_id) and
// mi_res_id, and no expires_in in the answer.
func (s *Server) AppService(c Compute, secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Method != http.MethodGet:
			writeIdentityError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
		case r.Header.Get("X-IDENTITY-HEADER") != secret:
			writeIdentityError(w, http.StatusUnauthorized, "invalid_request", "The X-IDENTITY-HEADER header is missing or wrong")
		case q.Get("api-version") != "2019-08-01":
			writeIdentityError(w, http.StatusBadRequest, "invalid_request", "api-version must be 2019-08-01")
		case q.Get("resource") == "":
			writeIdentityError(w, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		default:
			objectID := q.Get("principal_id")
			if objectID == "" {
				objectID = q.Get("object_id")
			}
			id, problem := c.selectIdentity(q.Get("client_id"), objectID, q.Get("mi_res_id"))
			if id == nil {
				writeIdentityError(w, http.StatusBadRequest, "invalid_request", problem)
				return
			}
			s.writeToken(w, *id, q.Get("resource"), false)
		}
	})
}

func (s *Server) writeToken(w http.ResponseWriter, id Identity, resource string, withExpiresIn bool) {
	now := s.Now()
	exp := now.Add(DefaultLifetime)
	aud := strings.TrimSuffix(resource, "/.default")
	body := map[string]string{
		"access_token": s.Token(id, TokenOptions{Audience: aud, IssuedAt: now}),
		"client_id":    id.ClientID,
		"expires_on":   strconv.FormatInt(exp.Unix(), 10),
		"not_before":   strconv.FormatInt(now.Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
	}
	if withExpiresIn {
		secs := strconv.FormatInt(int64(DefaultLifetime/time.Second), 10)
		body["expires_in"], body["ext_expires_in"] = secs, secs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}
