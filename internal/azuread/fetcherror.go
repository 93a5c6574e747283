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

package azuread

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"

	"github.com/azure-authenticator/azure-authenticator/internal/failure"
)

// FetchStage is the step of a key fetch that failed.
type FetchStage string

// The steps of a key fetch.
const (
	StageDiscovery FetchStage = "discovery" // the OIDC discovery document
	StageJWKS      FetchStage = "jwks"      // the key set named by its jwks_uri
)

// FetchError is why a provider's keys could not be fetched. It is a type,
// not a message convention, so that the Conjur code (CONJ00010E for a
// timeout, CONJ00011E otherwise) and the client-safe reason are decided by
// what happened, never by how some library worded it.
type FetchError struct {
	Stage   FetchStage
	Timeout bool  // the provider did not answer in time
	Err     error // the cause; may carry URLs and TLS details: logs only
}

func (e *FetchError) Error() string { return string(e.Stage) + ": " + e.Err.Error() }

func (e *FetchError) Unwrap() error { return e.Err }

// fetchError wraps err as a FetchError of stage; an err that already is
// one keeps its own stage.
func fetchError(stage FetchStage, err error) error {
	var fe *FetchError
	if errors.As(err, &fe) {
		return err
	}
	return &FetchError{Stage: stage, Timeout: isTimeout(err), Err: err}
}

func isTimeout(err error) bool {
	var nerr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout())
}

// isTLS reports a failure of the TLS layer: the provider's certificate or
// handshake, as opposed to the network or the documents.
func isTLS(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		authority x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
	)
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &authority) || errors.As(err, &invalid) || errors.As(err, &hostname)
}

// genericFetchError turns a fetch error into a reason without URLs or TLS
// details, fit for status and for audit reasons.
func genericFetchError(err error) string {
	var fe *FetchError
	switch {
	case !errors.As(err, &fe):
		return "the provider could not be reached"
	case fe.Timeout:
		return "timed out reaching the provider"
	case isTLS(fe.Err):
		return "TLS failure reaching the provider"
	case fe.Stage == StageJWKS:
		return "fetching the signing keys failed"
	default:
		return "OIDC discovery failed"
	}
}

// fetchFailure is the failure of a request whose token could not be
// verified because the fetch it depended on failed: Conjur answers
// CONJ00010E for a timeout and CONJ00011E for anything else.
func fetchFailure(err error, issuer, what string) *failure.Error {
	reason := what + ": " + genericFetchError(err)
	if err == nil {
		reason = what + ": keys not fetched yet"
	}
	var fe *FetchError
	if errors.As(err, &fe) && fe.Timeout {
		return failure.New(failure.ProviderDiscoveryTimeout, reason, issuer)
	}
	return failure.New(failure.ProviderDiscoveryFailed, reason, issuer)
}
