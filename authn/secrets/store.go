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
package secrets

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
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

// Store holds the exposed Secrets of the namespaces served.
type Store struct {
	mu     sync.RWMutex
	m      map[[2]string]*Secret
	synced atomic.Bool
}

// NewStore returns an empty store that has not synced.
func NewStore() *Store { return &Store{m: map[[2]string]*Secret{}} }

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

// Get returns the exposed Secret namespace/name.
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

// MarkSynced records that the initial list has been loaded.
func (st *Store) MarkSynced() { st.synced.Store(true) }

// Synced reports whether the initial list has been loaded.
func (st *Store) Synced() bool { return st.synced.Load() }
