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
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// GenericUnauthorizedBody is the one body of every 401: a caller without a
// valid matching token learns nothing about which hosts, services or
// accounts exist. The reason goes to the audit log only.
const GenericUnauthorizedBody = `{"error":{"code":"unauthorized","message":"CONJ00002E Invalid credentials"}}`

// retryAfterSeconds is what a 503 asks the client to wait.
const retryAfterSeconds = 1

// event is what one request's outcome is recorded as: its audit line (or
// lines: a batch fetch has one per variable) and its metrics.
type event struct {
	AuditEvent
	op    operation
	ip    netip.Addr // the client, as clientIP found it
	start time.Time
	// knownService: the authenticate metric names the service only when
	// it is configured, never raw request text.
	knownService bool
	// variables of a fetch: one audit line and one count each.
	variables []string
	// rejected is set for a request refused around its route (overloaded,
	// panic): it counts there, not as an attempt of its route.
	rejected string
	// unaudited: the public JWKS route writes no audit line.
	unaudited bool
}

// newEvent starts a request's event with what the path and the peer say.
func (h *Handler) newEvent(r *http.Request, req request) *event {
	ev := &event{op: req.op, start: h.clock.Now()}
	ev.RequestID = requestIDOf(r.Context())
	ev.Operation = string(req.op)
	ev.Service, ev.Account = req.service, req.account
	if req.accountServed {
		ev.Account = h.cfg.Account
	}
	if req.loginOK {
		ev.Host = req.login
	}
	ev.ip = clientIP(r, h.cfg.TrustedProxies)
	ev.ClientIP = policy.AddrText(ev.ip)
	return ev
}

// reply is a successful response's body.
type reply struct {
	contentType string
	encoding    string // Content-Encoding, when set
	body        []byte
}

// respond finishes every routed request, success or failure, the same
// way: the audit line(s), the metrics, then the body: f's status and client
// body from failure's table for the request's route, or ok.
func (h *Handler) respond(w http.ResponseWriter, ev *event, f *failure.Error, ok *reply) {
	ev.Result = "success"
	if f != nil {
		ev.Result, ev.Code, ev.Reason = "failure", string(f.Code), f.Detail()
	}
	h.audit(ev)
	h.count(ev, f)
	if f != nil {
		route := ev.op.failureRoute()
		if ev.rejected != "" {
			route = failure.Authenticate
		}
		status, body := ClientBody(f, route)
		writeJSON(w, status, body)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = headerValue(ok.contentType)
	if ok.encoding != "" {
		hdr.Set("Content-Encoding", ok.encoding)
	}
	_, _ = w.Write(ok.body)
}

// Header values every response carries, shared: net/http only reads a
// header's values, and a handler setting them allocates nothing.
var (
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
	jsonContentType = []string{"application/json"}
)

func headerValue(v string) []string {
	if v == jsonContentType[0] {
		return jsonContentType
	}
	return []string{v}
}

func (h *Handler) audit(ev *event) {
	if ev.unaudited {
		return
	}
	if len(ev.variables) == 0 {
		h.auditor.record(ev.AuditEvent)
		return
	}
	for _, v := range ev.variables {
		line := ev.AuditEvent
		line.Variable = v
		h.auditor.record(line)
	}
}

func (h *Handler) count(ev *event, f *failure.Error) {
	if ev.rejected != "" {
		rejectedRequests.WithLabelValues(ev.rejected).Inc()
		return
	}
	switch ev.op {
	case opAuthenticate:
		label, code := "unknown", ""
		if ev.knownService {
			label = ev.Service
		}
		if f != nil {
			code = string(f.Code)
		}
		authentications.WithLabelValues(label, ev.Result, code).Inc()
		authenticationDuration.WithLabelValues(ev.Result).Observe(h.clock.Since(ev.start).Seconds())
	case opFetch:
		result := "success"
		if f != nil {
			result = clientCodes[failure.HTTPStatus(f.Code, failure.Secrets)]
		}
		for range max(1, len(ev.variables)) {
			secretFetches.WithLabelValues(result).Inc()
		}
	}
}

// clientCodes are the Conjur error codes of the body, by status.
var clientCodes = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestTimeout:        "request_timeout",
	http.StatusNotAcceptable:         "not_acceptable",
	http.StatusRequestEntityTooLarge: "payload_too_large",
	http.StatusServiceUnavailable:    "service_unavailable",
	http.StatusInternalServerError:   "internal_error",
}

// ClientBody is the status and body a client sees for a failure on route:
// the fixed body for every 401; the status route's own error document for
// its 500s (what is wrong with the service, as Conjur tells it);
// otherwise the code and its message. Never the reason.
func ClientBody(e *failure.Error, route failure.Route) (int, string) {
	status := failure.HTTPStatus(e.Code, route)
	switch {
	case status == http.StatusUnauthorized:
		return status, GenericUnauthorizedBody
	case route == failure.Status && status == http.StatusInternalServerError:
		return status, statusError(e)
	}
	return status, jsonError(status, string(e.Code)+" "+e.Message)
}

// statusError renders a failure for the status body: the code, its
// message and a generic reason (the key sets' reasons carry no URLs or TLS
// details).
func statusError(e *failure.Error) string {
	msg := string(e.Code) + " " + e.Message
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	b, _ := json.Marshal(struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}{"error", msg})
	return string(b)
}

func jsonError(status int, message string) string {
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b.Error.Code = clientCodes[status]
	b.Error.Message = message
	out, _ := json.Marshal(b)
	return string(out)
}

// writeJSON writes a JSON body with its status; a 503 asks the client to
// retry after a second.
func writeJSON(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
