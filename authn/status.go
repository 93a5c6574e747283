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
	"fmt"
	"net/http"
	"net/netip"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Caller is a request's authenticated identity, from its access token.
type Caller struct {
	Claims   *accesstoken.Claims
	Host     *policy.Host
	ClientIP netip.Addr
}

// CheckAccessToken authenticates a request by its access token
// (Authorization: Token token="<base64>"): signature by a current or
// recently retired key, expiry, account, and revocation: the AzureHost must
// still exist with the token's UID and generation, the issuing
// authenticator must still exist, be enabled and admit the host, and the
// client must be inside the host's allowedCIDRs.
func (s *Server) CheckAccessToken(r *http.Request, ip netip.Addr) (*Caller, *failure.Error) {
	invalid := func(reason string) (*Caller, *failure.Error) {
		return nil, failure.New(failure.AccessTokenInvalid, reason)
	}
	ring := s.cfg.Signing.Ring()
	if ring == nil {
		return nil, failure.New(failure.NotReady, "signing keys not loaded")
	}
	raw, err := accesstoken.FromAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return invalid("no or malformed Authorization header")
	}
	claims, err := accesstoken.Verify(ring.Verifiers(), raw, s.cfg.Now(), s.cfg.Account)
	if err != nil {
		return invalid(err.Error())
	}
	id, ok := parseLogin(claims.Subject, nil)
	if !ok {
		return invalid("subject is not a host")
	}
	d := s.cfg.Index.Decide(claims.Service, id)
	switch {
	case d.Host == nil || d.Host.UID != claims.UID || d.Host.Generation != claims.Generation:
		return invalid("revoked: the AzureHost was deleted, re-created or changed")
	case d.Authenticator == nil || !d.Authenticator.Enabled || !d.Admitted:
		return invalid("revoked: the issuing authenticator is gone, disabled, or no longer admits the host")
	case !d.Host.AllowsClient(ip):
		return invalid("client address outside the host's allowedCIDRs")
	}
	return &Caller{Claims: claims, Host: d.Host, ClientIP: ip}, nil
}

// status implements GET /authn-azure/{service}/{account}/status, from
// cached state only: it never triggers discovery.
func (s *Server) status(w http.ResponseWriter, r *http.Request, service, account string) {
	ip := clientIP(r, s.cfg.TrustedProxies)
	ev := AuditEvent{RequestID: requestIDOf(r.Context()), Operation: "validate-status", Service: service, Account: account, ClientIP: policy.AddrText(ip)}
	fail := func(e *failure.Error) {
		ev.Result, ev.Code, ev.Reason = "failure", string(e.Code), e.Detail()
		s.cfg.Auditor.Record(ev)
		writeFailure(w, e, failure.Status)
	}
	if e := s.decidable(); e != nil {
		fail(e)
		return
	}
	caller, ferr := s.CheckAccessToken(r, ip)
	if ferr == nil && account != s.cfg.Account {
		ferr = failure.New(failure.AccessTokenInvalid, "token is for another account")
	}
	if ferr != nil {
		fail(ferr)
		return
	}
	ev.Host = caller.Claims.Subject
	d := s.cfg.Index.Decide(service, caller.Host.ID)
	switch {
	case d.Authenticator == nil:
		fail(failure.New(failure.WebserviceNotFound, "", "conjur/authn-azure/"+service))
	case !d.Admitted && d.Authenticator.Enabled:
		fail(failure.New(failure.RoleNotAuthorizedOnResource, "", caller.Claims.Subject, "authenticate", s.cfg.Account+":webservice:conjur/authn-azure/"+service))
	default:
		if problem := s.healthProblem(d.Authenticator); problem != nil {
			fail(problem)
			return
		}
		ev.Result = "success"
		s.cfg.Auditor.Record(ev)
		writeJSONBody(w, http.StatusOK, `{"status":"ok"}`)
	}
}

// healthProblem is why the authenticator cannot verify tokens now, or nil:
// it must be enabled and every provider must have usable keys.
func (s *Server) healthProblem(a *policy.Authenticator) *failure.Error {
	if !a.Enabled {
		return failure.New(failure.AuthenticatorDisabled, "", "authn-azure/"+a.ServiceID)
	}
	for i, p := range a.Providers {
		if h := s.cfg.Keys.Health(p); h.Keys == 0 {
			return failure.New(failure.ProviderDiscoveryFailed, h.Err, fmt.Sprintf("#%d of %d", i+1, len(a.Providers)))
		}
	}
	return nil
}

// jwks implements GET /.well-known/jwks.json.
func (s *Server) jwks(w http.ResponseWriter) {
	ring := s.cfg.Signing.Ring()
	if ring == nil {
		writeFailure(w, failure.New(failure.NotReady, "signing keys not loaded"), failure.Authenticate)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(ring.JWKS())
}
