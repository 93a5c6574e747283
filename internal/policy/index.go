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

// Package policy is the in-memory policy index: the compiled form of every
// valid AzureHost, AzureAuthenticator and Namespace, consulted on every
// authentication request.
//
// Controllers write it from the informer cache on every replica; the HTTPS
// authenticator only reads it. Lookups are O(1) and safe for any number of
// concurrent readers; a writer holds the lock only to swap one map entry, and
// compiled entries are immutable once stored, so readers never wait for
// compilation.
//
// The package knows nothing of the Kubernetes API types or clients: callers
// hand it compiled values (see Host and Authenticator).
//
// A domain package: it imports only the other domain packages (armid,
// failure), never the Kubernetes API types or a client.
package policy

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/azure-authenticator/azure-authenticator/internal/armid"
)

// HostID names an AzureHost: <namespace>/<name>. Its Conjur login is
// host/<namespace>/<name>.
type HostID struct {
	Namespace string
	Name      string
}

func (id HostID) String() string { return id.Namespace + "/" + id.Name }

// Host is a compiled AzureHost. Comparison fields are stored folded with
// armid.FoldASCII so matching is a plain string comparison. A Host is
// immutable once handed to the Index.
type Host struct {
	ID         HostID
	UID        string
	Generation int64
	Labels     HostLabels

	SubscriptionID string // folded GUID
	ResourceGroup  string // folded
	// UserAssignedIdentity is the folded identity name; empty when not narrowed.
	UserAssignedIdentity string
	// SystemAssignedIdentity is the folded principal id; empty when not narrowed.
	SystemAssignedIdentity string
	TenantID               string    // folded GUID; empty when not pinned
	ResourceID             *armid.ID // nil when not pinned
	AllowedCIDRs           []netip.Prefix
}

// Authenticator is a compiled AzureAuthenticator. Immutable once handed to
// the Index.
type Authenticator struct {
	ServiceID  string
	UID        string
	Generation int64
	Enabled    bool
	Providers  []Provider
	Audiences  []string
	TokenTTL   time.Duration
	ClockSkew  time.Duration

	// NamespaceSelector selects the namespaces whose hosts may use the
	// authenticator; nil admits no host at all.
	NamespaceSelector labels.Selector
	// HostSelector narrows the choice by host labels; never nil (Everything
	// when the spec sets none).
	HostSelector labels.Selector
}

// Provider is a trusted token issuer.
type Provider struct {
	Issuer   string // exactly as in the token's iss claim
	TenantID string // folded GUID from the issuer's path
	CABundle []byte // extra PEM roots; nil for none
}

// ProviderHealth is what a replica knows of a provider's signing keys,
// from its cache: the authenticator's status and status route report it.
type ProviderHealth struct {
	Keys        int
	LastRefresh time.Time // last successful fetch; zero if none
	Err         string    // generic reason of the last failed fetch; empty after a success
}

// Namespace is what the index knows of a namespace: whether the cache has
// seen it, and its labels.
type Namespace struct {
	Known  bool
	Labels labels.Set
}

// Admits reports whether the authenticator lets the host authenticate: it
// is enabled, its namespace selector matches the host's namespace, and its
// host selector matches the host's labels. A namespace that is not known
// never matches, whatever the selector (fail closed, also for NotIn and
// DoesNotExist).
func (a *Authenticator) Admits(ns Namespace, h *Host) bool {
	return a != nil && a.Enabled && a.Selects(ns, h)
}

// Selects reports whether a's selectors choose h in namespace ns, whether
// or not a is enabled.
func (a *Authenticator) Selects(ns Namespace, h *Host) bool {
	if a == nil || h == nil || a.NamespaceSelector == nil || !ns.Known {
		return false
	}
	return a.NamespaceSelector.Matches(ns.Labels) && a.HostSelector.Matches(h.Labels)
}

// Index holds the compiled policy. The zero value is not usable; call NewIndex.
type Index struct {
	mu             sync.RWMutex
	hosts          map[HostID]*Host
	authenticators map[string]*Authenticator
	namespaces     map[string]labels.Set

	synced atomic.Bool
}

