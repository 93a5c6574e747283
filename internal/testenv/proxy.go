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

package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
)

// Proxy forwards TCP connections from a loopback port to a loopback
// target (the API server) until the test cuts it. Cut closes every
// forwarded connection and stops listening, so that new connections are
// refused; CutClosing closes them too but keeps accepting, and closes
// each new connection at once; Restore forwards again, on the same port.
//
// Cut is the commonest unreachable API server: the process is down or
// restarting, or its Service has no ready endpoint (kube-proxy rejects the
// SYN). It is also the case client-go's reflector is written for: a
// refused watch is retried from the last resource version, with backoff,
// without listing again. CutClosing is a load balancer whose backends are
// all down: requests fail with EOF or "connection reset", which client-go's
// REST client retries 10 times, 1 s apart, before its caller hears of it.
// A partition that drops packets would surface as timeouts of 10 to 30 s
// each, which would only make a test slower.
type Proxy struct {
	target string
	addr   string // fixed for the proxy's life: clients keep dialling it

	mu      sync.Mutex
	ln      net.Listener // nil while cut (refusing) or closed
	closing bool         // cut, closing what it accepts
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// NewProxy listens on a loopback port and forwards to target, a loopback
// ip:port.
func NewProxy(target string) (*Proxy, error) {
	if _, err := netip.ParseAddrPort(target); err != nil {
		return nil, fmt.Errorf("proxy target: %w", err)
	}
	if err := loopback.Check(target); err != nil {
		return nil, fmt.Errorf("proxy target: %w", err)
	}
	ln, err := listenOutsideEphemeralPorts()
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	return p, nil
}

// NewAPIServerProxy is NewProxy to the API server of cfg (https://ip:port/,
// as envtest writes it); Config points a configuration at it.
func NewAPIServerProxy(cfg *rest.Config) (*Proxy, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("proxy: the API server's address: %w", err)
	}
	return NewProxy(u.Host)
}

// listenOutsideEphemeralPorts listens on 127.0.0.1 at a port below the
// kernel's ephemeral range. Restore must get the same port back after a
// cut; a port in the ephemeral range may meanwhile have been handed to a
// connection or to another test's listener on port 0, one outside it only
// to someone asking for that very port.
func listenOutsideEphemeralPorts() (net.Listener, error) {
	low := 32768 // Linux's default lower bound
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				low = n
			}
		}
	}
	var errs []error
	for range 20 {
		port := low/2 + rand.IntN(low/2)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("proxy: no free port below %d: %w", low, errors.Join(errs...))
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Config is a copy of cfg (an API server configuration) that reaches the
// API server through the proxy. The server's certificate still verifies:
// the proxy listens on 127.0.0.1 like envtest's API server, whose serving
// certificate names localhost and 127.0.0.1.
func (p *Proxy) Config(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Host = "https://" + p.addr
	c.Dial = loopback.DialContext
	return c
}

// Cut closes every forwarded connection and stops listening: until
// Restore, connecting is refused. It returns how many client connections
// it closed.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.closing = false
	return p.closeAllLocked()
}

// CutClosing closes every forwarded connection and, until Restore, closes
// each new connection as soon as it is accepted. It returns how many client
// connections it closed.
func (p *Proxy) CutClosing() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.listenLocked(); err != nil {
		return 0, err
	}
	p.closing = true
	return p.closeAllLocked(), nil
}

func (p *Proxy) closeAllLocked() int {
	n := 0
	for c := range p.conns {
		if c.LocalAddr().String() == p.addr {
			n++ // the client's side; the other is the upstream
		}
		_ = c.Close()
	}
	clear(p.conns)
	return n
}

// Restore forwards again, on the same port.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.listenLocked(); err != nil {
		return err
	}
	p.closing = false
	return nil
}

// listenLocked listens again on the proxy's port unless it is listening.
func (p *Proxy) listenLocked() error {
	if p.closed {
		return errors.New("proxy: closed")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("proxy: listening on %s again: %w", p.addr, err)
	}
	p.serveLocked(ln)
	return nil
}

// Close cuts everything for good and waits for every goroutine it
// started.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Cut()
	p.wg.Wait()
	return nil
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(ln)
}

func (p *Proxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut or Close
			}
			if !p.track(ln, c) {
				_ = c.Close()
				continue
			}
			p.wg.Go(func() { p.forward(ln, c) })
		}
	})
}

// track remembers c unless ln has been cut since c was accepted.
func (p *Proxy) track(ln net.Listener, c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln || p.closing {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) forget(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// forward copies both ways until both sides are done, passing half-closes
// on, or until Cut closes them.
func (p *Proxy) forward(ln net.Listener, client net.Conn) {
	defer func() { _ = client.Close(); p.forget(client) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	upstream, err := loopback.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		return // the client sees its connection closed, as from a dead backend
	}
	defer func() { _ = upstream.Close(); p.forget(upstream) }()
	if !p.track(ln, upstream) {
		return
	}
	var copies sync.WaitGroup
	copies.Go(func() { pipe(upstream, client) })
	pipe(client, upstream)
	copies.Wait()
}

// pipe copies from src to dst, then closes dst for writing (or entirely,
// when it cannot half-close).
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if hc, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
		return
	}
	_ = dst.Close()
}
