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

package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// limitConnections caps the connections open at once at max. At the cap a
// new connection first evicts the connection that has been idle (kept
// alive between requests) the longest, so a client parking keep-alive
// connections cannot lock others out; with none idle it is closed at once
// (and counted), so slow or stalled clients cannot exhaust file
// descriptors and memory. Unlike x/net/netutil's LimitListener it never
// stops accepting: a blocked accept loop would leave new connections in
// the kernel backlog, where honest clients wait as long as the attacker
// likes. ConnState must be the server's ConnState hook.
func limitConnections(ln net.Listener, max int, refused func(remote string)) *connLimiter {
	return &connLimiter{Listener: ln, max: max, idle: map[*limitedConn]uint64{}, refused: refused}
}

type connLimiter struct {
	net.Listener
	max int
	// refused is told of every connection closed while net/http was
	// reading a request that never reached a handler: a request it
	// answered itself (400, 431, 501, 505) or one not complete in time.
	// net/http logs none of these.
	refused func(remote string)

	mu   sync.Mutex
	open int
	idle map[*limitedConn]uint64 // idle connections, by when they became idle
	tick uint64
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if victim := l.reserve(); victim != nil {
			_ = victim.Close() // frees its place; the reservation is ours
		}
		if !l.admit() {
			connectionsRejected.Inc()
			_ = c.Close()
			continue
		}
		openConnections.Inc()
		return &limitedConn{Conn: c, release: l.release}, nil
	}
}

// reserve returns the longest-idle connection to evict when at the cap.
func (l *connLimiter) reserve() *limitedConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open < l.max || len(l.idle) == 0 {
		return nil
	}
	var victim *limitedConn
	var since uint64
	for c, t := range l.idle {
		if victim == nil || t < since {
			victim, since = c, t
		}
	}
	delete(l.idle, victim)
	return victim
}

func (l *connLimiter) admit() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		return false
	}
	l.open++
	return true
}

func (l *connLimiter) release(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	c.closed = true
	delete(l.idle, c)
	openConnections.Dec()
}

// ConnState tracks which connections are idle between requests.
func (l *connLimiter) ConnState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	switch state {
	case http.StateActive:
		// net/http reports a request as soon as its first byte is read,
		// before it is parsed: until a handler runs, it may be refused.
		lc.reading.Store(true)
	case http.StateIdle:
		lc.reading.Store(false)
	case http.StateClosed:
		if lc.reading.Load() && l.refused != nil {
			l.refused(lc.RemoteAddr().String())
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateIdle:
		if !lc.closed {
			l.tick++
			l.idle[lc] = l.tick
		}
	default:
		delete(l.idle, lc)
	}
}

// connKey is the context key under which ConnContext keeps the connection.
type connKey struct{}

// ConnContext must be the server's ConnContext hook, for Reached.
func (l *connLimiter) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// reached wraps the server's handler: a request it sees was not refused.
func reached(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lc, ok := r.Context().Value(connKey{}).(*limitedConn); ok {
			lc.reading.Store(false)
		}
		next.ServeHTTP(w, r)
	})
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	closed  bool // under the limiter's mu
	release func(*limitedConn)
	// reading: net/http has read part of a request that no handler has
	// seen yet.
	reading atomic.Bool
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.release(c)
	})
	return err
}

// Connection metrics.
var (
	openConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_open_connections",
		Help: "Connections open to the authenticator.",
	})

	connectionsRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "azure_authenticator_connections_rejected_total",
		Help: "Connections closed at accept because --max-connections were open.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(openConnections, connectionsRejected)
}
