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

// Package chart tests the Helm chart in charts/azure-authenticator by
// rendering it with the real helm binary (built by hack/build-helm.sh; a
// missing binary fails the tests, nothing skips) and asserting on the
// decoded objects. No API server is needed.
//
// This file holds the helpers; other tests of the chart reuse them:
//
//	objs := render(t, "testdata/lb-internal.yaml", "replicaCount=3")
//	dep := objs.get(t, "Deployment", "azure-authenticator")
//	args := managerArgs(t, dep)
package chart

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/azure-authenticator/azure-authenticator/internal/helm"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	// The release and namespace render uses.
	defaultRelease   = "azure-authenticator"
	defaultNamespace = "azure-authenticator"
)

// helmHome isolates helm's cache, config and data directories from the
// user's (set by TestMain).
var helmHome string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chart-test-helm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helmHome = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the repository's top directory.
func repoRoot() string { return testenv.RepoRoot() }

// chartDir is the chart under test.
func chartDir() string {
	return helm.Chart()
}

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary finds helm (internal/helm: $HELM, else what
// hack/build-helm.sh has built). It fails the test (never skips) when
// there is none.
func helmBinary(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() { helmPath, helmErr = helm.Binary() })
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	if _, err := os.Stat(helmPath); err != nil {
		t.Fatalf("helm not found at %s (%v): run make helm", helmPath, err)
	}
	return helmPath
}

// runHelm runs helm with args and returns its stdout; err carries stderr.
// Rendering never needs a cluster: the kubeconfig does not exist.
func runHelm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cli := &helm.CLI{Binary: helmBinary(t), Kubeconfig: filepath.Join(helmHome, "no-kubeconfig"), Home: helmHome, Dir: repoRoot()}
	return cli.Run(context.Background(), args...)
}

// valuesArgs turns values into helm flags. Each value is
//   - a values file when it ends in .yaml or .yml (relative to this
//     package's directory, or absolute): -f;
//   - a raw flag when it starts with "--" (e.g. "--set-string=replicaCount=two");
//   - else a --set expression ("replicaCount=3").
func valuesArgs(values []string) []string {
	var args []string
	for _, v := range values {
		switch {
		case strings.HasSuffix(v, ".yaml") || strings.HasSuffix(v, ".yml"):
			if !filepath.IsAbs(v) {
				v = filepath.Join(repoRoot(), "test", "chart", v)
			}
			args = append(args, "-f", v)
		case strings.HasPrefix(v, "--"):
			args = append(args, v)
		default:
			args = append(args, "--set", v)
		}
	}
	return args
}

// helmTemplate renders the chart as release in namespace and returns the
// manifest, or the error (with helm's message).
func helmTemplate(t testing.TB, release, namespace string, values ...string) (string, error) {
	t.Helper()
	args := append([]string{"template", release, chartDir(), "--namespace", namespace}, valuesArgs(values)...)
	return runHelm(t, args...)
}

// render renders the chart as release azure-authenticator in namespace
// azure-authenticator and decodes every object; a render error fails t.
func render(t testing.TB, values ...string) objects {
	t.Helper()
	return renderAs(t, defaultRelease, defaultNamespace, values...)
}

// renderAs is render with another release name and namespace.
func renderAs(t testing.TB, release, namespace string, values ...string) objects {
	t.Helper()
	out, err := helmTemplate(t, release, namespace, values...)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, out)
}

// renderError renders values that must be refused and returns helm's error
// message; a successful render fails t.
func renderError(t testing.TB, values ...string) string {
	t.Helper()
	_, err := helmTemplate(t, defaultRelease, defaultNamespace, values...)
	if err == nil {
		t.Fatalf("helm template %v succeeded, want an error", values)
	}
	return err.Error()
}

// notes returns the rendered NOTES.txt (helm install --dry-run=client,
// which needs no cluster).
func notes(t testing.TB, values ...string) string {
	t.Helper()
	args := append([]string{"install", defaultRelease, chartDir(), "--namespace", defaultNamespace, "--dry-run=client"}, valuesArgs(values)...)
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(out, "\nNOTES:\n")
	if !ok {
		t.Fatalf("no NOTES in helm install --dry-run output:\n%s", out)
	}
	return after
}

