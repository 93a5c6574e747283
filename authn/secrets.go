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
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// variableID is <namespace>/<secretName>/<key>; fully qualified it is
// <account>:variable:<namespace>/<secretName>/<key>.
type variableID struct {
	raw                  string // as the client named it, for replies
	namespace, name, key string
}

// parseVariableID accepts the bare or the fully qualified id; ok is false
// for anything that cannot name a Secret key (treated as not found).
func (h *Handler) parseVariableID(raw string) (variableID, bool) {
	id := strings.TrimPrefix(raw, h.cfg.Account+":variable:")
	parts := strings.Split(id, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return variableID{raw: raw}, false
	}
	return variableID{raw: raw, namespace: parts[0], name: parts[1], key: parts[2]}, true
}

// lookupSecret applies the grant rules, in order: the Secret exists,
// exposed, in the caller's own namespace (else 404: another namespace's
// variables do not exist for it); the Secret lists the caller (else 403,
// for any key, so no key names leak); the key exists (else 404).
func (h *Handler) lookupSecret(c *caller, raw string) ([]byte, *failure.Error) {
	id, ok := h.parseVariableID(raw)
	notFound := failure.New(failure.VariableNotFound, "", id.raw)
	if !ok || id.namespace != c.host.ID.Namespace {
		notFound.Reason = "no such variable in the host's namespace"
		return nil, notFound
	}
	if reason := h.cfg.Secrets.Unservable(id.namespace); reason != "" {
		return nil, failure.New(failure.SecretsUnavailable, reason, id.namespace)
	}
	sec, found := h.cfg.Secrets.Get(id.namespace, id.name)
	if !found {
		notFound.Reason = "no exposed Secret " + id.namespace + "/" + id.name
		return nil, notFound
	}
	if !sec.Allows(c.host.ID.Name) {
		return nil, failure.New(failure.RoleNotAuthorizedOnResource, "the Secret's allowed-hosts annotation does not list the host",
			c.claims.Subject, "execute", h.cfg.Account+":variable:"+id.namespace+"/"+id.name)
	}
	v, found := sec.Value(id.key)
	if !found {
		notFound.Reason = "the Secret has no key " + id.key
		return nil, notFound
	}
	return v, nil
}

// secret implements GET /secrets/{account}/variable/{id}.
func (h *Handler) secret(w http.ResponseWriter, r *http.Request, req request, ev *event, c *caller) {
	raw, err := url.PathUnescape(req.variable)
	if err != nil {
		raw = req.variable
	}
	ev.variables = []string{raw}
	if r.URL.Query().Has("version") {
		// Kubernetes Secrets have no versions: no version of it exists.
		h.respond(w, ev, failure.New(failure.VariableNotFound, "versions are not supported", raw), nil)
		return
	}
	value, f := h.lookupSecret(c, raw)
	if f != nil {
		h.respond(w, ev, f, nil)
		return
	}
	h.respond(w, ev, nil, &reply{contentType: "application/octet-stream", body: value})
}

// batch implements GET /secrets?variable_ids=<id>,<id>... (and /secrets/,
// which the Go SDK calls). All or nothing: the first failing id fails the
// request with its status, naming it.
func (h *Handler) batch(w http.ResponseWriter, r *http.Request, ev *event, c *caller) {
	query := r.URL.Query().Get("variable_ids")
	if query == "" {
		h.respond(w, ev, failure.New(failure.MissingQueryParam, "", "variable_ids"), nil)
		return
	}
	ids := strings.Split(query, ",")
	b64 := acceptsBase64(r)
	out := make(map[string]string, len(ids))
	for _, raw := range ids {
		value, f := h.lookupSecret(c, raw)
		if f == nil && !b64 && !utf8.Valid(value) {
			f = failure.New(failure.NotAcceptable, "value of "+raw+" is not valid UTF-8")
		}
		if f != nil {
			ev.variables = []string{raw}
			h.respond(w, ev, f, nil)
			return
		}
		if b64 {
			out[raw] = base64.StdEncoding.EncodeToString(value)
		} else {
			out[raw] = string(value)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		ev.variables = []string{query}
		h.respond(w, ev, failure.New(failure.NotAcceptable, err.Error()), nil)
		return
	}
	ev.variables = ids
	ok := &reply{contentType: "application/json", body: body}
	if b64 {
		ok.encoding = "base64"
	}
	h.respond(w, ev, nil, ok)
}

// whoami implements GET /whoami.
func (h *Handler) whoami(w http.ResponseWriter, ev *event, c *caller) {
	body, _ := json.Marshal(map[string]string{
		"account":         h.cfg.Account,
		"username":        c.claims.Subject,
		"client_ip":       policy.AddrText(c.ip),
		"token_issued_at": time.Unix(c.claims.IssuedAt, 0).UTC().Format("2006-01-02T15:04:05.000-07:00"),
	})
	h.respond(w, ev, nil, &reply{contentType: "application/json", body: body})
}
