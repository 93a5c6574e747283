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

// Package failure names every way an authentication or a secret request can
// fail: the audit code (Conjur's wherever Conjur has the same condition,
// AZAUTH codes for checks Conjur does not make), its message, the HTTP
// status a client sees on each route, and the reason that goes to the audit
// log only. It is the single source of all four: the server, the README's
// code table (checked by a test) and the metrics' code label follow it.
//
// A domain package: it imports nothing of ours.
package failure

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is an audit code such as CONJ00049E.
type Code string

// Conjur's codes (app/domain/errors.rb).
const (
	InvalidCredentials          Code = "CONJ00002E"
	OriginNotAllowed            Code = "CONJ00003E"
	AuthenticatorDisabled       Code = "CONJ00004E"
	WebserviceNotFound          Code = "CONJ00005E"
	RoleNotAuthorizedOnResource Code = "CONJ00006E"
	RoleNotFound                Code = "CONJ00007E"
	AccountNotServed            Code = "CONJ00008E"
	MissingRequestParam         Code = "CONJ00009E"
	ProviderDiscoveryTimeout    Code = "CONJ00010E"
	ProviderDiscoveryFailed     Code = "CONJ00011E"
	TokenExpired                Code = "CONJ00016E"
	TokenDecodeFailed           Code = "CONJ00035E"
	InvalidResourceRestrictions Code = "CONJ00049E"
	TokenClaimNotFoundOrEmpty   Code = "CONJ00051E"
	MissingFieldsInXmsMirid     Code = "CONJ00053E"
	InvalidProviderFieldsXmsMir Code = "CONJ00054E"
	VariableNotFound            Code = "CONJ00076E"
	RequestBodyMissingJWTToken  Code = "CONJ00077E"
)

// Codes for checks Conjur does not make. Retired numbers are never reused
// (they are metric label values): AZAUTH004E, AZAUTH006E and AZAUTH008E
// became CONJ00003E, CONJ00004E and CONJ00008E.
const (
	AudienceNotAccepted   Code = "AZAUTH001E"
	TenantMismatch        Code = "AZAUTH002E"
	IssuedInFuture        Code = "AZAUTH003E"
	BodyTooLarge          Code = "AZAUTH005E"
	LifetimeTooShort      Code = "AZAUTH007E"
	NotReady              Code = "AZAUTH009E"
	Overloaded            Code = "AZAUTH010E"
	DuplicateRequestParam Code = "AZAUTH011E"
	AccessTokenInvalid    Code = "AZAUTH012E"
	NotAcceptable         Code = "AZAUTH013E"
	ViewTooStale          Code = "AZAUTH014E"
	MissingQueryParam     Code = "AZAUTH015E"
	BodyTimeout           Code = "AZAUTH016E"
	Internal              Code = "AZAUTH017E"
	SecretsUnavailable    Code = "AZAUTH018E"
)

// Route names the routes on which a code's status differs.
type Route int

const (
	// Authenticate is POST .../authenticate, and the default.
	Authenticate Route = iota
	// Status is GET /authn-azure/{service}/{account}/status: like Conjur,
	// it tells an authenticated caller what is wrong with the service.
	Status
	// Secrets is the secrets API and /whoami.
	Secrets
)

// entry is one code: its message and its HTTP status, by route where the
// routes differ.
type entry struct {
	message string
	status  int
	// onStatus is the status on the status route, when it differs.
	onStatus int
}

