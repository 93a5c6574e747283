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

// Package authn is the embedded HTTPS authenticator: Conjur's authn-azure
// REST routes, served from the policy index on every replica.
//
// A workload posts its Azure managed-identity token to
// /authn-azure/{service-id}/{account}/{login}/authenticate; the server
// verifies it (azuread), matches it against the AzureHost named by the login
// (policy), checks that the AzureAuthenticator admits the host, and answers
// with a short-lived access token (accesstoken). Every attempt is audited;
// every refusal a client sees is one of a few fixed bodies (respond.go).
//
// It never writes to the API server and never decides before the index has
// synced and the signing keys are loaded.
package authn

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

// Limits: every one explicit.
const (
	MaxBodyBytes      = 64 << 10
	MaxHeaderBytes    = 16 << 10
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 20 * time.Second
	IdleTimeout       = 60 * time.Second
	ShutdownTimeout   = 10 * time.Second
	// BodyReadTimeout bounds reading a request body, before the request
	// takes an in-flight slot: a client that withholds its body holds a
	// connection, never a slot.
	BodyReadTimeout = 2 * time.Second
	// DefaultMaxInFlight caps concurrent requests; over it: 503.
	DefaultMaxInFlight = 256
	// DefaultMaxConnections caps open connections; excess connections are
	// closed as they are accepted.
	DefaultMaxConnections = 1024
	// MinAccessTokenLifetime: an Azure token that expires sooner than this
	// gets no access token.
	MinAccessTokenLifetime = 30 * time.Second
)

// SigningKeys provides the current access-token keys (nil until loaded).
type SigningKeys interface {
	Ring() *accesstoken.Ring
}

// Config is what the server needs.
type Config struct {
	// Addr to listen on (":9443"), unless Listener is set.
	Addr     string
	Listener net.Listener
	// GetCertificate serves the TLS certificate; CertificateLoaded, when
	// set, says whether it has one yet (readiness waits for it).
	GetCertificate    func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	CertificateLoaded func() bool
	EnableHTTP2       bool
	// Account is the Conjur account served.
	Account        string
	TrustedProxies []netip.Prefix
	Index          *policy.Index
	Keys           *azuread.KeySets
	Signing        SigningKeys
	Secrets        *secrets.Store
	Auditor        *Auditor
	Log            logr.Logger
	Now            func() time.Time
	MaxInFlight    int
	// MaxConnections caps open connections [DefaultMaxConnections].
	MaxConnections int
	// Staleness reports how old this replica's view may be; with
	// MaxStaleness > 0 the server answers 503 beyond it. Nil: never stale.
	Staleness    func() time.Duration
	MaxStaleness time.Duration
}

// Server is the HTTPS authenticator; add it to the manager as a Runnable.
type Server struct {
	cfg      Config
	verifier *azuread.Verifier
	inFlight chan struct{}
	started  atomic.Bool
	handler  http.Handler
}

// NewServer validates cfg and builds the server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Auditor == nil {
		cfg.Auditor = NewAuditor(io.Discard, cfg.Now)
	}
	if cfg.Index == nil || cfg.Keys == nil || cfg.Signing == nil || cfg.GetCertificate == nil {
		return nil, errors.New("authn: Index, Keys, Signing and GetCertificate are required")
	}
	if cfg.Secrets == nil {
		// No secrets served (nothing synced into it, ever marked synced).
		cfg.Secrets = secrets.NewStore()
		cfg.Secrets.MarkSynced()
	}
	if err := ValidateAccount(cfg.Account); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	s := &Server{
		cfg:      cfg,
		verifier: &azuread.Verifier{Keys: cfg.Keys, Now: cfg.Now},
		inFlight: make(chan struct{}, cfg.MaxInFlight),
	}
	s.handler = s.limit(http.HandlerFunc(s.route))
	return s, nil
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

// Handler is the server's HTTP handler, limits included.
func (s *Server) Handler() http.Handler { return s.handler }

