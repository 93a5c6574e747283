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
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/authn"
)

// authenticatePath is a real authenticate route (no such service: the
// body is read, and judged, before the service is looked up).
const authenticatePath = "/authn-azure/prod/default/host%2Fapps%2Fweb/authenticate"

// transportCases is the table. Payloads are written byte for byte: the
// point is what no well-behaved client would send.
func transportCases() []transportCase {
	oversized := strings.Repeat("a", 2*MaxHeaderBytes)
	return []transportCase{
		// TLS: refused in the handshake, logged with the client's address.
		{name: "TLS 1.0", run: tlsRefused(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10},
			"protocol version not supported", "client offered only unsupported versions")},
		{name: "TLS 1.1", run: tlsRefused(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
			"protocol version not supported", "client offered only unsupported versions")},
		{name: "TLS 1.2 offering only RC4 and 3DES suites", run: tlsRefused(&tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_RSA_WITH_RC4_128_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA}},
			"handshake failure", "no cipher suite supported by both client and server")},
		{name: "SSLv3 ClientHello", run: rawRefused(sslv3Hello(), alertProtocolVersion, "client offered only unsupported versions")},
		{name: "SSLv2 ClientHello", run: rawRefused(sslv2Hello(), alertProtocolVersion, "unsupported SSLv2 handshake received")},
		{name: "truncated garbage ClientHello", run: rawRefused([]byte{0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef},
			alertDecodeError, "TLS handshake error")},
		{name: "binary garbage instead of TLS", run: rawRefused([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"),
			noAlert, "first record does not look like a TLS handshake")},
		{name: "plain HTTP on the TLS port", run: plainHTTP},
		{name: "HTTP/2 prior knowledge in cleartext", run: rawRefused([]byte(h2Preface), noAlert, "first record does not look like a TLS handshake")},
		{name: "ALPN h2 only, HTTP/2 off", run: tlsRefused(&tls.Config{NextProtos: []string{"h2"}},
			"no application protocol", "client requested unsupported application protocols")},
		{name: "ALPN h2 and http/1.1, HTTP/2 off", run: alpnFallsBack},

		// The request line: net/http answers before any handler.
		{name: "request line over the header limit (long path)", run: refusedBy(http.StatusRequestHeaderFieldsTooLarge, "",
			"GET /case/"+oversized+" HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "very long method", run: refusedBy(http.StatusRequestHeaderFieldsTooLarge, "",
			strings.ToUpper(oversized)+" /case/longmethod HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "invalid method token", run: refusedBy(http.StatusBadRequest, "",
			"G(T /case/badmethod HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "HTTP/0.9 request line (no version)", run: refusedBy(http.StatusBadRequest, "",
			"GET /case/http09\r\n\r\n")},
		{name: "HTTP/0.9 version", run: refusedBy(http.StatusHTTPVersionNotSupported, "unsupported protocol version",
			"GET /case/http09v HTTP/0.9\r\nHost: x\r\n\r\n")},
		{name: "HTTP/2.0 request line over TLS without ALPN", run: refused(nil, http.StatusHTTPVersionNotSupported, "unsupported protocol version",
			"GET /case/h2line HTTP/2.0\r\nHost: x\r\n\r\n")},
		{name: "malformed version HTTP/1.10", run: refusedBy(http.StatusBadRequest, "",
			"GET /case/http110 HTTP/1.10\r\nHost: x\r\n\r\n")},
		{name: "HTTP/1.2 request line", run: http12},
		{name: "HTTP/2 preface over TLS without ALPN, HTTP/2 off", run: h2PrefaceOverTLS},

		// Headers.
		{name: "one header over the limit", run: refusedBy(http.StatusRequestHeaderFieldsTooLarge, "",
			"GET /case/bighdr HTTP/1.1\r\nHost: x\r\nX-Big: "+oversized+"\r\n\r\n")},
		{name: "many small headers over the limit", run: refusedBy(http.StatusRequestHeaderFieldsTooLarge, "",
			"GET /case/manyhdrs HTTP/1.1\r\nHost: x\r\n"+strings.Repeat("X-Many: v\r\n", 2*MaxHeaderBytes/len("X-Many: v\r\n"))+"\r\n")},
		{name: "request head of MaxHeaderBytes", run: headOf(MaxHeaderBytes)},
		{name: "request head at the limit, MaxHeaderBytes + 4 KiB", run: headOf(MaxHeaderBytes + netHTTPSlop)},
		{name: "request head one byte over the limit", run: headOf(MaxHeaderBytes + netHTTPSlop + 1)},
		{name: "bare LF line endings", run: bareLF},
		{name: "bare CR in a header line", run: refusedBy(http.StatusBadRequest, "",
			"GET /case/barecr HTTP/1.1\r\nHost: x\r\nX-A: a\rX-Injected: yes\r\n\r\n")},
		{name: "space in a header name", run: refusedBy(http.StatusBadRequest, "invalid header name",
			"GET /case/spacename HTTP/1.1\r\nHost: x\r\nX Case: a\r\n\r\n")},
		{name: "space before the colon", run: refusedBy(http.StatusBadRequest, "invalid header name",
			"POST /case/spacecolon HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello")},
		{name: "empty header name", run: refusedBy(http.StatusBadRequest, "",
			"GET /case/emptyname HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n")},
		{name: "obs-fold continuation line", run: obsFold},
		{name: "obs-fold on the first header line", run: refusedBy(http.StatusBadRequest, "",
			"GET /case/firstfold HTTP/1.1\r\n X-A: a\r\nHost: x\r\n\r\n")},
		{name: "NUL in a header value", run: refusedBy(http.StatusBadRequest, "",
			"GET /case/nul HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n")},
		{name: "CRLF percent-encoded in the path", run: encodedCRLF},
		{name: "missing Host on HTTP/1.1", run: refusedBy(http.StatusBadRequest, "missing required Host header",
			"GET /case/nohost HTTP/1.1\r\n\r\n")},
		{name: "two Host headers", run: refusedBy(http.StatusBadRequest, "",
			"GET /case/twohosts HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")},
		{name: "malformed Host", run: refusedBy(http.StatusBadRequest, "malformed Host header",
			"GET /case/badhost HTTP/1.1\r\nHost: a b\r\n\r\n")},

		// Body framing: the request smuggling shapes.
		{name: "Content-Length and Transfer-Encoding: chunked", run: clAndTE},
		{name: "two different Content-Lengths", run: refusedBy(http.StatusBadRequest, "",
			"POST /case/twocl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")},
		{name: "two equal Content-Lengths", run: twoEqualCL},
		{name: "Transfer-Encoding: gzip, chunked", run: refusedBy(http.StatusNotImplemented, "",
			"POST /case/gzipchunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")},
		{name: "unknown Transfer-Encoding", run: refusedBy(http.StatusNotImplemented, "",
			"POST /case/unknownte HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello")},
		{name: "two Transfer-Encoding headers", run: refusedBy(http.StatusNotImplemented, "",
			"POST /case/twote HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")},
		{name: "negative Content-Length", run: refusedBy(http.StatusBadRequest, "",
			"POST /case/negcl HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nhello")},
		{name: "non-numeric Content-Length", run: refusedBy(http.StatusBadRequest, "",
			"POST /case/nancl HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello")},
		{name: "invalid chunk size", run: invalidChunk},
		{name: "Transfer-Encoding on HTTP/1.0", run: teOnHTTP10},

		// Protocol switches and volume.
		{name: "Upgrade: h2c", run: h2cUpgrade},
		{name: "1000 pipelined requests on one connection", run: pipelined},

		// Slow clients: cut by the server's timeouts.
		{name: "TCP connection that never starts TLS", start: silentTCP},
		{name: "ClientHello trickled past the handshake bound", start: trickledHello},
		{name: "TLS connection that never sends a request", start: silentTLS},
		{name: "headers trickled past ReadHeaderTimeout", start: trickledHeaders},
		{name: "body trickled past the body deadline", start: trickledBody},
	}
}