// lint runs helm lint --strict with values.
func lint(t testing.TB, values ...string) error {
	t.Helper()
	args := append([]string{"lint", "--strict", chartDir()}, valuesArgs(values)...)
	_, err := runHelm(t, args...)
	return err
}

// objects are the decoded documents of a manifest, in order.
type objects []*unstructured.Unstructured

// decode splits a multi-document manifest and decodes each non-empty
// document.
func decode(t testing.TB, manifest string) objects {
	t.Helper()
	var objs objects
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("splitting the manifest: %v", err)
		}
		m := decodeDoc(t, doc)
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// decodeDoc decodes one YAML document as the API machinery does: integral
// numbers become int64.
func decodeDoc(t testing.TB, doc []byte) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("decoding %s: %v", doc, err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil {
		t.Fatalf("decoding %s: %v", doc, err)
	}
	return m
}

// all returns the objects of a kind.
func (o objects) all(kind string) objects {
	var out objects
	for _, obj := range o {
		if obj.GetKind() == kind {
			out = append(out, obj)
		}
	}
	return out
}

// find returns the object of a kind and name (in any namespace), or nil.
func (o objects) find(kind, name string) *unstructured.Unstructured {
	for _, obj := range o {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	return nil
}

// findIn returns the object of a kind, namespace and name, or nil.
func (o objects) findIn(kind, namespace, name string) *unstructured.Unstructured {
	for _, obj := range o {
		if obj.GetKind() == kind && obj.GetNamespace() == namespace && obj.GetName() == name {
			return obj
		}
	}
	return nil
}

// get is find that fails t when there is no such object.
func (o objects) get(t testing.TB, kind, name string) *unstructured.Unstructured {
	t.Helper()
	obj := o.find(kind, name)
	if obj == nil {
		t.Fatalf("no %s %q among %v", kind, name, o.names())
	}
	return obj
}

// names lists kind/namespace/name of every object, for messages.
func (o objects) names() []string {
	var out []string
	for _, obj := range o {
		out = append(out, obj.GetKind()+"/"+obj.GetNamespace()+"/"+obj.GetName())
	}
	return out
}

// field reads a nested field (nil when absent).
func field(obj map[string]any, path ...string) any {
	v, ok, err := unstructured.NestedFieldNoCopy(obj, path...)
	if err != nil || !ok {
		return nil
	}
	return v
}

// str reads a nested string field ("" when absent).
func str(obj map[string]any, path ...string) string {
	s, _ := field(obj, path...).(string)
	return s
}

// maps reads a nested list of maps.
func maps(obj map[string]any, path ...string) []map[string]any {
	list, _ := field(obj, path...).([]any)
	var out []map[string]any
	for _, v := range list {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// strs reads a nested list of strings.
func strs(obj map[string]any, path ...string) []string {
	list, _ := field(obj, path...).([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// container returns a Deployment's container by name.
func container(t testing.TB, dep *unstructured.Unstructured, name string) map[string]any {
	t.Helper()
	for _, c := range maps(dep.Object, "spec", "template", "spec", "containers") {
		if c["name"] == name {
			return c
		}
	}
	t.Fatalf("%s %s has no container %q", dep.GetKind(), dep.GetName(), name)
	return nil
}

// managerArgs returns the manager container's args.
func managerArgs(t testing.TB, dep *unstructured.Unstructured) []string {
	t.Helper()
	return strs(container(t, dep, "manager"), "args")
}

// flagValue returns the value of --name=value in args.
func flagValue(args []string, name string) (string, bool) {
	prefix := "--" + name + "="
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, prefix); ok {
			return v, true
		}
	}
	return "", false
}

// hasFlag reports whether args hold --name or --name=...
func hasFlag(args []string, name string) bool {
	_, ok := flagValue(args, name)
	return ok || slices.Contains(args, "--"+name)
}

// envValue returns the value of an environment variable of a container.
func envValue(c map[string]any, name string) (string, bool) {
	for _, e := range maps(c, "env") {
		if e["name"] == name {
			s, _ := e["value"].(string)
			return s, true
		}
	}
	return "", false
}

// testdataFiles lists the values files under testdata, sorted.
func testdataFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(), "test", "chart", "testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in testdata (%v)", err)
	}
	for i, f := range files {
		files[i] = filepath.Join("testdata", filepath.Base(f))
	}
	slices.Sort(files)
	return files
}
