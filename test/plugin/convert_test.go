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

package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// convertPolicy writes the realistic fixture policy with the service id
// made unique (AzureAuthenticators are cluster-wide) and returns its files.
func convertPolicy(t *testing.T, sid string) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"root.yml", "apps.yml"} {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "cmd", "kubectl-azauthn", "testdata", "conjur", name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "authn-azure/prod", "authn-azure/"+sid)), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return files
}

func convertDecode(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(stream, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		objs = append(objs, u)
	}
	return objs
}

// The converted manifests of a realistic policy are accepted by the API
// server, and the manager admits exactly the converted hosts through the
// converted authenticator's selectors.
func TestConvertManifestsAreAcceptedAndAdmitTheHosts(t *testing.T) {
	ctx := context.Background()
	ns := testNamespace(t, false)
	sid := fmt.Sprintf("convert-%d", nameSeq.Add(1))
	args := append([]string{"convert", "conjur-policy", "--namespace-for", "apps=" + ns,
		"--provider-uri", sid + "=https://127.0.0.1:8400/72f988bf-86f1-41af-91ab-2d7cd011db47/"}, convertPolicy(t, sid)...)
	r := azauthn(t, "", args...)
	wantCode(t, "convert", r, 0, "0 item(s) not mapped")
	objs := convertDecode(t, r.out)
	if len(objs) != 4 {
		t.Fatalf("want 1 authenticator and 3 hosts, got %d objects:\n%s", len(objs), r.out)
	}
	for _, u := range objs {
		if err := k8s.Create(ctx, u); err != nil {
			t.Fatalf("the API server refused %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), u) })
	}
	for _, u := range objs[1:] {
		testenv.Eventually(t, "host "+u.GetName()+" Ready/Admitted by "+sid, func() error {
			h := getHost(t, ns, u.GetName())
			c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady)
			if c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(strings.Join(h.Status.Authenticators, ","), sid) {
				return fmt.Errorf("condition %+v, authenticators %v", c, h.Status.Authenticators)
			}
			return nil
		})
	}

	// The label alone does not admit: a host carrying it in a namespace
	// the policy did not map stays unadmitted.
	other := testNamespace(t, false)
	stray := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: other, Labels: objs[1].GetLabels()}}
	stray.Spec.SubscriptionID, stray.Spec.ResourceGroup = "11111111-2222-3333-4444-555555555555", "rg-payments"
	if err := k8s.Create(ctx, stray); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "stray host NoAuthenticator", func() error {
		h := getHost(t, other, "stray")
		c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady)
		if c == nil || c.ObservedGeneration != h.Generation || c.Status != metav1.ConditionFalse || len(h.Status.Authenticators) != 0 {
			return fmt.Errorf("condition %+v, authenticators %v", c, h.Status.Authenticators)
		}
		return nil
	})
}

// Without --provider-uri the authenticator carries a placeholder that the
// API server refuses, so a half-configured conversion cannot be applied.
func TestConvertPlaceholderIsRefusedByTheAPIServer(t *testing.T) {
	sid := fmt.Sprintf("convert-%d", nameSeq.Add(1))
	r := azauthn(t, "", append([]string{"convert", "conjur-policy"}, convertPolicy(t, sid)...)...)
	wantCode(t, "convert without --provider-uri", r, 4, "no --provider-uri "+sid+"=URI")
	objs := convertDecode(t, r.out)
	if objs[0].GetKind() != "AzureAuthenticator" {
		t.Fatalf("first object is %s", objs[0].GetKind())
	}
	err := k8s.Create(context.Background(), objs[0], client.DryRunAll)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "must end with the tenant id") {
		t.Fatalf("want the API server to refuse the placeholder, got %v", err)
	}
}
