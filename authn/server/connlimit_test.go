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
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// Connections beyond the cap are closed as they are accepted; closing one
// makes room for the next.
func TestConnectionsOverTheCapAreClosedAtAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConnections(inner, 2, nil)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	rejected := testutil.ToFloat64(connectionsRejected)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	dial()
	dial()
	first, second := <-accepted, <-accepted
	third := dial()
	// The limiter closes it: the client reads EOF, the server never sees it.
	_ = third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection over the cap was kept open")
	}
	if got := testutil.ToFloat64(connectionsRejected) - rejected; got != 1 {
		t.Fatalf("rejected counter moved by %v, want 1", got)
	}
	_ = first.Close()
	_ = first.Close() // closing twice frees one slot, not two
	dial()
	fourth := <-accepted
	fifth := dial()
	_ = fifth.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := fifth.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection over the cap was kept open after one slot was freed")
	}
	_, _ = second, fourth
}

// At the connection cap, a connection parked idle between requests makes
// room for a new one, so keep-alive connections cannot lock other clients
// out; connections busy with a request are never evicted.
func TestIdleConnectionsMakeRoomAtTheCap(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConnections(inner, 2, nil)
	release := make(chan struct{})
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, ConnState: ln.ConnState,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				<-release
			}
		})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "http://" + inner.Addr().String()
	client := func() *http.Client {
		tr := &http.Transport{MaxConnsPerHost: 1, DisableCompression: true}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, path string) error {
		resp, err := c.Get(url + path)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	// Two clients park keep-alive connections; a third still gets in.
	a, b := client(), client()
	for _, c := range []*http.Client{a, b} {
		if err := get(c, "/"); err != nil {
			t.Fatal(err)
		}
	}
	bothIdle := func() error {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		if ln.open != 2 || len(ln.idle) != 2 {
			return fmt.Errorf("%d open, %d idle", ln.open, len(ln.idle))
		}
		return nil
	}
	testenv.Eventually(t, "both connections idle", bothIdle)
	if err := get(client(), "/"); err != nil {
		t.Fatalf("a new client was locked out by idle connections: %v", err)
	}
	testenv.Eventually(t, "the newcomer's and one parked connection idle", bothIdle)

	// Two requests in progress fill the cap: nothing is evicted, and a
	// new connection is refused.
	t.Cleanup(func() { close(release) })
	for range 2 {
		go func() { _ = get(client(), "/block") }()
	}
	testenv.Eventually(t, "two requests in progress at the cap", func() error {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		if ln.open != 2 || len(ln.idle) != 0 {
			return fmt.Errorf("%d open, %d idle", ln.open, len(ln.idle))
		}
		return nil
	})
	if err := get(client(), "/"); err == nil {
		t.Fatal("a connection beyond the cap was served while every connection was busy")
	}
}

// Only a request net/http refuses, or one cut off before its headers were
// complete, is reported as refused: requests that reach the handler, on
// keep-alive connections or closing ones, are not.
func TestOnlyRequestsThatNoHandlerSawAreReportedRefused(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, 10)
	ln := limitConnections(inner, 8, func(remote string) { refused <- remote })
	srv := &http.Server{
		Handler:           reached(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })),
		ConnContext:       ln.ConnContext,
		ConnState:         ln.ConnState,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    1 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	exchange := func(payload string) (net.Conn, string) {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, payload); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c) // every payload below ends with the server closing
		return c, string(got)
	}
	get := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	honest, _ := exchange(get + get + "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	bad, answer := exchange(get + "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 16<<10) + "\r\n\r\n")
	if !strings.Contains(answer, "431") {
		t.Fatalf("the oversized request got %q", answer)
	}
	testenv.Until(t, "the refusal reported", func() bool { return len(refused) > 0 })
	if got := <-refused; got != bad.LocalAddr().String() {
		t.Fatalf("reported %s, want the refused client %s (the honest one was %s)", got, bad.LocalAddr(), honest.LocalAddr())
	}
	// The honest connection closed before the bad one was opened: had it
	// been reported, it would have come first.
	if len(refused) != 0 {
		t.Fatalf("%d more reports: %s", len(refused), <-refused)
	}
}
