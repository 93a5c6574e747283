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
	"cmp"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

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
//  1. service and account: if unknown or disabled, do the same
//     verification work against a dummy key and answer 401;
//  2. verify the token with the keys of the authenticator's provider named
//     by its iss;
//  3. one decision (policy.Index.Decide) for everything after: read once
//     verification is done, since it may have waited on a key fetch, so
//     that a host deleted or an authenticator disabled meanwhile gets
//     nothing; the host named by the login;
//  4. match the claims against it;
//  5. only then admission: 403 for a valid token that matches an existing
//     host this authenticator does not admit.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, req request) {
	ev := h.newEvent(r, req)
	fail := func(f *failure.Error) { h.respond(w, ev, f, nil) }
	if f := h.decidable(); f != nil {
		fail(f)
		return
	}

	// (0) The body: exactly one non-empty jwt field.
	jwt, f := readJWT(r)
	if f != nil {
		fail(f)
		return
	}

	// (1) Service and account: the authenticator names the keys that
	// verify the token.
	auth, known := h.cfg.Index.Authenticator(req.service)
	ev.knownService = known
	switch {
	case req.account != h.cfg.Account:
		f = failure.New(failure.AccountNotServed, "", req.account)
	case !known:
		f = failure.New(failure.WebserviceNotFound, "", "conjur/authn-azure/"+req.service)
	case !auth.Enabled:
		f = failure.New(failure.AuthenticatorDisabled, "", "authn-azure/"+req.service)
	}
	if f != nil {
		azuread.DummyVerify(r.Context(), jwt)
		fail(f)
		return
	}

	// (2) The token.
	claims, err := h.verifier.Verify(r.Context(), auth, jwt)
	if err != nil {
		fail(failure.As(err))
		return
	}

	// (3) The decision, and the host.
	d := h.cfg.Index.Decide(req.service, req.host)
	switch {
	case d.Authenticator == nil || !d.Authenticator.Enabled:
		fail(failure.New(failure.WebserviceNotFound, "authenticator removed or disabled during the request", "conjur/authn-azure/"+req.service))
		return
	case !req.hostOK:
		fail(failure.New(failure.RoleNotFound, "login is not host/<namespace>/<name>", req.login))
		return
	case d.Host == nil:
		fail(failure.New(failure.RoleNotFound, "no such AzureHost", req.login))
		return
	}

	// (4) The claims against the host.
	workload, err := policy.ParseWorkload(claims.TenantID, claims.ObjectID, claims.MIRID, claims.AzRID, ev.ip)
	if err == nil {
		err = d.Host.Match(workload)
	}
	if err != nil {
		fail(failure.As(err))
		return
	}

	// (5) Admission.
	if !d.Admitted {
		fail(failure.New(failure.RoleNotAuthorizedOnResource, "the authenticator's allowedHosts do not select this host",
			req.login, "authenticate", h.cfg.Account+":webservice:conjur/authn-azure/"+req.service))
		return
	}

	token, f := h.issue(d, claims, req.login, req.service)
	if f != nil {
		fail(f)
		return
	}
	h.respond(w, ev, nil, tokenReply(r, token))
}

// issue signs an access token that never outlives the Azure token.
func (h *Handler) issue(d policy.Decision, claims *azuread.Claims, login, service string) ([]byte, *failure.Error) {
	now := h.clock.Now()
	ring := h.cfg.Signing.Ring()
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
		Audience:   h.cfg.Account,
		Service:    service,
		UID:        d.Host.UID,
		Generation: d.Host.Generation,
	})
	if err != nil {
		return nil, failure.New(failure.InvalidCredentials, "cannot encode the access token: "+err.Error())
	}
	return token, nil
}

// tokenReply is the token JSON, or its standard base64 when the client
// lists base64 in Accept-Encoding (Conjur's encoded response).
func tokenReply(r *http.Request, token []byte) *reply {
	if acceptsBase64(r) {
		return &reply{contentType: "text/plain", encoding: "base64", body: []byte(base64.StdEncoding.EncodeToString(token))}
	}
	return &reply{contentType: "application/json", body: token}
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
	body, err := bodyOf(r)
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
	jwt, n, err := formValue(string(body), "jwt")
	switch {
	case err != nil:
		return "", failure.New(failure.MissingRequestParam, "body is not form-encoded", "jwt")
	case n > 1:
		return "", failure.New(failure.DuplicateRequestParam, "", "jwt")
	case n == 0 || strings.TrimSpace(jwt) == "":
		return "", failure.New(failure.MissingRequestParam, "", "jwt")
	}
	return strings.TrimSpace(jwt), nil
}

// formValue reads an application/x-www-form-urlencoded body as
// url.ParseQuery does (the same errors: a semicolon, a bad escape) without
// building a map: the value of name, and how many times name appears.
func formValue(body, name string) (value string, n int, err error) {
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if strings.Contains(pair, ";") {
			err = errors.New("invalid semicolon separator in query")
			continue
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, kerr := url.QueryUnescape(k)
		if kerr != nil {
			err = cmp.Or(err, kerr)
			continue
		}
		v, verr := queryUnescape(v)
		if verr != nil {
			err = cmp.Or(err, verr)
			continue
		}
		if k == name {
			if n == 0 {
				value = v
			}
			n++
		}
	}
	return value, n, err
}

// queryUnescape is url.QueryUnescape, which walks a 1.5 KB token byte by
// byte even when, as almost always, there is nothing to unescape.
func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}