// TLS alert descriptions (RFC 8446 6.2).
const (
	noAlert              = -1
	alertDecodeError     = 50
	alertProtocolVersion = 70
)

// netHTTP400 is net/http's own answer to a request it cannot parse.
const netHTTP400 = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"

// h2Preface is what an HTTP/2 client with prior knowledge sends first:
// the connection preface and an empty SETTINGS frame.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"

// tlsRefused: crypto/tls refuses the handshake cfg asks for; the client
// sees clientWant (the alert), the server's log logWant.
func tlsRefused(cfg *tls.Config, clientWant, logWant string) func(*testing.T, *hostile) string {
	return func(t *testing.T, e *hostile) string {
		raw, tc, err := e.handshake(cfg)
		if raw == nil {
			t.Fatal(err)
		}
		defer func() { _ = raw.Close() }()
		if err == nil {
			st := tc.ConnectionState()
			t.Fatalf("the handshake succeeded: %s, ALPN %q", tls.VersionName(st.Version), st.NegotiatedProtocol)
		}
		if !strings.Contains(err.Error(), clientWant) {
			t.Fatalf("the handshake failed with %q, want %q", err, clientWant)
		}
		line := e.logged(t, raw.LocalAddr(), logWant)
		e.notHandled(t, raw.LocalAddr())
		return fmt.Sprintf("handshake refused (client: %v); log: %s", err, line)
	}
}

