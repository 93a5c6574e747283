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

// Package authn is the authenticator's HTTP layer: Conjur's authn-azure
// and secrets REST routes as one http.Handler, served from the policy index
// on every replica. The listener around it (TLS, connection limits,
// timeouts) is authn/server; everything it decides with lives in the
// domain packages (internal/policy, internal/failure, internal/accesstoken,
// internal/secrets) and the token verifier (internal/azuread).
//
// A request goes through it once, in this order:
//
//	ServeHTTP (limits.go)   request id, bounded body, in-flight slot, panics
//	route (handler.go)      the path parsed once into a request
//	authenticate.go         POST /authn-azure/{service}/{account}/{login}/authenticate
//	status.go               GET  /authn-azure/{service}/{account}/status, /.well-known/jwks.json
//	secrets.go              GET  /secrets..., /whoami (caller.go checks the access token)
//	respond (respond.go)    audit line, metrics and body, for every outcome
//
// It never writes to the API server, never decides before the index has
// synced and the signing keys are loaded, and never imports the
// controllers or the manager's assembly (internal/app).
package authn

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

// MinAccessTokenLifetime: an Azure token that expires sooner than this gets
// no access token.
const MinAccessTokenLifetime = 30 * time.Second

// SigningKeys provides the current access-token keys (nil until loaded).
type SigningKeys interface {
	Ring() *accesstoken.Ring
}

// Config is what the handler decides with.
type Config struct {
	// Account is the Conjur account served.
	Account        string
	TrustedProxies []netip.Prefix
	Index          *policy.Index
	Keys           *azuread.KeySets
	Signing        SigningKeys
	// Secrets are the exposed Secrets served; nil serves none.
	Secrets *secrets.Store
	// Audit receives one JSON line per attempt (nil: discarded).
	Audit io.Writer
	Log   logr.Logger
	Clock clock.PassiveClock // nil: the real clock
	// MaxInFlight caps concurrent requests [DefaultMaxInFlight].
	MaxInFlight int
	// VerifiedTokenCache is how many accepted Azure tokens are remembered
	// so that their signature is not verified again (0: none; see
	// azuread.VerifiedCache).
	VerifiedTokenCache int
	// Staleness reports how old this replica's view may be; with
	// MaxStaleness > 0 the handler answers 503 beyond it. Nil: never stale.
	Staleness    func() time.Duration
	MaxStaleness time.Duration
}

// Handler serves the authenticator's routes.
type Handler struct {
	cfg      Config
	clock    clock.PassiveClock
	verifier *azuread.Verifier
	auditor  *auditor
	inFlight chan struct{}
	// routeFn is route; tests replace it to run the limits around a route
	// that panics or blocks.
	routeFn func(http.ResponseWriter, *http.Request, request)
}

// New validates cfg and builds the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Index == nil || cfg.Keys == nil || cfg.Signing == nil {
		return nil, errors.New("authn: Index, Keys and Signing are required")
	}
	if err := ValidateAccount(cfg.Account); err != nil {
		return nil, err
	}
	if cfg.Secrets == nil {
		// No secrets served (nothing synced into it, ever marked synced).
		cfg.Secrets = secrets.NewStore()
		cfg.Secrets.MarkSynced()
	}
	if cfg.Audit == nil {
		cfg.Audit = io.Discard
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	h := &Handler{
		cfg:      cfg,
		clock:    cfg.Clock,
		verifier: &azuread.Verifier{Keys: cfg.Keys, Clock: cfg.Clock, Cache: azuread.NewVerifiedCache(cfg.VerifiedTokenCache)},
		auditor:  &auditor{w: cfg.Audit, clock: cfg.Clock},
		inFlight: make(chan struct{}, cfg.MaxInFlight),
	}
	h.routeFn = h.route
	return h, nil
}

// ValidateAccount accepts a Conjur account of [A-Za-z0-9._-], 1 to 64 characters.
func ValidateAccount(account string) error {
	if account == "" || len(account) > 64 {
		return fmt.Errorf("account %q must be 1 to 64 characters", account)
	}
	for _, c := range account {
		if !isAccountChar(c) {
			return fmt.Errorf("account %q may contain only letters, digits, '.', '_' and '-'", account)
		}
	}
	return nil
}

func isAccountChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// Ready reports whether requests can be decided (a readiness check): nil,
// or the *failure.Error every request gets until then.
func (h *Handler) Ready() error {
	if f := h.decidable(); f != nil {
		return f
	}
	return nil
}

// decidable reports whether requests can be decided: the index has
// synced, the signing keys are loaded, and the view is not older than
// MaxStaleness. Until then every request gets 503. The exposed Secrets are
// not part of it: a namespace whose Secrets cannot be listed answers 503
// for its own secrets only (see lookupSecret), never for authentication.
func (h *Handler) decidable() *failure.Error {
	switch {
	case !h.cfg.Index.Synced():
		return failure.New(failure.NotReady, "policy index has not synced yet")
	case h.cfg.Signing.Ring() == nil:
		return failure.New(failure.NotReady, "signing keys not loaded")
	case h.cfg.MaxStaleness > 0 && h.cfg.Staleness != nil && h.cfg.Staleness() > h.cfg.MaxStaleness:
		return failure.New(failure.ViewTooStale, "view is "+h.cfg.Staleness().Truncate(time.Second).String()+" old (API server contact or an index watch failing)")
	}
	return nil
}

// route sends a parsed request to its route family; each answers one
// method.
func (h *Handler) route(w http.ResponseWriter, r *http.Request, req request) {
	if req.op != opOther && r.Method != req.method {
		w.Header().Set("Allow", req.method)
		writeJSON(w, http.StatusMethodNotAllowed, jsonError(http.StatusMethodNotAllowed, "Method not allowed"))
		return
	}
	switch req.op {
	case opAuthenticate:
		h.authenticate(w, r, req)
	case opJWKS:
		h.jwks(w, r, req)
	case opStatus, opIdentity, opFetch:
		// The routes that take an access token start alike: decidable,
		// then the token for the account in the path (the account served
		// when the path names none).
		ev := h.newEvent(r, req)
		c, f := h.authorize(r, ev, ev.Account)
		switch {
		case f != nil:
			h.respond(w, ev, f, nil)
		case req.op == opStatus:
			h.status(w, r, req, ev, c)
		case req.op == opIdentity:
			h.whoami(w, ev, c)
		case req.single:
			h.secret(w, r, req, ev, c)
		default:
			h.batch(w, r, ev, c)
		}
	default:
		writeJSON(w, http.StatusNotFound, jsonError(http.StatusNotFound, "Not found"))
	}
}
