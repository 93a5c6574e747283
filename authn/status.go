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

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// status implements GET /authn-azure/{service}/{account}/status, from
// cached state only: it never triggers discovery. The caller's token was
// issued for one service; it may ask about another, which is then the one
// further lookup of the request.
func (h *Handler) status(w http.ResponseWriter, _ *http.Request, req request, ev *event, c *caller) {
	d := c.decision
	if req.service != c.claims.Service {
		d = h.cfg.Index.Decide(req.service, c.host.ID)
	}
	var f *failure.Error
	switch {
	case d.Authenticator == nil:
		f = failure.New(failure.WebserviceNotFound, "", "conjur/authn-azure/"+req.service)
	case !d.Admitted && (d.Authenticator.Enabled || !d.Authenticator.Selects(h.cfg.Index.Namespace(c.host.ID.Namespace), c.host)):
		// A disabled authenticator admits no one; that it is disabled is
		// for the hosts it would admit to learn, not for every caller.
		f = failure.New(failure.RoleNotAuthorizedOnResource, "", c.claims.Subject, "authenticate", h.cfg.Account+":webservice:conjur/authn-azure/"+req.service)
	default:
		f = h.healthProblem(d.Authenticator)
	}
	if f != nil {
		h.respond(w, ev, f, nil)
		return
	}
	h.respond(w, ev, nil, &reply{contentType: "application/json", body: []byte(`{"status":"ok"}`)})
}

// healthProblem is why the authenticator cannot verify tokens now, or nil:
// it must be enabled and every provider must have usable keys.
func (h *Handler) healthProblem(a *policy.Authenticator) *failure.Error {
	if !a.Enabled {
		return failure.New(failure.AuthenticatorDisabled, "", "authn-azure/"+a.ServiceID)
	}
	for i, p := range a.Providers {
		if ph := h.cfg.Keys.Health(p); ph.Keys == 0 {
			return failure.New(failure.ProviderDiscoveryFailed, ph.Err, fmt.Sprintf("#%d of %d", i+1, len(a.Providers)))
		}
	}
	return nil
}

// jwks implements GET /.well-known/jwks.json: the public keys access
// tokens are signed with (not audited).
func (h *Handler) jwks(w http.ResponseWriter, r *http.Request, req request) {
	ev := h.newEvent(r, req)
	ev.unaudited = true // public keys: no audit line (refusals around the route still get one)
	ring := h.cfg.Signing.Ring()
	if ring == nil {
		h.respond(w, ev, failure.New(failure.NotReady, "signing keys not loaded"), nil)
		return
	}
	h.respond(w, ev, nil, &reply{contentType: "application/json", body: ring.JWKS()})
}
