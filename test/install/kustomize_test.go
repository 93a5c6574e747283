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

package install

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// config/default (kustomize) installs the same thing as the chart with
// default values, release azure-authenticator in azure-authenticator-system:
// the same objects by kind and name, the same Deployment and Services
// (labels and image aside), the same RBAC rules, the same CRDs. And the API
// server accepts all of it.
func TestKustomizeInstallsWhatTheChartInstalls(t *testing.T) {
	const ns = "azure-authenticator-system"
	kustomized := objects(t, kubectl(t, "kustomize", filepath.Join(testenv.RepoRoot(), "config", "default")))
	charted := objects(t, helmRun(t, "template", "azure-authenticator", chartPath(), "--namespace", ns))

	key := func(o *unstructured.Unstructured) string {
		return fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	}
	byKey := func(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
		m := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			if o.GetKind() == "Namespace" { // kustomize creates it, helm --create-namespace
				continue
			}
			if o.GetKind() != "CustomResourceDefinition" && o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" && o.GetNamespace() == "" {
				o.SetNamespace(ns) // helm template leaves some namespaces implicit
			}
			m[key(o)] = o
		}
		return m
	}
	k, c := byKey(kustomized), byKey(charted)
	var kk, ck []string
	for x := range k {
		kk = append(kk, x)
	}
	for x := range c {
		ck = append(ck, x)
	}
	sort.Strings(kk)
	sort.Strings(ck)
	if !slices.Equal(kk, ck) {
		t.Fatalf("different objects:\nkustomize %q\nchart     %q", kk, ck)
	}
	for name, ko := range k {
		co := c[name]
		switch ko.GetKind() {
		case "ClusterRole", "Role":
			if a, b := ruleSet(t, ko), ruleSet(t, co); !slices.Equal(a, b) {
				t.Errorf("%s: different rules\nkustomize %q\nchart     %q", name, a, b)
			}
		case "ClusterRoleBinding", "RoleBinding":
			for _, f := range []string{"roleRef", "subjects"} {
				if !equality.Semantic.DeepEqual(ko.Object[f], co.Object[f]) {
					t.Errorf("%s: different %s\nkustomize %v\nchart     %v", name, f, ko.Object[f], co.Object[f])
				}
			}
		case "ServiceAccount":
		default:
			a, b := comparableSpec(ko), comparableSpec(co)
			if !equality.Semantic.DeepEqual(a, b) {
				aj, _ := json.MarshalIndent(a, "", " ")
				bj, _ := json.MarshalIndent(b, "", " ")
				t.Errorf("%s: different spec\nkustomize %s\nchart     %s", name, aj, bj)
			}
		}
	}

	// Server-side: the CRDs may be there already, owned by a Helm release.
	// Afterwards everything but the CRDs goes, so that a later helm install
	// of the same names owns them.
	t.Cleanup(func() {
		var rest []string
		for _, o := range kustomized {
			// No namespace controller runs here: a deleted Namespace would
			// never go, so it stays, as do the CRDs.
			if o.GetKind() != "CustomResourceDefinition" && o.GetKind() != "Namespace" {
				rest = append(rest, o.GetKind()+"/"+o.GetName())
			}
		}
		for _, o := range rest {
			kind, name, _ := strings.Cut(o, "/")
			_, _ = env.Kubectl(context.Background(), "delete", "--ignore-not-found", "--wait=false", "-n", ns, kind, name)
		}
	})
	out := kubectl(t, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(testenv.RepoRoot(), "config", "default"))
	for x := range k {
		kind, name, _ := strings.Cut(x, " ")
		_, name, _ = strings.Cut(name, "/")
		if !strings.Contains(out, strings.ToLower(kind)) || !strings.Contains(out, "/"+name+" ") {
			t.Errorf("kubectl apply -k config/default did not apply %s:\n%s", x, out)
		}
	}
}

// comparableSpec is an object's spec without what legitimately differs:
// labels Helm adds to the pod template and the image reference.
func comparableSpec(o *unstructured.Unstructured) any {
	o = o.DeepCopy()
	unstructured.RemoveNestedField(o.Object, "spec", "template", "metadata", "labels")
	if cs, ok, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers"); ok {
		for i := range cs {
			delete(cs[i].(map[string]any), "image")
		}
		_ = unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
	}
	return o.Object["spec"]
}

// ruleSet flattens rules into sorted "group resource name verb" tuples, so
// that rules split or merged differently compare equal.
func ruleSet(t *testing.T, o *unstructured.Unstructured) []string {
	t.Helper()
	var r rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rule := range r.Rules {
		names := rule.ResourceNames
		if len(names) == 0 {
			names = []string{"*"}
		}
		for _, v := range rule.Verbs {
			for _, u := range rule.NonResourceURLs {
				out = append(out, "url "+u+" "+v)
			}
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					for _, n := range names {
						out = append(out, fmt.Sprintf("%q %s %s %s", g, res, n, v))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
