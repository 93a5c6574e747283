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

package policy

import (
	"slices"
	"strings"
	"unique"

	"k8s.io/apimachinery/pkg/labels"
)

// HostLabels are a host's labels in the form a lookup reads fastest: the
// pairs sorted by key in one array, keys and values interned. With a
// million hosts a decision is bound by cache misses, not instructions; a
// map per host cost a header, a group and a string per key on the way
// (and about 300 bytes per host), an array costs one line, and interned
// strings ("tier", "prod") are shared by every host and stay cached.
type HostLabels struct {
	pairs []labelPair
}

type labelPair struct{ key, value string }

var _ labels.Labels = HostLabels{}

// LabelsOf returns m as HostLabels.
func LabelsOf(m map[string]string) HostLabels {
	if len(m) == 0 {
		return HostLabels{}
	}
	pairs := make([]labelPair, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, labelPair{intern(k), intern(v)})
	}
	slices.SortFunc(pairs, func(a, b labelPair) int { return strings.Compare(a.key, b.key) })
	return HostLabels{pairs}
}

// Lookup returns the value of key and whether it is set.
func (l HostLabels) Lookup(key string) (string, bool) {
	// Hosts carry a handful of labels: a scan beats a binary search.
	for _, p := range l.pairs {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// Has reports whether key is set.
func (l HostLabels) Has(key string) bool { _, ok := l.Lookup(key); return ok }

// Get returns the value of key, or "".
func (l HostLabels) Get(key string) string { v, _ := l.Lookup(key); return v }

// Len is the number of labels.
func (l HostLabels) Len() int { return len(l.pairs) }

// intern returns the one shared copy of s; copies nobody holds any more
// are collected (package unique).
func intern(s string) string { return unique.Make(s).Value() }
