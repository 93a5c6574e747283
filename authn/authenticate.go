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
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// authenticate implements POST /authn-azure/{service}/{account}/{login}/authenticate.
//
// Decision order, so that a caller without a valid matching token cannot
// tell unknown services, accounts or hosts from forbidden ones:
//  0. parse the body (400, 413);
//  1. resolve service and account; if unknown or disabled, do the same
//     verification work against a dummy key and answer 401;
//  2. verify the token with the keys of the authenticator's provider named
//     by its iss;
//  3. look up the host;
//  4. match the claims against it;
//  5. only then check admission: 403 for a valid token that matches an
//     existing host this authenticator does not admit.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, service, account, loginSeg string) {
	start := s.cfg.Now()
	ip := clientIP(r, s.cfg.TrustedProxies)
	ev := AuditEvent{RequestID: requestIDOf(r.Context()), Operation: "authenticate", Service: service, Account: account, ClientIP: policy.AddrText(ip)}
	login, loginErr := url.PathUnescape(loginSeg) // exactly once: host%2Fns%2Fname
	if loginErr == nil {
		ev.Host = login
	}
	knownService := false
	fail := func(e *failure.Error) {
		ev.Result, ev.Code, ev.Reason = "failure", string(e.Code), e.Detail()
		s.cfg.Auditor.Record(ev)
		label := "unknown"
		if knownService {
			label = service
		}
		authentications.WithLabelValues(label, "failure", string(e.Code)).Inc()
		authenticationDuration.WithLabelValues("failure").Observe(time.Since(start).Seconds())
		writeFailure(w, e, failure.Authenticate)
	}
	if e := s.decidable(); e != nil {
		fail(e)
		return
	}

	// (0) The body: exactly one non-empty jwt field.
	jwt, ferr := readJWT(r)
	if ferr != nil {
		fail(ferr)
		return
	}

	// (1) Service and account.
	auth, ok := s.cfg.Index.Authenticator(service)
	knownService = ok
	var early *failure.Error
	switch {
	case account != s.cfg.Account:
		early = failure.New(failure.AccountNotServed, "", account)
	case !ok:
		early = failure.New(failure.WebserviceNotFound, "", "conjur/authn-azure/"+service)
	case !auth.Enabled:
		early = failure.New(failure.AuthenticatorDisabled, "", "authn-azure/"+service)
	}
	if early != nil {
		azuread.DummyVerify(r.Context(), jwt)
		fail(early)
		return
	}

	// (2) The token.
	claims, err := s.verifier.Verify(r.Context(), auth, jwt)
	if err != nil {
		fail(failure.As(err))
		return
	}

	// (3) The host.
	id, ok := parseLogin(login, loginErr)
	if !ok {
		fail(failure.New(failure.RoleNotFound, "login is not host/<namespace>/<name>", login))
		return
	}
	d := s.cfg.Index.Decide(service, id)
	if d.Host == nil {
		fail(failure.New(failure.RoleNotFound, "no such AzureHost", login))
		return
	}
	if d.Authenticator == nil || !d.Authenticator.Enabled {
		// Changed between (1) and now: treat as unknown.
		fail(failure.New(failure.WebserviceNotFound, "authenticator removed or disabled during the request", "conjur/authn-azure/"+service))
		return
	}

	// (4) The claims against the host.
	workload, err := policy.ParseWorkload(claims.TenantID, claims.ObjectID, claims.MIRID, claims.AzRID, ip)
	if err != nil {
		fail(failure.As(err))
		return
	}
	if err := d.Host.Match(workload); err != nil {
		fail(failure.As(err))
		return
	}

	// (5) Admission.
	if !d.Admitted {
		fail(failure.New(failure.RoleNotAuthorizedOnResource, "the authenticator's allowedHosts do not select this host",
			login, "authenticate", s.cfg.Account+":webservice:conjur/authn-azure/"+service))
		return
	}

	token, ferr := s.issue(d, claims, login, service)
	if ferr != nil {
		fail(ferr)
		return
	}
	ev.Result = "success"
	s.cfg.Auditor.Record(ev)
	authentications.WithLabelValues(service, "success", "").Inc()
	authenticationDuration.WithLabelValues("success").Observe(time.Since(start).Seconds())
	writeToken(w, r, token)
}