// rawRefused: payload on a bare TCP connection is refused in the
// handshake; the client reads a fatal alert (or nothing) and the end of
// the connection, the server's log logWant.
func rawRefused(payload []byte, alert int, logWant string) func(*testing.T, *hostile) string {
	return func(t *testing.T, e *hostile) string {
		c := e.tcp(t)
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		got, _, err := drain(c)
		if err != nil {
			t.Fatalf("the server kept the connection: %v (after sending %x)", err, got)
		}
		what := "closed without a word"
		switch {
		case alert == noAlert && len(got) > 0:
			t.Fatalf("the server answered %x, want a bare close", got)
		case alert != noAlert && (len(got) != 7 || got[0] != 0x15 || got[5] != 2 || int(got[6]) != alert):
			t.Fatalf("the server answered %x, want one fatal alert %d", got, alert)
		case alert != noAlert:
			what = fmt.Sprintf("fatal alert %d, closed", alert)
		}
		line := e.logged(t, c.LocalAddr(), logWant)
		e.notHandled(t, c.LocalAddr())
		return what + "; log: " + line
	}
}

func plainHTTP(t *testing.T, e *hostile) string {
	c := e.tcp(t)
	r, err := send(c, "GET /case/plain HTTP/1.1\r\nHost: x\r\nAuthorization: Token token=\""+e.canary+"\"\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.resp.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP answered %q %q", r.resp.Status, r.body)
	}
	if err := r.closedByServer(); err != nil {
		t.Fatal(err)
	}
	line := e.logged(t, c.LocalAddr(), "client sent an HTTP request to an HTTPS server")
	e.notHandled(t, c.LocalAddr())
	return fmt.Sprintf("%s %q in cleartext, closed; log: %s", r.resp.Proto, r.resp.Status, line)
}

func alpnFallsBack(t *testing.T, e *hostile) string {
	raw, tc, err := e.handshake(&tls.Config{NextProtos: []string{"h2", "http/1.1"}})
	if raw != nil {
		defer func() { _ = raw.Close() }()
	}
	if err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("negotiated %q with HTTP/2 off", p)
	}
	r, err := send(tc, "GET /case/alpn HTTP/1.1\r\nHost: x\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.resp.StatusCode != http.StatusOK || r.resp.ProtoMajor != 1 {
		t.Fatalf("answered %s %q", r.resp.Proto, r.resp.Status)
	}
	e.handled(t, raw.LocalAddr(), 1)
	return "ALPN picks http/1.1, served over HTTP/1.1"
}

// refusedBy: sent over TLS with ALPN http/1.1, net/http answers status
// itself (with reason in its status line, when given), before any
// handler, and closes the connection.
func refusedBy(status int, reason, payload string) func(*testing.T, *hostile) string {
	return refused([]string{"http/1.1"}, status, reason, payload)
}

