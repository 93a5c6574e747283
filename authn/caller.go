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
	"net/http"
	"net/netip"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// caller is a request's authenticated identity, from its access token.
type caller struct {
	claims *accesstoken.Claims
	host   *policy.Host
	ip     netip.Addr
	// decision is the index's view for the token's service and host, read
	// once: the routes that need it for that service use it as it is.
	decision policy.Decision
}

// checkAccessToken authenticates a request by its access token
// (Authorization: Token token="<base64>") for account: signature by a
// current or recently retired key, expiry, account, and revocation: the
// AzureHost must still exist with the token's UID and generation, the
// issuing authenticator must still exist, be enabled and admit the host,
// and the client must be inside the host's allowedCIDRs.
func (h *Handler) checkAccessToken(r *http.Request, ip netip.Addr, account string) (*caller, *failure.Error) {
	invalid := func(reason string) (*caller, *failure.Error) {
		return nil, failure.New(failure.AccessTokenInvalid, reason)
	}
	ring := h.cfg.Signing.Ring()
	if ring == nil {
		return nil, failure.New(failure.NotReady, "signing keys not loaded")
	}
	// Exactly one header: with two, a proxy that checks one and a server
	// that reads the other would each have a different caller.
	values := r.Header["Authorization"]
	if len(values) != 1 {
		return invalid("no Authorization header, or more than one")
	}
	raw, err := accesstoken.FromAuthorization(values[0])
	if err != nil {
		return invalid("malformed Authorization header")
	}
	claims, err := accesstoken.Verify(ring.Verifiers(), raw, h.clock.Now(), h.cfg.Account)
	if err != nil {
		return invalid(err.Error())
	}
	id, ok := parseLogin(claims.Subject)
	if !ok {
		return invalid("subject is not a host")
	}
	d := h.cfg.Index.Decide(claims.Service, id)
	switch {
	case d.Host == nil || d.Host.UID != claims.UID || d.Host.Generation != claims.Generation:
		return invalid("revoked: the AzureHost was deleted, re-created or changed")
	case d.Authenticator == nil || !d.Authenticator.Enabled || !d.Admitted:
		return invalid("revoked: the issuing authenticator is gone, disabled, or no longer admits the host")
	case !d.Host.AllowsClient(ip):
		return invalid("client address outside the host's allowedCIDRs")
	case account != h.cfg.Account:
		return invalid("token is for account " + h.cfg.Account + ", not " + account)
	}
	return &caller{claims: claims, host: d.Host, ip: ip, decision: d}, nil
}

// authorize is the common start of the routes that take an access token:
// decidable, then the token for account; the event learns the host.
func (h *Handler) authorize(r *http.Request, ev *event, account string) (*caller, *failure.Error) {
	if f := h.decidable(); f != nil {
		return nil, f
	}
	c, f := h.checkAccessToken(r, ev.ip, account)
	if f != nil {
		return nil, f
	}
	ev.Host = c.claims.Subject
	return c, nil
}