// table is the single source of messages and statuses. Placeholders are
// filled by New; none is ever left unfilled (Conjur's CONJ00054E kept a
// literal {1}).
var table = map[Code]entry{ //nolint:gosec // G101: audit messages that mention credentials, not credentials
	InvalidCredentials:          {"Invalid credentials", http.StatusUnauthorized, 0},
	OriginNotAllowed:            {"User is not authorized to login from the current origin", http.StatusUnauthorized, 0},
	AuthenticatorDisabled:       {"'%s' is not enabled", http.StatusUnauthorized, http.StatusInternalServerError},
	WebserviceNotFound:          {"Webservice '%s' not found", http.StatusUnauthorized, http.StatusNotFound},
	RoleNotAuthorizedOnResource: {"'%s' does not have '%s' privilege on %s", http.StatusForbidden, 0},
	RoleNotFound:                {"'%s' not found", http.StatusUnauthorized, 0},
	AccountNotServed:            {"Account '%s' is not defined", http.StatusUnauthorized, 0},
	MissingRequestParam:         {"Field '%s' is missing or empty in request body", http.StatusBadRequest, 0},
	ProviderDiscoveryTimeout:    {"Failed to discover Identity Provider '%s' with timeout error", http.StatusUnauthorized, http.StatusInternalServerError},
	ProviderDiscoveryFailed:     {"Failed to discover Identity Provider '%s'", http.StatusUnauthorized, http.StatusInternalServerError},
	TokenExpired:                {"Token expired", http.StatusUnauthorized, 0},
	TokenDecodeFailed:           {"Failed to decode token", http.StatusUnauthorized, 0},
	InvalidResourceRestrictions: {"Resource restriction '%s' does not match with the corresponding value in the request", http.StatusUnauthorized, 0},
	TokenClaimNotFoundOrEmpty:   {"Claim '%s' not found or empty in token", http.StatusUnauthorized, 0},
	MissingFieldsInXmsMirid:     {"Required fields are missing in xms_mirid %s", http.StatusUnauthorized, 0},
	InvalidProviderFieldsXmsMir: {"Provider fields are in invalid format in xms_mirid %s. xms_mirid must contain the resource provider namespace, the resource type, and the resource name", http.StatusUnauthorized, 0},
	VariableNotFound:            {"Variable %s is empty or not found.", http.StatusNotFound, 0},
	RequestBodyMissingJWTToken:  {"The request body does not contain JWT token", http.StatusUnauthorized, 0},
	AudienceNotAccepted:         {"Token audience is not accepted by this authenticator", http.StatusUnauthorized, 0},
	TenantMismatch:              {"Token tenant does not match", http.StatusUnauthorized, 0},
	IssuedInFuture:              {"Token issued in the future", http.StatusUnauthorized, 0},
	BodyTooLarge:                {"Request body is too large", http.StatusRequestEntityTooLarge, 0},
	LifetimeTooShort:            {"Token expires too soon to issue an access token", http.StatusUnauthorized, 0},
	NotReady:                    {"Service is starting: the policy index or the signing keys are not loaded yet", http.StatusServiceUnavailable, 0},
	Overloaded:                  {"Too many requests in flight", http.StatusServiceUnavailable, 0},
	DuplicateRequestParam:       {"Field '%s' appears more than once in request body", http.StatusBadRequest, 0},
	AccessTokenInvalid:          {"Access token is missing, malformed, expired, or revoked", http.StatusUnauthorized, 0},
	NotAcceptable:               {"Issue encoding secret into JSON format, try including 'Accept-Encoding: base64' header in request.", http.StatusNotAcceptable, 0},
	ViewTooStale:                {"This replica's view is older than --max-staleness", http.StatusServiceUnavailable, 0},
	MissingQueryParam:           {"Query parameter '%s' is required", http.StatusBadRequest, 0},
	BodyTimeout:                 {"Request body was not received in time", http.StatusRequestTimeout, 0},
	Internal:                    {"Internal error", http.StatusInternalServerError, 0},
	SecretsUnavailable:          {"The Secrets of namespace '%s' cannot be read now", http.StatusServiceUnavailable, 0},
}

// Codes lists every code, for tests and documentation.
func Codes() []Code {
	out := make([]Code, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	return out
}

// Message is code's message, placeholders unfilled.
func Message(code Code) string { return table[code].message }

// HTTPStatus is the status a client sees for code on route. An unknown
// code is a 401: fail closed.
func HTTPStatus(code Code, route Route) int {
	e, ok := table[code]
	switch {
	case !ok:
		return http.StatusUnauthorized
	case route == Status && e.onStatus != 0:
		return e.onStatus
	}
	return e.status
}

// Error is a failure with its code, the audit message and a reason that is
// for the audit log only.
type Error struct {
	Code    Code
	Message string // the code's message, placeholders filled
	Reason  string // detail for the audit log; never sent to the client
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return string(e.Code) + " " + e.Message
	}
	return string(e.Code) + " " + e.Message + ": " + e.Reason
}

// Detail is the message and the reason, without the code: for an audit
// line that carries the code in a field of its own.
func (e *Error) Detail() string {
	if e.Reason == "" {
		return e.Message
	}
	return e.Message + ": " + e.Reason
}

// New returns an Error for code with its message filled from args.
func New(code Code, reason string, args ...any) *Error {
	e, ok := table[code]
	if !ok {
		panic("failure: unknown code " + string(code))
	}
	msg := e.message
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return &Error{Code: code, Message: msg, Reason: reason}
}

// As returns err as an *Error, or a generic InvalidCredentials failure
// carrying err's text when err is of another kind (fail closed).
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return New(InvalidCredentials, err.Error())
}