func refused(alpn []string, status int, reason, payload string) func(*testing.T, *hostile) string {
	return func(t *testing.T, e *hostile) string {
		raw, tc, err := e.handshake(&tls.Config{NextProtos: alpn})
		if raw != nil {
			defer func() { _ = raw.Close() }()
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := send(tc, payload)
		if err != nil {
			t.Fatal(err)
		}
		if r.resp.StatusCode != status || !strings.Contains(r.resp.Status, reason) {
			t.Fatalf("answered %q (%q), want %d %s", r.resp.Status, r.body, status, reason)
		}
		if id := r.resp.Header.Get(authn.RequestIDHeader); id != "" {
			t.Fatalf("the authenticator answered (request %s)", id)
		}
		if err := r.closedByServer(); err != nil {
			t.Fatal(err)
		}
		e.notHandled(t, raw.LocalAddr())
		line := e.logged(t, raw.LocalAddr(), "before any handler")
		return fmt.Sprintf("%q by net/http, closed; log: %s", r.resp.Status, line)
	}
}

// exchange sends payload on a fresh HTTP/1.1 TLS connection and reads one
// response.
func (e *hostile) exchange(t *testing.T, payload string) (*tls.Conn, *reply) {
	t.Helper()
	c := e.http11(t)
	r, err := send(c, payload)
	if err != nil {
		t.Fatal(err)
	}
	return c, r
}

// echoed fails t unless the stub answered 200 for path.
func echoed(t *testing.T, r *reply, path string) {
	t.Helper()
	if r.resp.StatusCode != http.StatusOK || r.body != "seen "+path {
		t.Fatalf("answered %q %q, want the stub's echo of %q", r.resp.Status, r.body, path)
	}
}

func http12(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "GET /case/http12 HTTP/1.2\r\nHost: x\r\n\r\n")
	echoed(t, r, "/case/http12")
	s := e.handled(t, c.LocalAddr(), 1)[0]
	if s.Proto != "HTTP/1.2" || s.ProtoMinor != 2 || r.resp.Proto != "HTTP/1.1" {
		t.Fatalf("the handler saw %s (minor %d); answered %s", s.Proto, s.ProtoMinor, r.resp.Proto)
	}
	return "served as HTTP/1.x (RFC 9110: a higher minor version is compatible), answered HTTP/1.1"
}

func h2PrefaceOverTLS(t *testing.T, e *hostile) string {
	raw, tc, err := e.handshake(&tls.Config{})
	if raw != nil {
		defer func() { _ = raw.Close() }()
	}
	if err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" {
		t.Fatalf("negotiated %q without ALPN", p)
	}
	r, err := send(tc, h2Preface)
	if err != nil {
		t.Fatal(err)
	}
	if r.resp.StatusCode != http.StatusNotFound || r.resp.ProtoMajor != 1 || r.resp.Header.Get(authn.RequestIDHeader) == "" {
		t.Fatalf("the preface answered %s %q %q, want the authenticator's 404 over HTTP/1.1", r.resp.Proto, r.resp.Status, r.body)
	}
	if err := r.closedByServer(); err != nil {
		t.Fatal(err)
	}
	s := e.handled(t, raw.LocalAddr(), 1)[0]
	if s.Method != "PRI" || s.RequestURI != "*" || s.Proto != "HTTP/2.0" || s.ContentLength != -1 {
		t.Fatalf("the handler saw %+v", s)
	}
	return "reaches the handler as PRI * (net/http leaves h2c to handlers): the authenticator's 404 over HTTP/1.1, closed"
}

// netHTTPSlop is what net/http reads beyond MaxHeaderBytes before it
// gives up on a request head ("bufio slop", http.Server.initialReadLimitSize):
// the limit a client meets is MaxHeaderBytes plus this.
const netHTTPSlop = 4 << 10

// headOf sends a request whose request line and headers take exactly size
// bytes: served up to MaxHeaderBytes+netHTTPSlop, 431 from one byte more.
func headOf(size int) func(*testing.T, *hostile) string {
	const frame = "GET /case/head HTTP/1.1\r\nHost: x\r\nX-Big: \r\n\r\n"
	value := strings.Repeat("a", size-len(frame))
	payload := "GET /case/head HTTP/1.1\r\nHost: x\r\nX-Big: " + value + "\r\n\r\n"
	if size > MaxHeaderBytes+netHTTPSlop {
		return refusedBy(http.StatusRequestHeaderFieldsTooLarge, "", payload)
	}
	return func(t *testing.T, e *hostile) string {
		c, r := e.exchange(t, payload)
		echoed(t, r, "/case/head")
		if s := e.handled(t, c.LocalAddr(), 1)[0]; s.Header.Get("X-Big") != value {
			t.Fatalf("the handler saw a header of %d bytes, want %d", len(s.Header.Get("X-Big")), len(value))
		}
		return fmt.Sprintf("a request head of %d bytes is served", size)
	}
}

