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
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// echoServer echoes every connection until its client half-closes, and
// counts the connections it has seen.
type echoServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Go(func() {
				defer func() { _ = c.Close() }()
				_, _ = io.Copy(c, c)
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			_ = c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) accepted() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

func newTestProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dialling the proxy: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads it back.
func roundTrip(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if string(got) != msg {
		return fmt.Errorf("echoed %q, want %q", got, msg)
	}
	return nil
}

func TestProxyForwardsBothWaysAndPassesHalfCloseOn(t *testing.T) {
	echo := startEcho(t)
	p := newTestProxy(t, echo.ln.Addr().String())
	if p.Addr() == echo.ln.Addr().String() || !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("proxy address %s", p.Addr())
	}
	c := dialProxy(t, p)
	if err := roundTrip(c, "hello"); err != nil {
		t.Fatal(err)
	}
	// A request written whole, then half-closed: the answer still comes
	// back in full, and then the end of the stream.
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(big)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		done <- err
	}()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading after a half-close: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("echoed %d bytes, want %d", len(got), len(big))
	}
}

// Cut closes what is open and refuses what comes next, as a stopped API
// server would; Restore serves the same address again.
func TestProxyCutClosesAndRefusesUntilRestored(t *testing.T) {
	echo := startEcho(t)
	p := newTestProxy(t, echo.ln.Addr().String())
	open := []net.Conn{dialProxy(t, p), dialProxy(t, p)}
	for _, c := range open {
		if err := roundTrip(c, "before"); err != nil {
			t.Fatal(err)
		}
	}

	if n := p.Cut(); n != len(open) {
		t.Fatalf("Cut closed %d client connections, want %d", n, len(open))
	}
	for _, c := range open {
		closedAtOnce(t, c)
	}
	before := echo.accepted()
	for range 3 {
		c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
		if err == nil {
			_ = c.Close()
			t.Fatal("dialling a cut proxy succeeded")
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dialling a cut proxy: %v, want connection refused", err)
		}
	}
	if got := echo.accepted(); got != before {
		t.Fatalf("the target saw %d new connections while cut", got-before)
	}
	if n := p.Cut(); n != 0 {
		t.Fatalf("a second Cut closed %d", n)
	}

	for cycle := range 2 {
		if err := p.Restore(); err != nil {
			t.Fatal(err)
		}
		if err := p.Restore(); err != nil { // restoring twice is harmless
			t.Fatal(err)
		}
		if err := roundTrip(dialProxy(t, p), fmt.Sprintf("after restore %d", cycle)); err != nil {
			t.Fatalf("after restore %d: %v", cycle, err)
		}
		if n := p.Cut(); n != 1 {
			t.Fatalf("cut %d closed %d client connections, want 1", cycle, n)
		}
	}
}

// CutClosing closes what is open and, until Restore, every connection
// it accepts, as a load balancer without backends would: the client
// connects, then reads EOF (or a reset), and the target sees nothing.
func TestProxyCutClosingClosesEachConnectionUntilRestored(t *testing.T) {
	echo := startEcho(t)
	p := newTestProxy(t, echo.ln.Addr().String())
	c := dialProxy(t, p)
	if err := roundTrip(c, "before"); err != nil {
		t.Fatal(err)
	}
	n, err := p.CutClosing()
	if err != nil || n != 1 {
		t.Fatalf("CutClosing: %d, %v; want 1 client connection closed", n, err)
	}
	before := echo.accepted()
	for _, c := range []net.Conn{c, dialProxy(t, p), dialProxy(t, p)} {
		closedAtOnce(t, c)
	}
	if got := echo.accepted(); got != before {
		t.Fatalf("the target saw %d new connections while cut", got-before)
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(dialProxy(t, p), "after"); err != nil {
		t.Fatal(err)
	}
	// From refusing to closing and back.
	p.Cut()
	if _, err := p.CutClosing(); err != nil {
		t.Fatal(err)
	}
	closedAtOnce(t, dialProxy(t, p))
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(dialProxy(t, p), "again"); err != nil {
		t.Fatal(err)
	}
}

// closedAtOnce fails t unless reading c ends at once (EOF or reset), well
// before the deadline that a forwarded connection would meet.
func closedAtOnce(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read %v, want the connection closed", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A target that is down looks to the client like a connection closed at
// once, not a hang.
func TestProxyClosesTheClientWhenTheTargetIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	_ = ln.Close()
	p := newTestProxy(t, target)
	closedAtOnce(t, dialProxy(t, p))
}

func TestProxyRefusesNonLoopbackTargets(t *testing.T) {
	for _, target := range []string{"169.254.169.254:80", "10.0.0.1:443", "localhost:443", "nonsense", "127.0.0.1:6443/"} {
		if p, err := NewProxy(target); err == nil {
			_ = p.Close()
			t.Errorf("NewProxy(%q) succeeded", target)
		}
	}
}

func TestProxyConfigPointsACopyAtTheProxy(t *testing.T) {
	orig := &rest.Config{Host: "https://127.0.0.1:6443/", BearerToken: "x"}
	p, err := NewAPIServerProxy(orig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if p.target != "127.0.0.1:6443" {
		t.Fatalf("target %q", p.target)
	}
	orig.CAData = []byte("ca")
	c := p.Config(orig)
	if c.Host != "https://"+p.Addr() || orig.Host != "https://127.0.0.1:6443/" {
		t.Fatalf("config host %s, original now %s", c.Host, orig.Host)
	}
	if c.Dial == nil || string(c.CAData) != "ca" || c.BearerToken != "x" {
		t.Fatalf("config lost its dialer or credentials: %+v", c)
	}
}

// Close leaves no goroutine behind, whatever was open: forwarded
// connections, after a cut and a restore.
func TestProxyCloseLeavesNoGoroutine(t *testing.T) {
	echo := startEcho(t)
	p, err := NewProxy(echo.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := roundTrip(dialProxy(t, p), "x"); err != nil {
			t.Fatal(err)
		}
	}
	p.Cut()
	if _, err := p.CutClosing(); err != nil {
		t.Fatal(err)
	}
	_ = dialProxy(t, p)
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	c := dialProxy(t, p)
	if err := roundTrip(c, "y"); err != nil {
		t.Fatal(err)
	}
	if n := proxyGoroutines(); n == 0 {
		t.Fatal("no proxy goroutine seen while serving: the check below could not fail")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waits for its goroutines: none may be left, at once.
	if n := proxyGoroutines(); n != 0 {
		t.Fatalf("%d proxy goroutines left after Close:\n%s", n, stacks())
	}
	if err := p.Restore(); err == nil {
		t.Fatal("Restore after Close succeeded")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialling a closed proxy: %v, want refused", err)
	}
}

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// proxyGoroutines counts the goroutines running the proxy's code.
func proxyGoroutines() int {
	n := 0
	for _, g := range strings.Split(stacks(), "\n\n") {
		if strings.Contains(g, "testenv.(*Proxy)") || strings.Contains(g, "testenv.pipe(") {
			n++
		}
	}
	return n
}