// NewIndex returns an empty index that has not synced.
func NewIndex() *Index {
	return &Index{
		hosts:          map[HostID]*Host{},
		authenticators: map[string]*Authenticator{},
		namespaces:     map[string]labels.Set{},
	}
}

// MarkSynced records that the index holds every object of the initial list.
func (ix *Index) MarkSynced() { ix.synced.Store(true) }

// Synced reports whether the initial sync has completed. Before that the
// index may be missing objects, so no decision may be made from it.
func (ix *Index) Synced() bool { return ix.synced.Load() }

// PutHost stores or replaces a host. Its namespace name is interned, so
// that every key of a namespace shares one copy (the index owns h).
func (ix *Index) PutHost(h *Host) {
	h.ID.Namespace = intern(h.ID.Namespace)
	put(&ix.mu, ix.hosts, h.ID, h)
}

// DeleteHost removes a host; removing an absent host is a no-op.
func (ix *Index) DeleteHost(id HostID) { remove(&ix.mu, ix.hosts, id) }

// PutAuthenticator stores or replaces an authenticator.
func (ix *Index) PutAuthenticator(a *Authenticator) { put(&ix.mu, ix.authenticators, a.ServiceID, a) }

// DeleteAuthenticator removes an authenticator.
func (ix *Index) DeleteAuthenticator(serviceID string) { remove(&ix.mu, ix.authenticators, serviceID) }

// PutNamespace stores a namespace's labels; the map must not be modified
// afterwards.
func (ix *Index) PutNamespace(name string, l labels.Set) {
	if l == nil {
		l = labels.Set{}
	}
	put(&ix.mu, ix.namespaces, name, l)
}

// DeleteNamespace forgets a namespace; its hosts are then admitted nowhere.
func (ix *Index) DeleteNamespace(name string) { remove(&ix.mu, ix.namespaces, name) }

// put and remove hold the write lock for one map assignment: entries are
// built before, so writers never make readers wait on more.
func put[K comparable, V any](mu *sync.RWMutex, m map[K]V, k K, v V) {
	mu.Lock()
	m[k] = v
	mu.Unlock()
}

func remove[K comparable, V any](mu *sync.RWMutex, m map[K]V, k K) {
	mu.Lock()
	delete(m, k)
	mu.Unlock()
}

// Host returns the host with the given id.
func (ix *Index) Host(id HostID) (*Host, bool) {
	ix.mu.RLock()
	h, ok := ix.hosts[id]
	ix.mu.RUnlock()
	return h, ok
}

// Authenticator returns the authenticator with the given service id.
func (ix *Index) Authenticator(serviceID string) (*Authenticator, bool) {
	ix.mu.RLock()
	a, ok := ix.authenticators[serviceID]
	ix.mu.RUnlock()
	return a, ok
}

// Authenticators returns every indexed authenticator, in no order.
func (ix *Index) Authenticators() []*Authenticator {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]*Authenticator, 0, len(ix.authenticators))
	for _, a := range ix.authenticators {
		out = append(out, a)
	}
	return out
}

// Namespace returns what the index knows of a namespace.
func (ix *Index) Namespace(name string) Namespace {
	ix.mu.RLock()
	l, ok := ix.namespaces[name]
	ix.mu.RUnlock()
	return Namespace{Known: ok, Labels: l}
}

// Decision is one consistent view of what a request needs: the
// authenticator, the host, and whether the one admits the other, all read
// under one lock.
type Decision struct {
	Authenticator *Authenticator // nil when unknown
	Host          *Host          // nil when unknown
	Admitted      bool
}

// Decide looks up the authenticator and the host and evaluates admission in
// one consistent view.
func (ix *Index) Decide(serviceID string, id HostID) Decision {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	a := ix.authenticators[serviceID]
	h := ix.hosts[id]
	l, known := ix.namespaces[id.Namespace]
	return Decision{
		Authenticator: a,
		Host:          h,
		Admitted:      a.Admits(Namespace{Known: known, Labels: l}, h),
	}
}

// Stats counts the index's entries.
type Stats struct {
	Hosts, Authenticators, Namespaces int
}

// Stats returns the current entry counts.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return Stats{Hosts: len(ix.hosts), Authenticators: len(ix.authenticators), Namespaces: len(ix.namespaces)}
}