func bareLF(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "GET /case/barelf HTTP/1.1\nHost: x\nX-Case: lf\n\n")
	echoed(t, r, "/case/barelf")
	s := e.handled(t, c.LocalAddr(), 1)[0]
	if s.Host != "x" || s.Header.Get("X-Case") != "lf" || len(s.Header) != 1 {
		t.Fatalf("the handler saw host %q, headers %q", s.Host, s.Header)
	}
	return "LF alone ends a line (RFC 9112 2.2): the same request as with CRLF"
}

func obsFold(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "GET /case/fold HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n")
	echoed(t, r, "/case/fold")
	if s := e.handled(t, c.LocalAddr(), 1)[0]; s.Header.Get("X-Fold") != "a b" || len(s.Header) != 1 {
		t.Fatalf("the handler saw headers %q", s.Header)
	}
	return `unfolded into one value "a b" (RFC 9112 5.2), no header injected`
}

func encodedCRLF(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "GET /case/crlf%0d%0aX-Injected:%20yes HTTP/1.1\r\nHost: x\r\n\r\n")
	echoed(t, r, "/case/crlf\r\nX-Injected: yes")
	if v := r.resp.Header.Get("X-Injected"); v != "" {
		t.Fatalf("a header was injected into the response: %q", v)
	}
	if s := e.handled(t, c.LocalAddr(), 1)[0]; s.Header.Get("X-Injected") != "" || len(s.Header) != 0 {
		t.Fatalf("the handler saw headers %q", s.Header)
	}
	return "one request whose decoded path holds CR LF; nothing split, no header injected"
}

func clAndTE(t *testing.T, e *hostile) string {
	// Were Content-Length honoured, its 48 bytes would swallow the start
	// of the second request.
	c, r := e.exchange(t, "POST /case/clte HTTP/1.1\r\nHost: x\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nhello\r\n0\r\n\r\n"+
		"GET /case/clte-next HTTP/1.1\r\nHost: x\r\n\r\n")
	echoed(t, r, "/case/clte")
	next, err := readReply(r.br)
	if err != nil {
		t.Fatalf("the request after the chunked body: %v", err)
	}
	echoed(t, next, "/case/clte-next")
	seen := e.handled(t, c.LocalAddr(), 2)
	if s := seen[0]; s.Body != "hello" || s.ContentLength != -1 || s.Header.Get("Content-Length") != "" || len(s.TransferEncoding) != 1 {
		t.Fatalf("the handler saw body %q, length %d, Content-Length %q, Transfer-Encoding %q", s.Body, s.ContentLength, s.Header.Get("Content-Length"), s.TransferEncoding)
	}
	return "chunked wins, Content-Length dropped (RFC 9112 6.3): body \"hello\", the next request served on its own"
}

func twoEqualCL(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "POST /case/twoequal HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
	echoed(t, r, "/case/twoequal")
	if s := e.handled(t, c.LocalAddr(), 1)[0]; s.Body != "hello" || s.ContentLength != 5 || len(s.Header.Values("Content-Length")) != 1 {
		t.Fatalf("the handler saw body %q, length %d, Content-Length %q", s.Body, s.ContentLength, s.Header.Values("Content-Length"))
	}
	return "folded into one Content-Length: 5 (RFC 9110 8.6)"
}

func invalidChunk(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "POST "+authenticatePath+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Transfer-Encoding: chunked\r\n\r\nzz\r\njwt="+e.canary+"\r\n0\r\n\r\n")
	if r.resp.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "CONJ00009E") {
		t.Fatalf("answered %q %q, want the authenticator's 400 CONJ00009E", r.resp.Status, r.body)
	}
	if ev := e.auditFor(t, r.resp.Header.Get(authn.RequestIDHeader)); ev.Code != "CONJ00009E" || ev.Operation != "authenticate" {
		t.Fatalf("audited %+v", ev)
	}
	e.handled(t, c.LocalAddr(), 1)
	return "reaches the handler; the body read fails: the authenticator's 400 CONJ00009E, audited"
}

