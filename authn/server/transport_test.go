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
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// Waits of the raw clients, and the allowance on the server's timeouts.
const (
	// failAfter bounds every wait of a raw client; it is reached only
	// when a case fails (the server answered nothing, or kept a
	// connection it should have closed).
	failAfter = 10 * time.Second
	// slack is how late a timeout of the server may fire and still count:
	// 2 cores shared by several test runs under -race delay timers and
	// goroutines by up to seconds. Timers never fire early, so the lower
	// bounds are the configured values themselves.
	slack = 3 * time.Second
	// trickleEvery paces the slow clients: one byte per tick.
	trickleEvery = 100 * time.Millisecond
	// honestEvery paces the honest client that runs beside the table.
	honestEvery = 20 * time.Millisecond
	// testMaxConnections is the server's connection cap in the table.
	testMaxConnections = 32
)

// handshakeTimeout is how long net/http lets a TLS handshake take: the
// smallest of its read-header, read and write timeouts.
func handshakeTimeout() time.Duration {
	return min(ReadHeaderTimeout, ReadTimeout, WriteTimeout)
}

// transportCase is one hostile input. Fast cases run one after another;
// slow ones (those that wait out a timeout of the server) are started
// before the table and judged after it, so their waits overlap each other
// and the fast cases, and the table lasts about its longest timeout.
// Either returns how the server refused (or defused) the input.
type transportCase struct {
	name  string
	run   func(t *testing.T, e *hostile) string
	start func(e *hostile) (judge func(t *testing.T) string)
}

// Hostile inputs at the transport level, answered by net/http and
// crypto/tls before (or around) any handler: each is refused or defused
// by an explicit limit, what the server refused at the TLS layer shows in
// its structured log, no handler runs for what net/http refuses, tokens
// never reach the log, no connection slot leaks, and an honest client is
// served beside every case and after each one.
func TestTransportHostileInputs(t *testing.T) {
	e := newHostile(t)
	cases := transportCases()
	judges := map[string]func(*testing.T) string{}
	for _, c := range cases {
		if c.start != nil {
			judges[c.name] = c.start(e)
		}
	}
	began := time.Now()
	var summary []string
	var failed int
	judge := func(c transportCase) {
		ok := t.Run(c.name, func(t *testing.T) {
			var how string
			if c.start != nil {
				how = judges[c.name](t)
			} else {
				how = c.run(t, e)
			}
			e.served(t)
			summary = append(summary, fmt.Sprintf("  %-48s %s", c.name+":", how))
		})
		if !ok {
			failed++
		}
	}
	for _, c := range cases {
		if c.start == nil {
			judge(c)
		}
	}
	for _, c := range cases {
		if c.start != nil {
			judge(c)
		}
	}
	honest, maxOpen := e.finish(t)
	t.Logf("%d transport cases (%d slow, overlapped) in %v, %d failed; an honest client was served %d times beside them, none refused; at most %v connections open (cap %d):\n%s",
		len(cases), len(judges), time.Since(began).Round(time.Millisecond), failed, honest, maxOpen, testMaxConnections, strings.Join(summary, "\n"))
}