// NeedLeaderElection is false: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// Ready reports whether the replica should receive traffic: it is
// listening and decides requests.
func (s *Server) Ready() error {
	if !s.started.Load() {
		return errors.New("authenticator not listening yet")
	}
	if s.cfg.CertificateLoaded != nil && !s.cfg.CertificateLoaded() {
		return errors.New("serving certificate not loaded yet")
	}
	if e := s.decidable(); e != nil {
		return e
	}
	return nil
}

// decidable reports whether requests can be decided: the index has
// synced, the signing keys are loaded, and the view is not older than
// MaxStaleness. Until then every request gets 503. The exposed Secrets are
// not part of it: a namespace whose Secrets cannot be listed answers 503
// for its own secrets only (see lookupSecret), never for authentication.
func (s *Server) decidable() *failure.Error {
	switch {
	case !s.cfg.Index.Synced():
		return failure.New(failure.NotReady, "policy index has not synced yet")
	case s.cfg.Signing.Ring() == nil:
		return failure.New(failure.NotReady, "signing keys not loaded")
	case s.cfg.MaxStaleness > 0 && s.cfg.Staleness != nil && s.cfg.Staleness() > s.cfg.MaxStaleness:
		return failure.New(failure.ViewTooStale, "view is "+s.cfg.Staleness().Truncate(time.Second).String()+" old (API server contact or an index watch failing)")
	}
	return nil
}

// ReadyCheck is Ready as a healthz checker.
func (s *Server) ReadyCheck(*http.Request) error { return s.Ready() }

// TLSConfig is the server's TLS configuration: TLS 1.2+, HTTP/2 only when
// enabled.
func (s *Server) TLSConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.cfg.GetCertificate}
	if s.cfg.EnableHTTP2 {
		c.NextProtos = []string{"h2", "http/1.1"}
	} else {
		c.NextProtos = []string{"http/1.1"}
	}
	return c
}

// Start serves HTTPS until ctx ends, then shuts down gracefully.
func (s *Server) Start(ctx context.Context) error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("authn: failed to listen on %s: %w", s.cfg.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          nil,
	}
	if !s.cfg.EnableHTTP2 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	s.cfg.Log.Info("Serving the Azure authenticator", "address", ln.Addr().String(), "account", s.cfg.Account,
		"maxConnections", s.cfg.MaxConnections, "maxInFlight", s.cfg.MaxInFlight)
	limited := limitConnections(ln, s.cfg.MaxConnections)
	srv.ConnState = limited.ConnState
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(tls.NewListener(limited, srv.TLSConfig)) }()
	s.started.Store(true)
	defer s.started.Store(false)
	select {
	case err := <-errs:
		return fmt.Errorf("authn: server stopped: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("authn: shutdown: %w", err)
	}
	return nil
}

// limit gives every request an id, reads its bounded body under a deadline
// of its own, and only then takes an in-flight slot (503 over the cap): a
// client that withholds its body holds a connection, never a slot. A panic
// becomes a bare 500. Both refusals are audited and counted.
func (s *Server) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		id := newRequestID()
		h.Set(RequestIDHeader, id)
		r = r.WithContext(withRequestID(r.Context(), id))
		r.Body = s.readBody(w, r)
		// held says whether this request holds its slot: it gives it back
		// while it waits for a provider key fetch (see waitHook).
		held := true
		select {
		case s.inFlight <- struct{}{}:
			requestsInFlight.Inc()
			defer func() {
				if held {
					<-s.inFlight
					requestsInFlight.Dec()
				}
			}()
		default:
			s.refuse(w, r, "overloaded", failure.New(failure.Overloaded, "all "+strconv.Itoa(s.cfg.MaxInFlight)+" in-flight slots taken"))
			return
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				// The panic value and stack go to the operational log, the
				// request only by route and id (no body, no headers).
				s.cfg.Log.Error(fmt.Errorf("%v", p), "Panic while serving a request", "operation", operationOf(r), "requestID", id,
					"stack", string(debug.Stack()))
				s.refuse(w, r, "panic", failure.New(failure.Internal, "panic while serving the request"))
			}
		}()
		r = r.WithContext(azuread.WithWaitHook(r.Context(), s.waitHook(r.Context(), &held)))
		next.ServeHTTP(w, r)
	})
}