func teOnHTTP10(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "POST /case/te10 HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello")
	echoed(t, r, "/case/te10")
	if s := e.handled(t, c.LocalAddr(), 1)[0]; s.Body != "hello" || s.ContentLength != 5 || len(s.TransferEncoding) != 0 {
		t.Fatalf("the handler saw body %q, length %d, Transfer-Encoding %q", s.Body, s.ContentLength, s.TransferEncoding)
	}
	if err := r.closedByServer(); err != nil {
		t.Fatal(err)
	}
	return "Transfer-Encoding ignored (HTTP/1.0 has none), Content-Length used, closed after"
}

func h2cUpgrade(t *testing.T, e *hostile) string {
	c, r := e.exchange(t, "GET /case/h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"+
		"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	echoed(t, r, "/case/h2c")
	if r.resp.ProtoMajor != 1 || r.resp.Header.Get("Upgrade") != "" {
		t.Fatalf("answered %s with Upgrade %q", r.resp.Proto, r.resp.Header.Get("Upgrade"))
	}
	_, _ = io.WriteString(c, "GET /case/h2c-after HTTP/1.1\r\nHost: x\r\n\r\n")
	after, err := readReply(r.br)
	if err != nil {
		t.Fatal(err)
	}
	echoed(t, after, "/case/h2c-after")
	e.handled(t, c.LocalAddr(), 2)
	return "ignored: 200 over HTTP/1.1, no 101, the connection stays HTTP/1.1"
}

func pipelined(t *testing.T, e *hostile) string {
	const n = 1000
	c := e.http11(t)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "GET /case/pipe/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	_ = c.SetDeadline(time.Now().Add(failAfter))
	began := time.Now()
	go func() { _, _ = io.WriteString(c, b.String()) }()
	br := bufio.NewReader(c)
	for i := range n {
		r, err := readReply(br)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		echoed(t, r, fmt.Sprintf("/case/pipe/%d", i))
	}
	took := time.Since(began)
	meanwhile := e.servedBetween(began, time.Now())
	e.handled(t, c.LocalAddr(), n)
	if m := e.seen.pipeMax.Load(); m != 1 {
		t.Fatalf("%d pipelined requests ran at once", m)
	}
	if open := e.maxOpen.Load(); open > testMaxConnections {
		t.Fatalf("%d connections open at once, over the cap of %d", open, testMaxConnections)
	}
	return fmt.Sprintf("%d answers in order on one connection, one request at a time, in %v (honest client served %d times meanwhile)",
		n, took.Round(time.Millisecond), meanwhile)
}

// slowResult is what a slow client saw.
type slowResult struct {
	local           net.Addr
	began, closedAt time.Time
	got             []byte // what the server sent
	sent            int    // bytes trickled
	reply           *reply
	closed          error // closedByServer after the reply
	err             error
}

// await waits for a slow client's result.
func await(t *testing.T, res <-chan slowResult) slowResult {
	t.Helper()
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(3 * failAfter):
		t.Fatal("the slow client never finished")
		return slowResult{}
	}
}

// cutWithin fails t unless the server ended the slow client's exchange
// within [bound, bound+slack] of r.began, with an honest client served
// meanwhile; it returns how long that took.
func (e *hostile) cutWithin(t *testing.T, r slowResult, bound time.Duration) time.Duration {
	t.Helper()
	took := r.closedAt.Sub(r.began)
	if took < bound || took > bound+slack {
		t.Fatalf("cut after %v, want within [%v, %v]", took, bound, bound+slack)
	}
	if n := e.servedBetween(r.began, r.closedAt); n == 0 {
		t.Fatalf("no honest client was served in the %v the slow client held its connection", took)
	}
	return took
}