// hostile is the server under attack: this package's listener in front of
// the real authenticator handler, with a recorder between them that notes
// every request a handler sees and answers /case/ paths itself.
type hostile struct {
	addr   string
	pool   *x509.CertPool
	logs   *logSink
	audit  *auditSink
	seen   *recorder
	canary string // a token-like string the hostile requests carry

	honest    *http.Client
	mu        sync.Mutex
	servedAt  []time.Time
	refusals  []string
	stop      chan struct{}
	stopped   sync.WaitGroup
	maxOpen   atomic.Int64
	baseline  float64
	finishing sync.Once
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	cert, pool := selfSigned(t)
	canary := make([]byte, 16)
	_, _ = rand.Read(canary)
	e := &hostile{pool: pool, logs: &logSink{}, audit: &auditSink{}, canary: "canary" + hex.EncodeToString(canary), stop: make(chan struct{})}
	logger := funcr.New(e.logs.add, funcr.Options{Verbosity: 1})

	ix := policy.NewIndex()
	ix.MarkSynced()
	key, err := accesstoken.NewSigningKey(time.Now().Add(-time.Minute), time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	h, err := authn.New(authn.Config{
		Account: "default", Index: ix, Signing: staticRing{accesstoken.NewRing([]*accesstoken.SigningKey{key})},
		Keys:  azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext}),
		Audit: e.audit, Log: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.seen = &recorder{next: h}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	e.baseline = testutil.ToFloat64(openConnections)
	s := &Server{Listener: ln, Log: logger, Handler: e.seen, MaxConnections: testMaxConnections,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		e.stopBackground()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the server stopped with %v", err)
		}
	})
	testenv.Eventually(t, "the server listening", s.Ready)

	e.honest = &http.Client{Timeout: failAfter, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	e.served(t)
	e.stopped.Add(2)
	go e.honestLoop()
	go e.sampleConnections()
	return e
}

