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
	"strconv"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
)

// GenericUnauthorizedBody is the one body of every 401: a caller without a
// valid matching token learns nothing about which hosts, services or
// accounts exist. The reason goes to the audit log only.
const GenericUnauthorizedBody = `{"error":{"code":"unauthorized","message":"CONJ00002E Invalid credentials"}}`

// retryAfterSeconds is what a 503 asks the client to wait.
const retryAfterSeconds = 1

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

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
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
	var b errorBody
	b.Error.Code = clientCodes[status]
	b.Error.Message = message
	out, _ := json.Marshal(b)
	return string(out)
}

// writeFailure answers with e's status and client body on route.
func writeFailure(w http.ResponseWriter, e *failure.Error, route failure.Route) {
	status, body := ClientBody(e, route)
	writeJSONBody(w, status, body)
}

func writeJSONBody(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
