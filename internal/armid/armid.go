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

// Package armid parses Azure Resource Manager resource IDs, the strings that
// name a workload in a managed-identity token (xms_mirid, xms_az_rid) and in
// an AzureHost's resourceID pin, and compares them the way Azure does.
//
// Azure treats keywords, names and GUIDs as case-insensitive but returns them
// in inconsistent casing, so comparisons fold ASCII letters. Non-ASCII
// characters compare exactly: Unicode folding rules differ between Azure and
// Go, and an exact comparison fails closed.
//
// The package knows nothing of tokens or Kubernetes.
//
// A domain package: it imports nothing of ours.
package armid

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLength bounds the text Parse accepts; ARM IDs are far shorter.
const MaxLength = 1024

// ID is a parsed resource ID:
// /subscriptions/{SubscriptionID}/resourceGroups/{ResourceGroup}/providers/{Namespace}/{Types[0]}/{Names[0]}[/{Types[i]}/{Names[i]}...]
// Nested resources, such as an App Service slot (sites/{app}/slots/{slot}),
// have more than one type/name pair.
type ID struct {
	SubscriptionID string
	ResourceGroup  string
	Namespace      string
	Types          []string
	Names          []string
}

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("malformed ARM resource ID")

// ErrProviderPart is also wrapped when the keywords are in place but what
// follows providers/ is not {namespace}/{type}/{name}[/{type}/{name}...].
var ErrProviderPart = errors.New("after providers/ want {namespace}/{type}/{name}[/{type}/{name}...]")

// Parse parses a full resource ID. Keywords (subscriptions, resourceGroups,
// providers) match case-insensitively and at fixed positions only, so a
// resource group named "myproviders" or "providers" is fine. The leading slash
// is optional; empty segments, a trailing slash and control characters are
// refused.
func Parse(s string) (ID, error) {
	if s == "" {
		return ID{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(s) > MaxLength {
		return ID{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return ID{}, fmt.Errorf("%w: contains a control character", ErrMalformed)
		}
	}
	var held [16]string // a managed identity's id has 8 or 10 segments
	segs := held[:0]
	for seg := range strings.SplitSeq(strings.TrimPrefix(s, "/"), "/") {
		segs = append(segs, seg)
	}
	for _, seg := range segs {
		if seg == "" {
			return ID{}, fmt.Errorf("%w: empty path segment", ErrMalformed)
		}
	}
	if len(segs) < 6 {
		return ID{}, fmt.Errorf("%w: want /subscriptions/{id}/resourceGroups/{name}/providers/{namespace}/{type}/{name}[/{type}/{name}...]", ErrMalformed)
	}
	for i, kw := range [...]string{0: "subscriptions", 2: "resourceGroups", 4: "providers"} {
		if kw != "" && !EqualFold(segs[i], kw) {
			return ID{}, fmt.Errorf("%w: segment %d is %q, want %q", ErrMalformed, i+1, segs[i], kw)
		}
	}
	// After providers: {namespace}/{type}/{name}, plus a type/name pair per
	// nested resource.
	if len(segs) < 8 || len(segs)%2 != 0 {
		return ID{}, fmt.Errorf("%w: %w", ErrMalformed, ErrProviderPart)
	}
	id := ID{SubscriptionID: segs[1], ResourceGroup: segs[3], Namespace: segs[5]}
	pairs := (len(segs) - 6) / 2
	both := make([]string, 2*pairs) // one allocation for both lists
	id.Types, id.Names = both[:0:pairs], both[pairs:pairs]
	for i := 6; i < len(segs); i += 2 {
		id.Types = append(id.Types, segs[i])
		id.Names = append(id.Names, segs[i+1])
	}
	return id, nil
}

// String returns the ID in ARM's canonical spelling of the keywords.
func (id ID) String() string {
	var b strings.Builder
	b.WriteString("/subscriptions/")
	b.WriteString(id.SubscriptionID)
	b.WriteString("/resourceGroups/")
	b.WriteString(id.ResourceGroup)
	b.WriteString("/providers/")
	b.WriteString(id.Namespace)
	for i := range id.Types {
		b.WriteByte('/')
		b.WriteString(id.Types[i])
		b.WriteByte('/')
		b.WriteString(id.Names[i])
	}
	return b.String()
}

// IsUserAssignedIdentity reports whether the ID names a user-assigned managed
// identity: Microsoft.ManagedIdentity/userAssignedIdentities/{name}.
func (id ID) IsUserAssignedIdentity() bool {
	return len(id.Types) == 1 &&
		EqualFold(id.Namespace, "Microsoft.ManagedIdentity") &&
		EqualFold(id.Types[0], "userAssignedIdentities")
}

// Name is the name of the innermost resource.
func (id ID) Name() string {
	if len(id.Names) == 0 {
		return ""
	}
	return id.Names[len(id.Names)-1]
}

// Equal compares two IDs segment by segment with EqualFold.
func (id ID) Equal(o ID) bool {
	if len(id.Types) != len(o.Types) ||
		!EqualFold(id.SubscriptionID, o.SubscriptionID) ||
		!EqualFold(id.ResourceGroup, o.ResourceGroup) ||
		!EqualFold(id.Namespace, o.Namespace) {
		return false
	}
	for i := range id.Types {
		if !EqualFold(id.Types[i], o.Types[i]) || !EqualFold(id.Names[i], o.Names[i]) {
			return false
		}
	}
	return true
}

// EqualFold reports whether a and b are equal when ASCII letters are folded
// to one case; every other byte must match exactly.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// FoldASCII lowers the ASCII letters of s and leaves every other byte alone,
// giving a key under which EqualFold strings are identical.
func FoldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