// waitHook gives the request's in-flight slot back while it waits for a
// provider key fetch (idle time, bounded by the fetch timeout), so callers
// queued on one slow fetch cannot starve the server. Resuming takes a slot
// again, waiting for one as long as the caller is there; a caller who left
// holds none, and *held says so.
func (s *Server) waitHook(ctx context.Context, held *bool) func() (resume func()) {
	return func() func() {
		<-s.inFlight
		requestsInFlight.Dec()
		*held = false
		return func() {
			select {
			case s.inFlight <- struct{}{}:
				requestsInFlight.Inc()
				*held = true
			case <-ctx.Done():
			}
		}
	}
}

// readBody reads the request body, at most MaxBodyBytes, within
// BodyReadTimeout, and returns a reader that replays it, or that fails as
// the read did (too large, too slow) for the route to answer.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) io.ReadCloser {
	if r.Body == nil || r.Body == http.NoBody {
		return http.NoBody
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(BodyReadTimeout)) // unsupported only on test recorders
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		// The deadline stays: net/http drains an unread body before it
		// answers, and must not wait for a client that withholds it.
		return io.NopCloser(failingReader{err})
	}
	_ = rc.SetReadDeadline(time.Time{})
	return io.NopCloser(bytes.NewReader(body))
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// refuse answers a request refused before or around its route (overload,
// panic) with e, audits it under the route's operation and counts it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, reason string, e *failure.Error) {
	rejectedRequests.WithLabelValues(reason).Inc()
	s.cfg.Auditor.Record(AuditEvent{
		RequestID: requestIDOf(r.Context()), Operation: operationOf(r), Result: "failure",
		ClientIP: policy.AddrText(clientIP(r, s.cfg.TrustedProxies)), Code: string(e.Code), Reason: e.Detail(),
	})
	writeFailure(w, e, failure.Authenticate)
}

// route dispatches on the escaped path, so that an escaped slash in the
// login stays inside its segment.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case path == "/whoami":
		if allow(w, r, http.MethodGet) {
			s.whoami(w, r)
		}
	case path == "/secrets" || path == "/secrets/":
		if allow(w, r, http.MethodGet) {
			s.batch(w, r)
		}
	case len(segs) >= 4 && segs[0] == "secrets" && segs[2] == "variable":
		if allow(w, r, http.MethodGet) {
			// The id may come escaped as one segment (the SDK) or with
			// its slashes as they are.
			s.secret(w, r, unescape(segs[1]), strings.Join(segs[3:], "/"))
		}
	case path == "/.well-known/jwks.json":
		if !allow(w, r, http.MethodGet) {
			return
		}
		s.jwks(w)
	case len(segs) >= 4 && segs[0] == "authn-azure" && segs[len(segs)-1] == "authenticate":
		if !allow(w, r, http.MethodPost) {
			return
		}
		// Exactly one login segment; none or more is an invalid login,
		// decided like an unknown host so that it tells nothing.
		login := invalidSegment
		if len(segs) == 5 {
			login = segs[3]
		}
		s.authenticate(w, r, unescape(segs[1]), unescape(segs[2]), login)
	case len(segs) == 4 && segs[0] == "authn-azure" && segs[3] == "status":
		if !allow(w, r, http.MethodGet) {
			return
		}
		s.status(w, r, unescape(segs[1]), unescape(segs[2]))
	default:
		writeJSONBody(w, http.StatusNotFound, jsonError(http.StatusNotFound, "Not found"))
	}
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeJSONBody(w, http.StatusMethodNotAllowed, jsonError(http.StatusMethodNotAllowed, "Method not allowed"))
	return false
}

// unescape decodes one path segment once; a segment that does not decode,
// or decodes to a slash, names nothing (it can match no service or account).
func unescape(seg string) string {
	v, err := url.PathUnescape(seg)
	if err != nil || strings.Contains(v, "/") {
		return invalidSegment
	}
	return v
}

// invalidSegment stands for a path segment that names nothing: it is not a
// valid service id, account or login.
const invalidSegment = "\x00"