// slowly runs a slow client: dial, then fn; the connection is closed after.
func slowly(e *hostile, withTLS bool, fn func(c net.Conn, r *slowResult)) <-chan slowResult {
	res := make(chan slowResult, 1)
	go func() {
		var r slowResult
		defer func() { res <- r }()
		// Measured from before the dial: the server starts its clock
		// when it accepts (or ends the handshake), which may precede the
		// client's next look at the clock.
		r.began = time.Now()
		var c net.Conn
		if withTLS {
			raw, tc, err := e.handshake(&tls.Config{NextProtos: []string{"http/1.1"}})
			if raw != nil {
				defer func() { _ = raw.Close() }()
			}
			if err != nil {
				r.err = err
				return
			}
			r.local, c = raw.LocalAddr(), tc
		} else {
			raw, err := net.DialTimeout("tcp", e.addr, failAfter)
			if err != nil {
				r.err = err
				return
			}
			defer func() { _ = raw.Close() }()
			r.local, c = raw.LocalAddr(), raw
		}
		// Past this the server has failed the case; the judge says so.
		_ = c.SetDeadline(time.Now().Add(ReadTimeout + slack))
		fn(c, &r)
	}()
	return res
}

// trickleUntilClosed trickles payload while draining c, until the server closes it.
func trickleUntilClosed(c net.Conn, payload []byte, r *slowResult) {
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() { sent <- trickle(c, payload, stop) }()
	r.got, r.closedAt, r.err = drain(c)
	close(stop)
	r.sent = <-sent
}

func silentTCP(e *hostile) func(*testing.T) string {
	res := slowly(e, false, func(c net.Conn, r *slowResult) { r.got, r.closedAt, r.err = drain(c) })
	return func(t *testing.T) string {
		r := await(t, res)
		took := e.cutWithin(t, r, handshakeTimeout())
		if len(r.got) > 0 {
			t.Fatalf("the server sent %x", r.got)
		}
		line := e.logged(t, r.local, "i/o timeout")
		return fmt.Sprintf("closed after %v (handshake bound %v); log: %s", took.Round(time.Millisecond), handshakeTimeout(), line)
	}
}

func trickledHello(e *hostile) func(*testing.T) string {
	res := slowly(e, false, func(c net.Conn, r *slowResult) {
		hello, err := clientHello()
		if err != nil {
			r.err = err
			return
		}
		trickleUntilClosed(c, hello, r)
		if r.sent == len(hello) {
			r.err = fmt.Errorf("the whole ClientHello (%d bytes) went out before the server cut it", r.sent)
		}
	})
	return func(t *testing.T) string {
		r := await(t, res)
		took := e.cutWithin(t, r, handshakeTimeout())
		if len(r.got) > 0 {
			t.Fatalf("the server sent %x", r.got)
		}
		line := e.logged(t, r.local, "i/o timeout")
		return fmt.Sprintf("closed after %v, %d bytes in (handshake bound %v); log: %s", took.Round(time.Millisecond), r.sent, handshakeTimeout(), line)
	}
}

func silentTLS(e *hostile) func(*testing.T) string {
	res := slowly(e, true, func(c net.Conn, r *slowResult) { r.got, r.closedAt, r.err = drain(c) })
	return func(t *testing.T) string {
		r := await(t, res)
		took := e.cutWithin(t, r, ReadHeaderTimeout)
		if len(r.got) > 0 {
			t.Fatalf("the server sent %q", r.got)
		}
		e.notHandled(t, r.local)
		return fmt.Sprintf("closed after %v (ReadHeaderTimeout %v), no answer; log lines: %d", took.Round(time.Millisecond), ReadHeaderTimeout, len(e.logs.from(r.local)))
	}
}

func trickledHeaders(e *hostile) func(*testing.T) string {
	payload := []byte("GET /case/slowheaders HTTP/1.1\r\nHost: x\r\nAuthorization: Token token=\"" + e.canary + "\"\r\nX-Slow: " + strings.Repeat("a", 1000))
	res := slowly(e, true, func(c net.Conn, r *slowResult) { trickleUntilClosed(c, payload, r) })
	return func(t *testing.T) string {
		r := await(t, res)
		took := e.cutWithin(t, r, ReadHeaderTimeout)
		// Cut at a line boundary (or after a header's colon), net/http
		// closes without a word; cut within a line, bufio hands it the
		// partial line as if complete, which it refuses as malformed.
		// Either way the reads that follow fail: no request is ever
		// completed from a cut-off header block.
		answer := "no answer"
		if len(r.got) > 0 {
			if string(r.got) != netHTTP400 {
				t.Fatalf("the server answered %q", r.got)
			}
			answer = "net/http's 400 for the cut-off line"
		}
		e.notHandled(t, r.local)
		line := e.logged(t, r.local, "before any handler")
		return fmt.Sprintf("closed after %v, %d bytes in (ReadHeaderTimeout %v), %s, no handler; log: %s",
			took.Round(time.Millisecond), r.sent, ReadHeaderTimeout, answer, line)
	}
}

