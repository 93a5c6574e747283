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

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
)

// addFiles adds every file matching pattern as a seed.
func addFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in %s: %v", pattern, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// runQuiet runs the plugin with stdin and no cluster.
func runQuiet(stdin []byte, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, streams{In: bytes.NewReader(stdin), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

// Whatever az prints, or whatever is piped in instead: register answers
// with a host or a usage error, never anything else, and a host it prints
// is one the server compiles, recording the ARM ID it came from, whose
// subscription it names.
func FuzzRegisterAzJSON(f *testing.F) {
	addFiles(f, "testdata/az/*.json")
	f.Setenv("KUBECONFIG", filepath.Join(f.TempDir(), "absent"))
	f.Fuzz(func(t *testing.T, input []byte) {
		code, out, errOut := runQuiet(input, "register", "-f", "-", "-n", "payments", "--dry-run=client", "--identity", "system")
		switch code {
		case exitUsage:
			if out != "" {
				t.Fatalf("a refusal printed %q", out)
			}
			return
		case exitOK:
		default:
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var h authnv1alpha1.AzureHost
		if err := yaml.UnmarshalStrict([]byte(out), &h); err != nil {
			t.Fatalf("printed something that is not an AzureHost: %v\n%s", err, out)
		}
		if _, err := compile.Host(&h); err != nil {
			t.Fatalf("printed a host the server would not compile: %v\n%s", err, out)
		}
		from, err := armid.Parse(h.Annotations[AnnotationRegisteredFrom])
		if err != nil {
			t.Fatalf("the host does not record a valid ARM ID: %v\n%s", err, out)
		}
		if !strings.EqualFold(from.SubscriptionID, h.Spec.SubscriptionID) {
			t.Fatalf("registered from subscription %s, host names %s", from.SubscriptionID, h.Spec.SubscriptionID)
		}
	})
}

// Whatever a policy file holds: convert answers 0, 2 or 4, never anything
// else, and every object it prints is one the server compiles.
func FuzzConvertConjurPolicy(f *testing.F) {
	addFiles(f, "testdata/conjur/*.yml")
	f.Setenv("KUBECONFIG", filepath.Join(f.TempDir(), "absent"))
	f.Fuzz(func(t *testing.T, policy []byte) {
		code, out, errOut := runQuiet(policy, "convert", "conjur-policy", "-n", "apps", "-")
		switch code {
		case exitUsage:
			if out != "" {
				t.Fatalf("a refusal printed %q", out)
			}
			return
		case exitOK, exitIncomplete:
		default:
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for doc := range strings.SplitSeq(out, "\n---\n") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("printed something that is not YAML: %v\n%s", err, doc)
			}
			switch meta.Kind {
			case "AzureHost":
				var h authnv1alpha1.AzureHost
				if err := yaml.UnmarshalStrict([]byte(doc), &h); err != nil {
					t.Fatal(err)
				}
				if _, err := compile.Host(&h); err != nil {
					t.Fatalf("printed a host the server would not compile: %v\n%s", err, doc)
				}
			case "AzureAuthenticator":
				var a authnv1alpha1.AzureAuthenticator
				if err := yaml.UnmarshalStrict([]byte(doc), &a); err != nil {
					t.Fatal(err)
				}
				// Without --provider-uri the provider is a placeholder the
				// API server refuses on purpose: compile may refuse it too.
				if !strings.Contains(doc, "provider-uri.invalid") {
					if _, err := compile.Authenticator(&a); err != nil {
						t.Fatalf("printed an authenticator the server would not compile: %v\n%s", err, doc)
					}
				}
			default:
				t.Fatalf("printed a %q", meta.Kind)
			}
		}
	})
}
