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

// Package server is the authenticator's listener: TLS, connection limits,
// timeouts and graceful shutdown around an http.Handler (authn.Handler),
// as a controller-runtime Runnable on every replica. It knows nothing of
// routes, tokens or the index.
//
// It imports nothing of ours.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// Limits: every one explicit.
const (
	MaxHeaderBytes    = 16 << 10
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 20 * time.Second
	IdleTimeout       = 60 * time.Second
	ShutdownTimeout   = 10 * time.Second
	// DefaultMaxConnections caps open connections; at the cap a new
	// connection evicts the longest-idle keep-alive one, or is closed.
	DefaultMaxConnections = 1024
)

// Server serves Handler over HTTPS; add it to the manager as a Runnable.
type Server struct {
	Handler http.Handler
	// Addr to listen on (":9443"), unless Listener is set.
	Addr     string
	Listener net.Listener
	// GetCertificate serves the TLS certificate; CertificateLoaded, when
	// set, says whether it has one yet (readiness waits for it).
	GetCertificate    func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	CertificateLoaded func() bool
	EnableHTTP2       bool
	// MaxConnections caps open connections [DefaultMaxConnections].
	MaxConnections int
	Log            logr.Logger

	started atomic.Bool
}

// NeedLeaderElection is false: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// Ready reports whether the listener accepts TLS connections: it is
// listening and has a certificate.
func (s *Server) Ready() error {
	if !s.started.Load() {
		return errors.New("authenticator not listening yet")
	}
	if s.CertificateLoaded != nil && !s.CertificateLoaded() {
		return errors.New("serving certificate not loaded yet")
	}
	return nil
}

// tlsConfig is the server's TLS configuration: TLS 1.2+, HTTP/2 only when
// enabled.
func (s *Server) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.GetCertificate}
	if s.EnableHTTP2 {
		c.NextProtos = []string{"h2", "http/1.1"}
	} else {
		c.NextProtos = []string{"http/1.1"}
	}
	return c
}

// Start serves HTTPS until ctx ends, then shuts down gracefully.
func (s *Server) Start(ctx context.Context) error {
	if s.Handler == nil || s.GetCertificate == nil {
		return errors.New("server: Handler and GetCertificate are required")
	}
	maxConns := s.MaxConnections
	if maxConns <= 0 {
		maxConns = DefaultMaxConnections
	}
	ln := s.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.Addr); err != nil {
			return fmt.Errorf("authn: failed to listen on %s: %w", s.Addr, err)
		}
	}
	httpLog := s.Log.WithName("http")
	limited := limitConnections(ln, maxConns, func(remote string) {
		// In net/http's words, so that one search finds every refusal.
		httpLog.V(1).Info("Refused by the HTTP server", "error", "http: request refused before any handler from "+remote+": malformed, too large, or not complete within the read-header timeout")
	})
	srv := &http.Server{
		Handler:           reached(s.Handler),
		ConnContext:       limited.ConnContext,
		ConnState:         limited.ConnState,
		TLSConfig:         s.tlsConfig(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		// What net/http refuses before a handler runs (failed TLS
		// handshakes, plain HTTP on this port, broken requests) goes to
		// the structured log, at debug level: scanners and load-balancer
		// probes make it frequent. It never holds a token or a body.
		ErrorLog: log.New(errorLog{httpLog}, "", 0),
	}
	if !s.EnableHTTP2 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	s.Log.Info("Serving the Azure authenticator", "address", ln.Addr().String(), "maxConnections", maxConns)
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

// errorLog turns net/http's error log lines into structured log entries.
type errorLog struct{ log logr.Logger }

func (e errorLog) Write(p []byte) (int, error) {
	e.log.V(1).Info("Refused by the HTTP server", "error", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
