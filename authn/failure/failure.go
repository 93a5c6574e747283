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
// fail: the audit code (Conjur's where Conjur has one, AZAUTH codes for
// checks Conjur does not make), its message, and the reason that goes to the
// audit log only. The HTTP status and the body a client sees are decided by
// the server from the code, never from the reason.
package failure

import (
	"errors"
	"fmt"
)

// Code is an audit code such as CONJ00049E.
type Code string

// Conjur's codes (app/domain/errors.rb), with their messages.
const (
	InvalidCredentials          Code = "CONJ00002E"
	RoleNotAuthorizedOnResource Code = "CONJ00006E"
	RoleNotFound                Code = "CONJ00007E"
	WebserviceNotFound          Code = "CONJ00005E"
	MissingRequestParam         Code = "CONJ00009E"
	ProviderDiscoveryTimeout    Code = "CONJ00010E"
	ProviderDiscoveryFailed     Code = "CONJ00011E"
	TokenExpired                Code = "CONJ00016E"
	TokenDecodeFailed           Code = "CONJ00035E"
	InvalidResourceRestrictions Code = "CONJ00049E"
	TokenClaimNotFoundOrEmpty   Code = "CONJ00051E"
	MissingFieldsInXmsMirid     Code = "CONJ00053E"
	InvalidProviderFieldsXmsMir Code = "CONJ00054E"
	RequestBodyMissingJWTToken  Code = "CONJ00077E"
	VariableNotFound            Code = "CONJ00076E"
)

// Codes for checks Conjur does not make.
const (
	AudienceNotAccepted   Code = "AZAUTH001E"
	TenantMismatch        Code = "AZAUTH002E"
	IssuedInFuture        Code = "AZAUTH003E"
	OriginNotAllowed      Code = "AZAUTH004E"
	BodyTooLarge          Code = "AZAUTH005E"
	AuthenticatorDisabled Code = "AZAUTH006E"
	LifetimeTooShort      Code = "AZAUTH007E"
	AccountNotServed      Code = "AZAUTH008E"
	NotReady              Code = "AZAUTH009E"
	Overloaded            Code = "AZAUTH010E"
	DuplicateRequestParam Code = "AZAUTH011E"
	AccessTokenInvalid    Code = "AZAUTH012E"
	NotAcceptable         Code = "AZAUTH013E"
	ViewTooStale          Code = "AZAUTH014E"
	MissingQueryParam     Code = "AZAUTH015E"
)

// Messages are the audit messages of each code. Placeholders are filled by
// New; none is ever left unfilled (Conjur's CONJ00054E kept a literal {1}).
var Messages = map[Code]string{ //nolint:gosec // G101: audit messages that mention credentials, not credentials
	InvalidCredentials:          "Invalid credentials",
	RoleNotAuthorizedOnResource: "'%s' does not have '%s' privilege on %s",
	RoleNotFound:                "'%s' not found",
	WebserviceNotFound:          "Webservice '%s' not found",
	MissingRequestParam:         "Field '%s' is missing or empty in request body",
	ProviderDiscoveryTimeout:    "Failed to discover Identity Provider '%s' with timeout error",
	ProviderDiscoveryFailed:     "Failed to discover Identity Provider '%s'",
	TokenExpired:                "Token expired",
	TokenDecodeFailed:           "Failed to decode token",
	InvalidResourceRestrictions: "Resource restriction '%s' does not match with the corresponding value in the request",
	TokenClaimNotFoundOrEmpty:   "Claim '%s' not found or empty in token",
	MissingFieldsInXmsMirid:     "Required fields are missing in xms_mirid %s",
	InvalidProviderFieldsXmsMir: "Provider fields are in invalid format in xms_mirid %s. xms_mirid must contain the resource provider namespace, the resource type, and the resource name",
	RequestBodyMissingJWTToken:  "The request body does not contain JWT token",
	VariableNotFound:            "Variable %s is empty or not found.",
	AudienceNotAccepted:         "Token audience is not accepted by this authenticator",
	TenantMismatch:              "Token tenant does not match",
	IssuedInFuture:              "Token issued in the future",
	OriginNotAllowed:            "Client address is not allowed for this host",
	BodyTooLarge:                "Request body is too large",
	AuthenticatorDisabled:       "Authenticator '%s' is disabled",
	LifetimeTooShort:            "Token expires too soon to issue an access token",
	AccountNotServed:            "Account '%s' is not served here",
	NotReady:                    "Service is starting: the policy index or the signing keys are not loaded yet",
	Overloaded:                  "Too many requests in flight",
	DuplicateRequestParam:       "Field '%s' appears more than once in request body",
	AccessTokenInvalid:          "Access token is missing, malformed, expired, or revoked",
	NotAcceptable:               "Issue encoding secret into JSON format, try including 'Accept-Encoding: base64' header in request.",
	ViewTooStale:                "This replica has not reached the API server for longer than --max-staleness",
	MissingQueryParam:           "Query parameter '%s' is required",
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
	msg, ok := Messages[code]
	if !ok {
		panic("failure: unknown code " + string(code))
	}
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
