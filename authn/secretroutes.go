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
func (s *Server) parseVariableID(raw string) (variableID, bool) {
	id := strings.TrimPrefix(raw, s.cfg.Account+":variable:")
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
func (s *Server) lookupSecret(c *Caller, id variableID, ok bool) ([]byte, *failure.Error) {
	notFound := failure.New(failure.VariableNotFound, "", id.raw)
	if !ok || id.namespace != c.Host.ID.Namespace {
		notFound.Reason = "no such variable in the host's namespace"
		return nil, notFound
	}
	if reason := s.cfg.Secrets.Unservable(id.namespace); reason != "" {
		return nil, failure.New(failure.SecretsUnavailable, reason, id.namespace)
	}
	sec, found := s.cfg.Secrets.Get(id.namespace, id.name)
	if !found {
		notFound.Reason = "no exposed Secret " + id.namespace + "/" + id.name
		return nil, notFound
	}
	if !sec.Allows(c.Host.ID.Name) {
		return nil, failure.New(failure.RoleNotAuthorizedOnResource, "the Secret's allowed-hosts annotation does not list the host",
			c.Claims.Subject, "execute", s.cfg.Account+":variable:"+id.namespace+"/"+id.name)
	}
	v, found := sec.Value(id.key)
	if !found {
		notFound.Reason = "the Secret has no key " + id.key
		return nil, notFound
	}
	return v, nil
}

// fetchGate authenticates a secrets-API request: a valid, unrevoked access
// token for the account in the URL.
func (s *Server) fetchGate(w http.ResponseWriter, r *http.Request, op, account string) (*Caller, func(AuditEvent, *failure.Error)) {
	ip := clientIP(r, s.cfg.TrustedProxies)
	ev := AuditEvent{RequestID: requestIDOf(r.Context()), Operation: op, Account: account, ClientIP: policy.AddrText(ip)}
	finish := func(e AuditEvent, f *failure.Error) {
		result := "success"
		if f != nil {
			e.Result, e.Code, e.Reason = "failure", string(f.Code), f.Detail()
			result = clientCodes[failure.HTTPStatus(f.Code, failure.Secrets)]
			writeFailure(w, f, failure.Secrets)
		} else {
			e.Result = "success"
		}
		s.cfg.Auditor.Record(e)
		if op == "fetch" {
			secretFetches.WithLabelValues(result).Inc()
		}
	}
	if e := s.decidable(); e != nil {
		finish(ev, e)
		return nil, nil
	}
	caller, ferr := s.CheckAccessToken(r, ip)
	if ferr == nil && account != s.cfg.Account {
		ferr = failure.New(failure.AccessTokenInvalid, "token is for account "+s.cfg.Account+", not "+account)
	}
	if ferr != nil {
		finish(ev, ferr)
		return nil, nil
	}
	ev.Host = caller.Claims.Subject
	return caller, func(e AuditEvent, f *failure.Error) {
		e.RequestID, e.Operation, e.Account, e.ClientIP, e.Host = ev.RequestID, ev.Operation, ev.Account, ev.ClientIP, ev.Host
		finish(e, f)
	}
}

// secret implements GET /secrets/{account}/variable/{id}.
func (s *Server) secret(w http.ResponseWriter, r *http.Request, account, escapedID string) {
	caller, finish := s.fetchGate(w, r, "fetch", account)
	if caller == nil {
		return
	}
	raw, err := url.PathUnescape(escapedID)
	if err != nil {
		raw = escapedID
	}
	ev := AuditEvent{Variable: raw}
	if r.URL.Query().Has("version") {
		// Kubernetes Secrets have no versions: no version of it exists.
		finish(ev, failure.New(failure.VariableNotFound, "versions are not supported", raw))
		return
	}
	id, ok := s.parseVariableID(raw)
	value, ferr := s.lookupSecret(caller, id, ok)
	if ferr != nil {
		finish(ev, ferr)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	finish(ev, nil)
	_, _ = w.Write(value)
}

// batch implements GET /secrets?variable_ids=<id>,<id>... (and /secrets/,
// which the Go SDK calls). All or nothing: the first failing id fails the
// request with its status, naming it.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	caller, finish := s.fetchGate(w, r, "fetch", s.cfg.Account)
	if caller == nil {
		return
	}
	if r.URL.Query().Get("variable_ids") == "" {
		finish(AuditEvent{}, failure.New(failure.MissingQueryParam, "", "variable_ids"))
		return
	}
	ids := strings.Split(r.URL.Query().Get("variable_ids"), ",")
	b64 := acceptsBase64(r)
	out := make(map[string]string, len(ids))
	for _, raw := range ids {
		ev := AuditEvent{Variable: raw}
		id, ok := s.parseVariableID(raw)
		value, ferr := s.lookupSecret(caller, id, ok)
		if ferr == nil && !b64 && !utf8.Valid(value) {
			ferr = failure.New(failure.NotAcceptable, "value of "+raw+" is not valid UTF-8")
		}
		if ferr != nil {
			finish(ev, ferr)
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
		finish(AuditEvent{Variable: r.URL.Query().Get("variable_ids")}, failure.New(failure.NotAcceptable, err.Error()))
		return
	}
	for _, raw := range ids {
		finish(AuditEvent{Variable: raw}, nil)
	}
	w.Header().Set("Content-Type", "application/json")
	if b64 {
		w.Header().Set("Content-Encoding", "base64")
	}
	_, _ = w.Write(body)
}

// whoami implements GET /whoami.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	caller, finish := s.fetchGate(w, r, "identity-check", s.cfg.Account)
	if caller == nil {
		return
	}
	body, _ := json.Marshal(map[string]string{
		"account":         s.cfg.Account,
		"username":        caller.Claims.Subject,
		"client_ip":       policy.AddrText(caller.ClientIP),
		"token_issued_at": time.Unix(caller.Claims.IssuedAt, 0).UTC().Format("2006-01-02T15:04:05.000-07:00"),
	})
	finish(AuditEvent{}, nil)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
