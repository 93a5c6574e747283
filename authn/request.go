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
	"net/http"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// operation names a route family; it is the audit line's operation.
type operation string

const (
	opAuthenticate operation = "authenticate"
	opStatus       operation = "validate-status"
	opFetch        operation = "fetch"
	opIdentity     operation = "identity-check"
	opJWKS         operation = "jwks"
	opOther        operation = "other" // no route: 404 or 405
)

// failureRoute is the column of failure's status table a route family
// answers from.
func (op operation) failureRoute() failure.Route {
	switch op {
	case opStatus:
		return failure.Status
	case opFetch, opIdentity:
		return failure.Secrets
	}
	return failure.Authenticate
}

// request is the path, parsed once, before anything else looks at it:
// every later step reads these fields, never the URL again.
type request struct {
	op      operation
	method  string // the one method the route answers
	service string
	account string
	// accountServed: the path names no account (/whoami, /secrets); the
	// request is for the account served. Never set from path text.
	accountServed bool
	// login is the authenticate route's login segment unescaped exactly
	// once (host%2Fns%2Fname); loginOK is false when it did not unescape.
	login   string
	loginOK bool
	// host is login parsed as host/<namespace>/<name>; hostOK says it was.
	host   policy.HostID
	hostOK bool
	// single: the one-secret route; variable is its id as it came (the
	// SDK escapes it as one segment; others send its slashes as they are).
	single   bool
	variable string
}

// parseRequest reads the escaped path, so that an escaped slash in the
// login stays inside its segment.
func parseRequest(r *http.Request) request {
	path := r.URL.EscapedPath()
	var held [6]string // every route's segments fit, without an allocation
	segs := held[:0]
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		segs = append(segs, seg)
	}
	switch {
	case path == "/whoami":
		return request{op: opIdentity, method: http.MethodGet, accountServed: true}
	case path == "/secrets" || path == "/secrets/":
		return request{op: opFetch, method: http.MethodGet, accountServed: true}
	case len(segs) >= 4 && segs[0] == "secrets" && segs[2] == "variable":
		return request{op: opFetch, method: http.MethodGet, account: unescape(segs[1]), single: true, variable: strings.Join(segs[3:], "/")}
	case path == "/.well-known/jwks.json":
		return request{op: opJWKS, method: http.MethodGet}
	case len(segs) >= 4 && segs[0] == "authn-azure" && segs[len(segs)-1] == "authenticate":
		req := request{op: opAuthenticate, method: http.MethodPost, service: unescape(segs[1]), account: unescape(segs[2])}
		// Exactly one login segment; none or more is an invalid login,
		// decided like an unknown host so that it tells nothing.
		seg := invalidSegment
		if len(segs) == 5 {
			seg = segs[3]
		}
		login, err := url.PathUnescape(seg)
		req.login, req.loginOK = login, err == nil
		if req.loginOK {
			req.host, req.hostOK = parseLogin(login)
		}
		return req
	case len(segs) == 4 && segs[0] == "authn-azure" && segs[3] == "status":
		return request{op: opStatus, method: http.MethodGet, service: unescape(segs[1]), account: unescape(segs[2])}
	}
	return request{op: opOther}
}

// parseLogin accepts exactly host/<namespace>/<name>, with a valid
// namespace and AzureHost name.
func parseLogin(login string) (policy.HostID, bool) {
	if !strings.HasPrefix(login, v1alpha1.HostIDPrefix) {
		return policy.HostID{}, false
	}
	namespace, name, _ := strings.Cut(strings.TrimPrefix(login, v1alpha1.HostIDPrefix), "/")
	if !isDNS1123Label(namespace) || !isDNS1123Subdomain(name) {
		return policy.HostID{}, false
	}
	return policy.HostID{Namespace: namespace, Name: name}, true
}

// isDNS1123Label is validation.IsDNS1123Label without its regular
// expression, which cost a microsecond of every authentication
// (FuzzDNS1123 holds the two to the same answers).
func isDNS1123Label(s string) bool {
	return len(s) <= validation.DNS1123LabelMaxLength && isLabel(s)
}

// isDNS1123Subdomain is validation.IsDNS1123Subdomain likewise: labels
// joined by dots, at most 253 bytes in all (a label may be longer than 63
// here, as there).
func isDNS1123Subdomain(s string) bool {
	if len(s) > validation.DNS1123SubdomainMaxLength {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !isLabel(label) {
			return false
		}
	}
	return true
}

// isLabel: lower-case letters, digits and inner hyphens, not empty.
func isLabel(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// unescape decodes one path segment once; a segment that does not decode,
// or decodes to a slash, names nothing (it can match no service or account).
func unescape(seg string) string {
	v, err := url.PathUnescape(seg)
	if err != nil || strings.Contains(v, "/") {
		return invalidSegment
	}
	return v
}

// invalidSegment stands for a path segment that names nothing: it is not a
// valid service id, account or login.
const invalidSegment = "\x00"
