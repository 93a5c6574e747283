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

// Package secrets holds the Kubernetes Secrets that their owners expose to
// AzureHosts, compiled for lookup on every secret request.
//
// The owner of a Secret decides who reads it: a Secret is readable only if
// it carries the label authn.dap.io/expose=true and its annotation
// authn.dap.io/allowed-hosts lists the reading AzureHost by name (same
// namespace) or is "*" (every host of the namespace). An AzureHost never
// grants access by itself. Entries are immutable once stored; values are
// never logged.
//
// A domain package: it imports nothing of ours, and never a client: the
// feeder (internal/feed) fills it.
package secrets

import (
	"maps"
	"slices"
	"strings"
	"sync"
)

const (
	// ExposeLabel marks a Secret as served; only such Secrets are cached.
	ExposeLabel = "authn.dap.io/expose"
	// AllowedHostsAnnotation lists the AzureHosts (names in the Secret's
	// namespace, comma-separated) that may read it, or "*" for all of them.
	AllowedHostsAnnotation = "authn.dap.io/allowed-hosts"
)

// Secret is an exposed Secret.
type Secret struct {
	Namespace string
	Name      string
	allHosts  bool
	hosts     map[string]bool
	data      map[string][]byte
}

// Allows reports whether the AzureHost named host, in the Secret's
// namespace, may read it.
func (s *Secret) Allows(host string) bool { return s.allHosts || s.hosts[host] }

// Value returns a key's value; callers must not modify it.
func (s *Secret) Value(key string) ([]byte, bool) {
	v, ok := s.data[key]
	return v, ok
}

// Compile builds a Secret from its parts; nil when the Secret is not
// exposed (label not "true"), which means: not served at all.
func Compile(namespace, name string, labels, annotations map[string]string, data map[string][]byte) *Secret {
	if labels[ExposeLabel] != "true" {
		return nil
	}
	s := &Secret{Namespace: namespace, Name: name, hosts: map[string]bool{}, data: maps.Clone(data)}
	for _, h := range strings.Split(annotations[AllowedHostsAnnotation], ",") {
		switch h = strings.TrimSpace(h); h {
		case "":
		case "*":
			s.allHosts = true
		default:
			s.hosts[h] = true
		}
	}
	return s
}

// AllNamespaces names the single source that covers every namespace when
// no namespaces are listed.
const AllNamespaces = ""

// Store holds the exposed Secrets of the namespaces served, and whether
// each source (a listed namespace, or AllNamespaces) can be served now.
//
// Health is per source so that one namespace whose Secrets cannot be
// listed (a missing Role) answers 503 for its own Secrets only; the others
// are served. A source is servable once its first list has loaded and while
// its list/watch is not failing: entries are kept while it fails, but not
// served, because an owner's revocation (label removed, allowed-hosts
// narrowed, Secret deleted) cannot be seen then.
type Store struct {
	mu      sync.RWMutex
	m       map[[2]string]*Secret
	sources map[string]*source
	all     bool // one source for every namespace
	subs    map[int]func(namespace string)
	nextSub int
}

type source struct {
	synced  bool
	failing string // why the source's list/watch fails; "" while it works
}

// NewStore returns an empty store for the exposed Secrets of namespaces,
// or of every namespace when none are given; no source has synced.
func NewStore(namespaces ...string) *Store {
	st := &Store{m: map[[2]string]*Secret{}, sources: map[string]*source{}, subs: map[int]func(string){}}
	if len(namespaces) == 0 {
		st.all = true
		st.sources[AllNamespaces] = &source{}
	}
	for _, ns := range namespaces {
		st.sources[ns] = &source{}
	}
	return st
}

// Sources are the namespaces listed, sorted, or [AllNamespaces]; a feed
// runs one list/watch per source.
func (st *Store) Sources() []string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return slices.Sorted(maps.Keys(st.sources))
}

// Put stores s, or forgets namespace/name when s is nil.
func (st *Store) Put(namespace, name string, s *Secret) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if s == nil {
		delete(st.m, [2]string{namespace, name})
		return
	}
	st.m[[2]string{namespace, name}] = s
}

// Get returns the exposed Secret namespace/name, whether or not its
// namespace is servable now: callers check Unservable first.
func (st *Store) Get(namespace, name string) (*Secret, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	s, ok := st.m[[2]string{namespace, name}]
	return s, ok
}

// Len is the number of exposed Secrets held.
func (st *Store) Len() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.m)
}

// LenIn is the number of exposed Secrets held for namespace.
func (st *Store) LenIn(namespace string) int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	n := 0
	for k := range st.m {
		if k[0] == namespace {
			n++
		}
	}
	return n
}

// MarkSynced marks every source synced: for a store that is filled by hand
// (or left empty) rather than by a feed.
func (st *Store) MarkSynced() {
	st.update(func() []string {
		var changed []string
		for key, src := range st.sources {
			if !src.synced {
				src.synced = true
				changed = append(changed, key)
			}
		}
		return changed
	})
}

// SetSynced records that source's first list has been loaded.
func (st *Store) SetSynced(source string) {
	st.update(func() []string {
		src, ok := st.sources[source]
		if !ok || src.synced {
			return nil
		}
		src.synced = true
		return []string{source}
	})
}

// SetFailing records why source's list/watch fails now (a short reason,
// such as "forbidden"), or that it works again when reason is "".
func (st *Store) SetFailing(source, reason string) {
	st.update(func() []string {
		src, ok := st.sources[source]
		if !ok || src.failing == reason {
			return nil
		}
		src.failing = reason
		return []string{source}
	})
}

// update applies change under the lock and tells the subscribers which
// sources changed, outside it.
func (st *Store) update(change func() []string) {
	st.mu.Lock()
	changed := change()
	subs := slices.Collect(maps.Values(st.subs))
	st.mu.Unlock()
	for _, key := range changed {
		for _, fn := range subs {
			fn(key)
		}
	}
}

// lookup returns the source that covers namespace; ok is false when the
// store does not serve that namespace at all.
func (st *Store) lookup(namespace string) (src *source, ok bool) {
	if st.all {
		return st.sources[AllNamespaces], true
	}
	src, ok = st.sources[namespace]
	return src, ok
}

// Unservable says why the exposed Secrets of namespace cannot be served
// now, or "" when they can. A namespace the store does not serve at all is
// not unservable: its lookups find nothing (404), as for any Secret that is
// not exposed, and the AzureHost's status says the namespace is not served.
func (st *Store) Unservable(namespace string) string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	src, ok := st.lookup(namespace)
	if !ok {
		return ""
	}
	return src.unservable()
}

func (src *source) unservable() string {
	switch {
	case src.failing != "":
		return "cannot list Secrets: " + src.failing
	case !src.synced:
		return "not synced yet"
	}
	return ""
}

// Servable reports, for status, whether the exposed Secrets of namespace
// can be served now and, when not, why. known is false while the first
// list is still loading without error, so that status is not flipped to
// False and back on every start.
func (st *Store) Servable(namespace string) (ok, known bool, reason string) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	src, served := st.lookup(namespace)
	switch {
	case !served:
		return false, true, "namespace not served"
	case src.failing == "" && !src.synced:
		return false, false, src.unservable()
	}
	reason = src.unservable()
	return reason == "", true, reason
}

// OnChange calls fn with a source (a namespace, or AllNamespaces for all
// of them) whenever its Servable answer may have changed, until cancel is
// called. fn runs on the feed's goroutine and must not block.
func (st *Store) OnChange(fn func(namespace string)) (cancel func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	id := st.nextSub
	st.nextSub++
	st.subs[id] = fn
	return func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		delete(st.subs, id)
	}
}