// get is one honest request through the whole stack: the public keys.
func (e *hostile) get() error {
	resp, err := e.honest.Get("https://" + e.addr + "/.well-known/jwks.json")
	if err != nil {
		return fmt.Errorf("an honest client was not served: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("an honest client got a broken answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"keys"`)) {
		return fmt.Errorf("an honest client got %d %q", resp.StatusCode, body)
	}
	return nil
}

func (e *hostile) served(t *testing.T) {
	t.Helper()
	if err := e.get(); err != nil {
		t.Fatal(err)
	}
}

// honestLoop is an honest client beside the whole table.
func (e *hostile) honestLoop() {
	defer e.stopped.Done()
	tick := time.NewTicker(honestEvery)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		err := e.get()
		e.mu.Lock()
		if err != nil {
			e.refusals = append(e.refusals, err.Error())
		} else {
			e.servedAt = append(e.servedAt, time.Now())
		}
		e.mu.Unlock()
	}
}

// servedBetween is how often the honest client was served in (from, to).
func (e *hostile) servedBetween(from, to time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, at := range e.servedAt {
		if at.After(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// sampleConnections keeps the most connections seen open at once.
func (e *hostile) sampleConnections() {
	defer e.stopped.Done()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		n := int64(testutil.ToFloat64(openConnections) - e.baseline)
		for cur := e.maxOpen.Load(); n > cur && !e.maxOpen.CompareAndSwap(cur, n); cur = e.maxOpen.Load() {
		}
	}
}

func (e *hostile) stopBackground() {
	e.finishing.Do(func() {
		close(e.stop)
		e.stopped.Wait()
	})
}

// finish checks what the whole table left behind: no honest request
// refused, the cap never exceeded, no token in the logs, and every
// connection the table opened released by the server.
func (e *hostile) finish(t *testing.T) (honest int, maxOpen int64) {
	t.Helper()
	e.stopBackground()
	e.mu.Lock()
	honest, refusals := len(e.servedAt), e.refusals
	e.mu.Unlock()
	if len(refusals) > 0 {
		t.Errorf("the honest client beside the table was refused %d times: %q", len(refusals), refusals)
	}
	if honest == 0 {
		t.Error("the honest client beside the table was never served")
	}
	if maxOpen = e.maxOpen.Load(); maxOpen > testMaxConnections {
		t.Errorf("%d connections were open at once, over the cap of %d", maxOpen, testMaxConnections)
	}
	for _, l := range e.logs.all() {
		if strings.Contains(l, e.canary) {
			t.Errorf("a token reached the log: %s", l)
		}
	}
	if strings.Contains(e.audit.String(), e.canary) {
		t.Error("a token reached the audit log")
	}
	e.honest.CloseIdleConnections()
	testenv.EventuallyWithin(t, failAfter, "every connection of the table released", func() error {
		if open := testutil.ToFloat64(openConnections) - e.baseline; open != 0 {
			return fmt.Errorf("%v connections still open", open)
		}
		return nil
	})
	return honest, maxOpen
}

// handshake dials the server and runs a TLS handshake with cfg (trusting
// the server's certificate); raw is the TCP connection, whose local
// address names the client in the server's log.
func (e *hostile) handshake(cfg *tls.Config) (raw net.Conn, tc *tls.Conn, err error) {
	raw, err = net.DialTimeout("tcp", e.addr, failAfter)
	if err != nil {
		return nil, nil, fmt.Errorf("dialing the server: %w", err)
	}
	_ = raw.SetDeadline(time.Now().Add(failAfter))
	cfg = cfg.Clone()
	cfg.RootCAs, cfg.ServerName = e.pool, "127.0.0.1"
	tc = tls.Client(raw, cfg)
	if err := tc.Handshake(); err != nil {
		return raw, nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return raw, tc, nil
}

// http11 is a TLS connection that negotiated HTTP/1.1, closed when t ends.
func (e *hostile) http11(t *testing.T) *tls.Conn {
	t.Helper()
	raw, tc, err := e.handshake(&tls.Config{NextProtos: []string{"http/1.1"}})
	if raw != nil {
		t.Cleanup(func() { _ = raw.Close() })
	}
	if err != nil {
		t.Fatalf("an HTTP/1.1 client could not connect: %v", err)
	}
	return tc
}

// tcp is a plain TCP connection, closed when t ends.
func (e *hostile) tcp(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, failAfter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(failAfter))
	return c
}

// logged waits for the server's log line about the client at local that
// contains want, and returns its error text.
func (e *hostile) logged(t *testing.T, local net.Addr, want string) string {
	t.Helper()
	var line string
	testenv.EventuallyWithin(t, failAfter, "the refusal in the server's log", func() error {
		for _, l := range e.logs.from(local) {
			if strings.Contains(l, want) {
				line = l
				return nil
			}
		}
		return fmt.Errorf("no line from %s with %q among %q", local, want, e.logs.from(local))
	})
	if _, after, ok := strings.Cut(line, `"error"=`); ok {
		return after
	}
	return line
}

// notHandled fails t if any handler saw a request from the client at local.
func (e *hostile) notHandled(t *testing.T, local net.Addr) {
	t.Helper()
	if got := e.seen.from(local); len(got) > 0 {
		t.Fatalf("a handler saw %d requests net/http should have refused: %+v", len(got), got)
	}
}

// handled is what the handlers saw from the client at local: exactly n requests.
func (e *hostile) handled(t *testing.T, local net.Addr, n int) []seenRequest {
	t.Helper()
	got := e.seen.from(local)
	if len(got) != n {
		t.Fatalf("the handlers saw %d requests, want %d: %+v", len(got), n, got)
	}
	return got
}

// auditFor is the audit line of the response with request id id.
func (e *hostile) auditFor(t *testing.T, id string) authn.AuditEvent {
	t.Helper()
	if id == "" {
		t.Fatal("the answer has no X-Request-Id: the authenticator did not write it")
	}
	for _, ev := range e.audit.events() {
		if ev.RequestID == id {
			return ev
		}
	}
	t.Fatalf("no audit line for request %s", id)
	return authn.AuditEvent{}
}

// reply is one response read off a raw connection, its body in full.
type reply struct {
	resp *http.Response
	body string
	br   *bufio.Reader
}

// send writes payload (from a goroutine: the server may answer, and
// close, before it has read all of it) and reads one response.
func send(c net.Conn, payload string) (*reply, error) {
	_ = c.SetDeadline(time.Now().Add(failAfter))
	go func() { _, _ = io.WriteString(c, payload) }()
	return readReply(bufio.NewReader(c))
}

func readReply(br *bufio.Reader) (*reply, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("no response: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("a broken response body: %w", err)
	}
	return &reply{resp: resp, body: string(body), br: br}, nil
}

// closedByServer says whether the server closed the connection after
// this response (it reads nothing more, and must see the end).
func (r *reply) closedByServer() error {
	n, err := r.br.Read(make([]byte, 1))
	switch {
	case n > 0:
		return errors.New("the server sent more after its response")
	case isClosed(err):
		return nil
	}
	return fmt.Errorf("the connection stayed open: %v", err)
}

// isClosed says whether a read error means the peer closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// drain reads c until the server closes it: what it sent, and when it closed.
func drain(c net.Conn) (got []byte, closedAt time.Time, err error) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if isClosed(err) {
				return got, time.Now(), nil
			}
			return got, time.Now(), fmt.Errorf("still open: %w", err)
		}
	}
}

// trickle writes payload one byte per tick until it is written, the
// write fails (the server closed) or stop closes; it returns how many
// bytes went out.
func trickle(c net.Conn, payload []byte, stop <-chan struct{}) int {
	tick := time.NewTicker(trickleEvery)
	defer tick.Stop()
	for i := range payload {
		if _, err := c.Write(payload[i : i+1]); err != nil {
			return i
		}
		select {
		case <-stop:
			return i + 1
		case <-tick.C:
		}
	}
	return len(payload)
}

// recorder notes every request a handler sees; it answers /case/ paths
// itself (reading the body, echoing the path) and passes everything else
// to the authenticator.
type recorder struct {
	next http.Handler

	mu   sync.Mutex
	seen []seenRequest
	// pipelined requests running at once, and the most at once
	pipeRunning, pipeMax atomic.Int32
}

type seenRequest struct {
	RemoteAddr, Method, RequestURI, Path, Proto, Host string
	ProtoMinor                                        int
	Header                                            http.Header
	ContentLength                                     int64
	TransferEncoding                                  []string
	Body, BodyErr                                     string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seenRequest{RemoteAddr: r.RemoteAddr, Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, Proto: r.Proto,
		ProtoMinor: r.ProtoMinor, Host: r.Host, Header: r.Header.Clone(), ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding}
	if !strings.HasPrefix(r.URL.Path, "/case/") {
		rc.add(s)
		rc.next.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/case/pipe/") {
		n := rc.pipeRunning.Add(1)
		defer rc.pipeRunning.Add(-1)
		for cur := rc.pipeMax.Load(); n > cur && !rc.pipeMax.CompareAndSwap(cur, n); cur = rc.pipeMax.Load() {
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	s.Body = string(body)
	if err != nil {
		s.BodyErr = err.Error()
	}
	rc.add(s)
	_, _ = io.WriteString(w, "seen "+r.URL.Path)
}

func (rc *recorder) add(s seenRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.seen = append(rc.seen, s)
}

func (rc *recorder) from(local net.Addr) []seenRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []seenRequest
	for _, s := range rc.seen {
		if s.RemoteAddr == local.String() {
			out = append(out, s)
		}
	}
	return out
}

// logSink collects the server's structured log.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) add(prefix, args string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, prefix+" "+args)
}

func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// from is the server's refusals of the client at local ("... from
// 127.0.0.1:port: reason").
func (s *logSink) from(local net.Addr) []string {
	var out []string
	for _, l := range s.all() {
		if strings.Contains(l, "Refused by the HTTP server") && strings.Contains(l, "from "+local.String()+":") {
			out = append(out, l)
		}
	}
	return out
}

// auditSink collects the authenticator's audit lines.
type auditSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *auditSink) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

func (a *auditSink) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

func (a *auditSink) events() []authn.AuditEvent {
	var out []authn.AuditEvent
	for _, line := range strings.Split(a.String(), "\n") {
		var ev authn.AuditEvent
		if json.Unmarshal([]byte(line), &ev) == nil {
			out = append(out, ev)
		}
	}
	return out
}

type staticRing struct{ ring *accesstoken.Ring }

func (s staticRing) Ring() *accesstoken.Ring { return s.ring }

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