// issue signs an access token that never outlives the Azure token.
func (s *Server) issue(d policy.Decision, claims *azuread.Claims, login, service string) ([]byte, *failure.Error) {
	now := s.cfg.Now()
	ring := s.cfg.Signing.Ring()
	var signer *accesstoken.SigningKey
	if ring != nil {
		signer = ring.Signer(now)
	}
	if signer == nil {
		return nil, failure.New(failure.NotReady, "no signing key may sign now")
	}
	exp := now.Add(d.Authenticator.TokenTTL)
	if claims.Expiry.Before(exp) {
		exp = claims.Expiry
	}
	if exp.Sub(now) < MinAccessTokenLifetime {
		return nil, failure.New(failure.LifetimeTooShort, "the Azure token expires at "+claims.Expiry.UTC().Format(time.RFC3339))
	}
	token, err := accesstoken.Sign(signer, accesstoken.Claims{
		Subject:    login,
		IssuedAt:   now.Unix(),
		Expiry:     exp.Unix(),
		Issuer:     accesstoken.Issuer,
		Audience:   s.cfg.Account,
		Service:    service,
		UID:        d.Host.UID,
		Generation: d.Host.Generation,
	})
	if err != nil {
		return nil, failure.New(failure.InvalidCredentials, "cannot encode the access token: "+err.Error())
	}
	return token, nil
}

// writeToken answers with the token JSON, or with its standard base64 when
// the client lists base64 in Accept-Encoding (Conjur's encoded response).
func writeToken(w http.ResponseWriter, r *http.Request, token []byte) {
	if acceptsBase64(r) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "base64")
		_, _ = io.WriteString(w, base64.StdEncoding.EncodeToString(token))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(token)
}

func acceptsBase64(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, item := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(item), "base64") {
				return true
			}
		}
	}
	return false
}

// readJWT reads the form body: exactly one non-empty jwt field.
func readJWT(r *http.Request) (string, *failure.Error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		var nerr net.Error
		switch {
		case errors.As(err, &tooBig):
			return "", failure.New(failure.BodyTooLarge, "body over the limit")
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout():
			return "", failure.New(failure.BodyTimeout, "body not received within "+BodyReadTimeout.String())
		}
		return "", failure.New(failure.MissingRequestParam, "cannot read the body: "+err.Error(), "jwt")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", failure.New(failure.MissingRequestParam, "body is not form-encoded", "jwt")
	}
	values := form["jwt"]
	switch {
	case len(values) > 1:
		return "", failure.New(failure.DuplicateRequestParam, "", "jwt")
	case len(values) == 0 || strings.TrimSpace(values[0]) == "":
		return "", failure.New(failure.MissingRequestParam, "", "jwt")
	}
	return strings.TrimSpace(values[0]), nil
}

// parseLogin accepts exactly host/<namespace>/<name>, with a valid
// namespace and AzureHost name.
func parseLogin(login string, unescapeErr error) (policy.HostID, bool) {
	if unescapeErr != nil || !strings.HasPrefix(login, v1alpha1.HostIDPrefix) {
		return policy.HostID{}, false
	}
	parts := strings.Split(strings.TrimPrefix(login, v1alpha1.HostIDPrefix), "/")
	if len(parts) != 2 || len(validation.IsDNS1123Label(parts[0])) > 0 || len(validation.IsDNS1123Subdomain(parts[1])) > 0 {
		return policy.HostID{}, false
	}
	return policy.HostID{Namespace: parts[0], Name: parts[1]}, true
}