func trickledBody(e *hostile) func(*testing.T) string {
	const length = 256
	body := "jwt=" + e.canary
	body += strings.Repeat("a", length-len(body))
	head := "POST " + authenticatePath + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", length)
	res := slowly(e, true, func(c net.Conn, r *slowResult) {
		// Before the write: the handler starts its clock once it has
		// the headers.
		r.began = time.Now()
		if _, err := io.WriteString(c, head); err != nil {
			r.err = err
			return
		}
		stop := make(chan struct{})
		sent := make(chan int, 1)
		go func() { sent <- trickle(c, []byte(body), stop) }()
		r.reply, r.err = readReply(bufio.NewReader(c))
		r.closedAt = time.Now()
		if r.err == nil {
			r.closed = r.reply.closedByServer()
		}
		close(stop)
		r.sent = <-sent
	})
	return func(t *testing.T) string {
		r := await(t, res)
		took := e.cutWithin(t, r, authn.BodyReadTimeout)
		if r.reply.resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(r.reply.body, "AZAUTH016E") {
			t.Fatalf("answered %q %q, want 408 AZAUTH016E", r.reply.resp.Status, r.reply.body)
		}
		if r.closed != nil {
			t.Fatal(r.closed)
		}
		if ev := e.auditFor(t, r.reply.resp.Header.Get(authn.RequestIDHeader)); ev.Code != "AZAUTH016E" || ev.Operation != "authenticate" {
			t.Fatalf("audited %+v", ev)
		}
		if s := e.handled(t, r.local, 1)[0]; s.Method != http.MethodPost || s.ContentLength != length {
			t.Fatalf("the handler saw %+v", s)
		}
		return fmt.Sprintf("%q %s after %v, %d of %d body bytes in (BodyReadTimeout %v), audited, closed",
			r.reply.resp.Status, strings.TrimSpace(r.reply.body), took.Round(time.Millisecond), r.sent, length, authn.BodyReadTimeout)
	}
}

// clientHello is the first record crypto/tls sends as a client.
func clientHello() ([]byte, error) {
	a, b := net.Pipe()
	defer func() { _ = a.Close(); _ = b.Close() }()
	go func() {
		_ = tls.Client(a, &tls.Config{ServerName: "localhost", NextProtos: []string{"http/1.1"}}).Handshake()
	}()
	_ = b.SetReadDeadline(time.Now().Add(failAfter))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		return nil, fmt.Errorf("reading a ClientHello: %w", err)
	}
	rec := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, rec); err != nil {
		return nil, fmt.Errorf("reading a ClientHello: %w", err)
	}
	return append(hdr, rec...), nil
}

// sslv3Hello is a well-formed SSL 3.0 ClientHello (RFC 6101 5.6.1.2).
func sslv3Hello() []byte {
	hello := []byte{0x03, 0x00} // client_version
	hello = append(hello, make([]byte, 32)...)
	hello = append(hello, 0x00)                   // no session id
	hello = append(hello, 0x00, 0x02, 0x00, 0x2f) // TLS_RSA_WITH_AES_128_CBC_SHA
	hello = append(hello, 0x01, 0x00)             // null compression
	msg := append([]byte{0x01, 0x00, byte(len(hello) >> 8), byte(len(hello))}, hello...)
	return append([]byte{0x16, 0x03, 0x00, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// sslv2Hello is an SSL 2.0 CLIENT-HELLO (draft-hickman-netscape-ssl-00).
func sslv2Hello() []byte {
	specs := []byte{0x07, 0x00, 0xc0, 0x05, 0x00, 0x80, 0x03, 0x00, 0x80, 0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00, 0x80, 0x02, 0x00, 0x80}
	msg := []byte{0x01, 0x00, 0x02, 0x00, byte(len(specs)), 0x00, 0x00, 0x00, 0x10}
	msg = append(msg, specs...)
	msg = append(msg, make([]byte, 16)...) // challenge
	return append([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg...)
}
