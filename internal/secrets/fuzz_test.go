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

package secrets

import (
	"strings"
	"testing"
)

// FuzzAllowedHosts: a Secret lists exactly the hosts its annotation names
// (comma-separated, spaces trimmed), all of them for "*", and nothing
// when it is not exposed.
func FuzzAllowedHosts(f *testing.F) {
	for _, s := range []string{"a, b", "*", " *,x", ",,", "a,,b ", "A,a", "x*", "\ta\n"} {
		f.Add(s, "a", true)
	}
	f.Add("a", "a", false)
	f.Fuzz(func(t *testing.T, annotation, host string, exposed bool) {
		label := "false"
		if exposed {
			label = "true"
		}
		s := Compile("ns", "db", map[string]string{ExposeLabel: label}, map[string]string{AllowedHostsAnnotation: annotation}, nil)
		if !exposed {
			if s != nil {
				t.Fatal("a Secret not exposed is served")
			}
			return
		}
		want := false
		for _, entry := range strings.Split(annotation, ",") {
			entry = strings.TrimSpace(entry)
			want = want || entry == "*" || entry != "" && entry == host
		}
		if got := s.Allows(host); got != want {
			t.Fatalf("annotation %q, host %q: allowed %v, the rule says %v", annotation, host, got, want)
		}
	})
}
