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

// Package churn checks the authenticator's decisions while its policy
// changes under it: one writer changes AzureHosts, AzureAuthenticators,
// namespace labels and exposed Secrets through the API server, clients
// authenticate and fetch secrets over HTTPS at the same time, and every
// answer is checked against the policy that may have been in force while it
// was asked (see Check for the window).
//
// The model here is written from the README, not from the product's code:
// it must be able to disagree with it. A test fixture like internal/testenv:
// only tests and hack/ import it.
package churn

import (
	"net/http"
	"strings"
)

// State is the policy after one write: every object of the world, by name.
// States are immutable once recorded: a write copies the maps it changes.
type State struct {
	Namespaces     map[string]*Namespace
	Authenticators map[string]*Authenticator // by service id
	Hosts          map[HostID]*Host
	Secrets        map[SecretID]*Secret
}

// HostID names an AzureHost; its login is host/<Namespace>/<Name>.
type HostID struct{ Namespace, Name string }

func (h HostID) String() string { return h.Namespace + "/" + h.Name }

// SecretID names a Kubernetes Secret.
type SecretID struct{ Namespace, Name string }

func (s SecretID) String() string { return s.Namespace + "/" + s.Name }

// Namespace is a namespace's labels.
type Namespace struct{ Labels map[string]string }

// Authenticator is what of an AzureAuthenticator decides: whether it is
// enabled and whom it admits. Providers and audiences never change here.
type Authenticator struct {
	Enabled bool
	// AllowedHosts nil: no allowedHosts, no host is admitted.
	AllowedHosts *AllowedHosts
}

// AllowedHosts is spec.allowedHosts with matchLabels selectors only.
type AllowedHosts struct {
	Namespace map[string]string // {} selects every namespace
	Host      map[string]string // nil: every host of the selected namespaces
}

// Host is an AzureHost: its identity in the API server (UID, generation,
// which an access token carries) and what it matches.
type Host struct {
	UID           string
	Generation    int64
	ResourceGroup string // lower case; the subscription never changes
	// Pinned: allowedCIDRs that leave the loopback clients out.
	Pinned bool
	Labels map[string]string
}

// Secret is a Kubernetes Secret as its owner wrote it.
type Secret struct {
	Exposed      bool   // the expose label is "true"
	AllowedHosts string // the allowed-hosts annotation, verbatim
	Data         map[string]string
}

// Allows reads the allowed-hosts annotation as the README says: host names
// of the Secret's namespace, comma-separated, blanks around them ignored,
// or "*" for every host.
func (s *Secret) Allows(host string) bool {
	for item := range strings.SplitSeq(s.AllowedHosts, ",") {
		if item = strings.TrimSpace(item); item == "*" || item == host {
			return true
		}
	}
	return false
}

// Route is what a request asks.
type Route int

// The two routes the clients use.
const (
	Authenticate Route = iota // POST /authn-azure/{service}/{account}/{login}/authenticate
	Fetch                     // GET /secrets/{account}/variable/{id} with an access token
)

func (r Route) String() string {
	if r == Fetch {
		return "fetch"
	}
	return "authenticate"
}

// Request is one request as the model sees it.
type Request struct {
	Route   Route
	Account string
	// Service: the authenticator of an authentication; for a fetch, the
	// service that issued the access token.
	Service string
	// Host: the login of an authentication; the access token's subject
	// for a fetch.
	Host HostID
	// ResourceGroup of the VM whose Azure token authenticates (the
	// subscription and tenant always match the world's).
	ResourceGroup string
	// Token: the access token's uid and gen (fetch).
	Token TokenRef
	// Variable asked for (fetch).
	Variable Variable
}

// TokenRef is what an access token says of its host's version.
type TokenRef struct {
	UID        string
	Generation int64
}

// Variable is <namespace>/<secret>/<key>.
type Variable struct{ Namespace, Secret, Key string }

func (v Variable) String() string { return v.Namespace + "/" + v.Secret + "/" + v.Key }

// Outcome is a decision: the status and, for a 200, what was granted (the
// host version an access token was issued for, or the secret's value).
type Outcome struct {
	Status     int
	UID        string
	Generation int64
	Value      string
}

