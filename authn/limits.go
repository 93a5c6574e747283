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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
)

// Request limits: every one explicit. The listener's own (headers,
// timeouts, connections) are in authn/server.
const (
	MaxBodyBytes = 64 << 10
	// BodyReadTimeout bounds reading a request body, before the request
	// takes an in-flight slot: a client that withholds its body holds a
	// connection, never a slot.
	BodyReadTimeout = 2 * time.Second
	// DefaultMaxInFlight caps concurrent requests; over it: 503.
	DefaultMaxInFlight = 256
)

// ServeHTTP gives every request an id, parses its path once, reads its
// bounded body under a deadline of its own, and only then takes an
// in-flight slot (503 over the cap): a client that withholds its body
// holds a connection, never a slot. A panic becomes a bare 500. Both
// refusals are audited and counted.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	// Shared values: net/http only reads them.
	hdr["Cache-Control"] = noStore
	hdr["X-Content-Type-Options"] = noSniff
	id := newRequestID()
	hdr[RequestIDHeader] = []string{id}
	// held says whether this request holds its slot: it gives it back
	// while it waits for a provider key fetch (see waitHook), which only
	// a routed request, holding its slot, can reach.
	held := true
	r = r.WithContext(azuread.WithWaitHook(withRequestID(r.Context(), id), h.waitHook(r.Context(), &held)))
	req := parseRequest(r)
	r.Body = readBody(w, r)
	select {
	case h.inFlight <- struct{}{}:
		requestsInFlight.Inc()
		defer func() {
			if held {
				<-h.inFlight
				requestsInFlight.Dec()
			}
		}()
	default:
		h.refuse(w, r, req, "overloaded", failure.New(failure.Overloaded, "all "+strconv.Itoa(h.cfg.MaxInFlight)+" in-flight slots taken"))
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			// The panic value and stack go to the operational log, the
			// request only by route and id (no body, no headers).
			h.cfg.Log.Error(fmt.Errorf("%v", p), "Panic while serving a request", "operation", string(req.op), "requestID", id,
				"stack", string(debug.Stack()))
			h.refuse(w, r, req, "panic", failure.New(failure.Internal, "panic while serving the request"))
		}
	}()
	h.routeFn(w, r, req)
}

// refuse answers a request refused around its route (overload, panic):
// audited under the route's operation, counted by reason, and answered
// from the table's default column, the same on every route.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, req request, reason string, f *failure.Error) {
	ev := h.newEvent(r, req)
	ev.rejected = reason
	h.respond(w, ev, f, nil)
}

// waitHook gives the request's in-flight slot back while it waits for a
// provider key fetch (idle time, bounded by the fetch timeout), so callers
// queued on one slow fetch cannot starve the server. Resuming takes a slot
// again, waiting for one as long as the caller is there; a caller who left
// holds none, and *held says so.
func (h *Handler) waitHook(ctx context.Context, held *bool) func() (resume func()) {
	return func() func() {
		<-h.inFlight
		requestsInFlight.Dec()
		*held = false
		return func() {
			select {
			case h.inFlight <- struct{}{}:
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
func readBody(w http.ResponseWriter, r *http.Request) io.ReadCloser {
	if r.Body == nil || r.Body == http.NoBody {
		return http.NoBody
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(BodyReadTimeout)) // unsupported only on test recorders
	body, err := readAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes), r.ContentLength)
	if err != nil {
		// The deadline stays: net/http drains an unread body before it
		// answers, and must not wait for a client that withholds it.
		return io.NopCloser(failingReader{err})
	}
	_ = rc.SetReadDeadline(time.Time{})
	return replayBody{bytes.NewReader(body), body}
}

// readAll is io.ReadAll that starts from the announced length, so a
// body of known size takes one allocation instead of a chain of growing
// copies; the length is a hint only (the reader still bounds the body).
func readAll(r io.Reader, contentLength int64) ([]byte, error) {
	b := make([]byte, 0, min(max(contentLength, 0), MaxBodyBytes)+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// replayBody replays a body read in full; a route that wants the bytes
// takes them without copying (bodyOf).
type replayBody struct {
	*bytes.Reader
	b []byte
}

func (replayBody) Close() error { return nil }

// bodyOf is the request body, read in full (or the read's error).
func bodyOf(r *http.Request) ([]byte, error) {
	if rb, ok := r.Body.(replayBody); ok {
		return rb.b, nil
	}
	return io.ReadAll(r.Body)
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }
