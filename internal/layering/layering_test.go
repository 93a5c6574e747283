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

package layering

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const module = "github.com/azure-authenticator/azure-authenticator"

// pkg is what `go list -json` says of one package: its non-test imports.
type pkg struct {
	ImportPath string
	Imports    []string
}

// packages lists this module's packages, each with the module's packages
// it imports outside its tests, paths relative to the module ("." is main).
func packages(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	rel := func(p string) string {
		if p == module {
			return "."
		}
		return strings.TrimPrefix(p, module+"/")
	}
	got := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, imp := range p.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				ours = append(ours, rel(imp))
			}
		}
		got[rel(p.ImportPath)] = ours
	}
	return got
}

func under(p string, prefixes ...string) bool {
	return slices.ContainsFunc(prefixes, func(pre string) bool { return p == pre || strings.HasPrefix(p, pre+"/") })
}

// The import rules, one direction each:
//
//	api  <-  domain (internal/policy, armid, failure, secrets, accesstoken, compile)
//	     <-  runtime (internal/azuread, feed, health, namedsecret, servingcert, signingkeys, ...)
//	     <-  controllers (status; never the HTTP side)   authn, authn/server (HTTP; never controllers)
//	     <-  internal/app (the one assembly)
//	     <-  main
//
// Test fixtures (internal/testenv, internal/helm, internal/azuretest,
// internal/churn) are for tests, hack/ and test/ only; production code
// never imports hack/ or test/.
func TestImportsPointOneWay(t *testing.T) {
	domain := []string{"internal/policy", "internal/armid", "internal/failure", "internal/secrets", "internal/accesstoken", "internal/compile"}
	fixtures := []string{"internal/testenv", "internal/helm", "internal/azuretest", "internal/churn"}
	top := []string{"internal/app", "controllers", "authn"}
	rules := []struct {
		name   string
		from   func(string) bool
		denied func(string) bool
	}{
		{"nothing imports the manager's main package", func(string) bool { return true }, func(i string) bool { return i == "." }},
		{"api imports nothing of ours", func(p string) bool { return under(p, "api") }, func(string) bool { return true }},
		{"the domain packages import only the API and each other",
			func(p string) bool { return under(p, domain...) },
			func(i string) bool { return !under(i, "api") && !under(i, domain...) }},
		{"the runtime packages import neither the controllers, the HTTP side nor the assembly",
			func(p string) bool {
				return under(p, "internal") && !under(p, domain...) && !under(p, fixtures...) && !under(p, "internal/app", "internal/layering")
			},
			func(i string) bool { return under(i, top...) }},
		{"controllers never reach into the HTTP side or the assembly",
			func(p string) bool { return under(p, "controllers") },
			func(i string) bool { return under(i, "authn", "internal/app") }},
		{"the HTTP side never imports the controllers, the feeders or the assembly",
			func(p string) bool { return under(p, "authn") },
			func(i string) bool { return under(i, "controllers", "internal/feed", "internal/app") }},
		{"the listener knows nothing of ours", func(p string) bool { return under(p, "authn/server") }, func(string) bool { return true }},
		{"only main, hack/ and test/ import the assembly",
			func(p string) bool { return p != "." && !under(p, "hack", "test") },
			func(i string) bool { return under(i, "internal/app") }},
		{"production code imports no test fixture, hack/ or test/",
			func(p string) bool { return !under(p, "hack", "test") && !under(p, fixtures...) },
			func(i string) bool { return under(i, fixtures...) || under(i, "hack", "test") }},
	}
	pkgs := packages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, r := range rules {
		for p, imports := range pkgs {
			if !r.from(p) {
				continue
			}
			for _, i := range imports {
				if r.denied(i) {
					t.Errorf("%s: %s imports %s", r.name, p, i)
				}
			}
		}
	}
}