// View is the part of a State one request's decision reads: the
// authenticator of its service, its host, the host's namespace and (for a
// fetch in the host's own namespace) the Secret asked for. nil: absent.
type View struct {
	Authenticator *Authenticator
	Host          *Host
	Namespace     *Namespace
	Secret        *Secret
}

// View returns what r's decision reads from s.
func (s *State) View(r Request) View {
	v := View{Authenticator: s.Authenticators[r.Service], Host: s.Hosts[r.Host], Namespace: s.Namespaces[r.Host.Namespace]}
	if r.Route == Fetch && r.Variable.Namespace == r.Host.Namespace {
		v.Secret = s.Secrets[SecretID{r.Variable.Namespace, r.Variable.Secret}]
	}
	return v
}

// Expect is the decision the README prescribes for r under v, for a
// server that serves account.
//
// Authenticate: the account and the service (unknown or disabled: 401),
// the host (absent: 401), the match of the token against it (resource
// group, allowedCIDRs: 401), and only then admission (403).
//
// Fetch: the access token's revocation checks (the host with the token's
// UID and generation; the issuing authenticator present, enabled and
// admitting the host; the client inside allowedCIDRs; the account: 401),
// then the Secret: in the host's namespace, present and exposed (else
// 404), listing the host (else 403, whatever the key), the key (404).
func Expect(v View, r Request, account string) Outcome {
	if r.Route == Fetch {
		return expectFetch(v, r, account)
	}
	switch {
	case r.Account != account, v.Authenticator == nil, !v.Authenticator.Enabled:
		return Outcome{Status: http.StatusUnauthorized}
	case v.Host == nil, v.Host.ResourceGroup != strings.ToLower(r.ResourceGroup), v.Host.Pinned:
		return Outcome{Status: http.StatusUnauthorized}
	case !admits(v.Authenticator, v.Namespace, v.Host):
		return Outcome{Status: http.StatusForbidden}
	}
	return Outcome{Status: http.StatusOK, UID: v.Host.UID, Generation: v.Host.Generation}
}

func expectFetch(v View, r Request, account string) Outcome {
	switch {
	case v.Host == nil, v.Host.UID != r.Token.UID, v.Host.Generation != r.Token.Generation:
		return Outcome{Status: http.StatusUnauthorized}
	case !admits(v.Authenticator, v.Namespace, v.Host), v.Host.Pinned, r.Account != account:
		return Outcome{Status: http.StatusUnauthorized}
	case r.Variable.Namespace != r.Host.Namespace, v.Secret == nil, !v.Secret.Exposed:
		return Outcome{Status: http.StatusNotFound}
	case !v.Secret.Allows(r.Host.Name):
		return Outcome{Status: http.StatusForbidden}
	}
	value, ok := v.Secret.Data[r.Variable.Key]
	if !ok {
		return Outcome{Status: http.StatusNotFound}
	}
	return Outcome{Status: http.StatusOK, Value: value}
}

// admits: enabled, with allowedHosts, the namespace known and selected,
// and the host selected when a host selector is set. A namespace the
// server has not seen (nil) matches no selector, not even {}.
func admits(a *Authenticator, ns *Namespace, h *Host) bool {
	if a == nil || !a.Enabled || a.AllowedHosts == nil || ns == nil || h == nil {
		return false
	}
	return subset(a.AllowedHosts.Namespace, ns.Labels) && (a.AllowedHosts.Host == nil || subset(a.AllowedHosts.Host, h.Labels))
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// clone copies the maps of s so that one write can change them; the
// objects themselves are shared (immutable).
func (s *State) clone() *State {
	c := &State{
		Namespaces:     make(map[string]*Namespace, len(s.Namespaces)),
		Authenticators: make(map[string]*Authenticator, len(s.Authenticators)),
		Hosts:          make(map[HostID]*Host, len(s.Hosts)),
		Secrets:        make(map[SecretID]*Secret, len(s.Secrets)),
	}
	for k, v := range s.Namespaces {
		c.Namespaces[k] = v
	}
	for k, v := range s.Authenticators {
		c.Authenticators[k] = v
	}
	for k, v := range s.Hosts {
		c.Hosts[k] = v
	}
	for k, v := range s.Secrets {
		c.Secrets[k] = v
	}
	return c
}

// EmptyState is the world before anything was written.
func EmptyState() *State { return (&State{}).clone() }
