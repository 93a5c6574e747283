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

package chart

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/cel/environment"
)

// celEnv is the API server's CEL environment for new expressions, with the
// variables of a ValidatingAdmissionPolicy left dynamically typed.
func celEnv(t *testing.T) *cel.Env {
	t.Helper()
	base := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).NewExpressionsEnv()
	env, err := base.Extend(
		cel.Variable("request", cel.DynType),
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// evalCEL evaluates one expression; an evaluation error fails t (the
// policy's failurePolicy would deny the request).
func evalCEL(t *testing.T, env *cel.Env, expr string, vars map[string]any) any {
	t.Helper()
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("compiling %s: %v", expr, iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := prg.Eval(vars)
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	if out == types.NullValue {
		return nil
	}
	return out.Value()
}

// admits evaluates a ValidatingAdmissionPolicy as the API server does:
// matchConditions first (a request they do not all match is admitted
// unevaluated), then the variables, then every validation.
func admits(t *testing.T, env *cel.Env, vap map[string]any, vars map[string]any) bool {
	t.Helper()
	for _, mc := range maps(vap, "spec", "matchConditions") {
		if evalCEL(t, env, str(mc, "expression"), vars) != true {
			return true
		}
	}
	computed := map[string]any{}
	vars["variables"] = computed
	for _, v := range maps(vap, "spec", "variables") {
		computed[str(v, "name")] = evalCEL(t, env, str(v, "expression"), vars)
	}
	for _, v := range maps(vap, "spec", "validations") {
		if evalCEL(t, env, str(v, "expression"), vars) != true {
			return false
		}
	}
	return true
}

var (
	policyMu sync.Mutex
	policies = map[string]*unstructured.Unstructured{}
)

// policyFor renders the namespace policy with testdata/admission-policy.yaml
// and values, once per set of values.
func policyFor(t *testing.T, values []string) map[string]any {
	t.Helper()
	key := strings.Join(values, "\x00")
	policyMu.Lock()
	defer policyMu.Unlock()
	if p, ok := policies[key]; ok {
		return p.Object
	}
	p := render(t, append([]string{"testdata/admission-policy.yaml"}, values...)...).get(t, "ValidatingAdmissionPolicy", "azure-authenticator-namespace-scopes")
	policies[key] = p
	return p.Object
}

// namespace is a Namespace object as the policy sees it; annotations nil:
// none at all.
func namespace(annotations map[string]any) map[string]any {
	meta := map[string]any{"name": "team-a", "labels": map[string]any{"kubernetes.io/metadata.name": "team-a"}}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
}

// TestNamespaceScopesPolicy: only administrators may set, change or remove
// the scopes annotation of a Namespace; its expressions are evaluated with
// the API server's CEL environment.
func TestNamespaceScopesPolicy(t *testing.T) {
	if objs := render(t); objs.find("ValidatingAdmissionPolicy", "azure-authenticator-namespace-scopes") != nil {
		t.Error("the namespace policy is rendered by default")
	}
	const ann = "authn.dap.io/allowed-azure-scopes"
	tenant := map[string]any{"username": "alice", "groups": []any{"system:authenticated", "team-a-admins"}}
	admin := map[string]any{"username": "kubernetes-admin", "groups": []any{"system:masters", "system:authenticated"}}
	gitops := map[string]any{"username": "system:serviceaccount:argocd:argocd-application-controller", "groups": []any{"system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"}}
	entra := map[string]any{"username": "bob@example.com", "groups": []any{"00000000-0000-0000-0000-0000000000aa", "system:authenticated"}}
	noGroups := map[string]any{"username": "carol"}
	scopes := map[string]any{ann: "sub-1/rg-a", "team": "a"}
	wider := map[string]any{ann: "sub-1/*", "team": "a"}
	otherOnly := map[string]any{"team": "a"}
	otherChanged := map[string]any{ann: "sub-1/rg-a", "team": "b"}

	for _, tc := range []struct {
		name    string
		values  []string
		ann     string
		user    map[string]any
		op      string
		object  map[string]any
		old     map[string]any // nil for CREATE
		allowed bool
	}{
		{"tenant creates a namespace without it", nil, ann, tenant, "CREATE", namespace(otherOnly), nil, true},
		{"tenant creates a namespace without annotations", nil, ann, noGroups, "CREATE", namespace(nil), nil, true},
		{"tenant creates a namespace with it", nil, ann, tenant, "CREATE", namespace(scopes), nil, false},
		{"tenant adds it", nil, ann, tenant, "UPDATE", namespace(scopes), namespace(otherOnly), false},
		{"tenant adds it to a namespace without annotations", nil, ann, tenant, "UPDATE", namespace(scopes), namespace(nil), false},
		{"tenant widens it", nil, ann, tenant, "UPDATE", namespace(wider), namespace(scopes), false},
		{"tenant removes it", nil, ann, tenant, "UPDATE", namespace(otherOnly), namespace(scopes), false},
		{"tenant removes every annotation", nil, ann, tenant, "UPDATE", namespace(nil), namespace(scopes), false},
		{"tenant without groups widens it", nil, ann, noGroups, "UPDATE", namespace(wider), namespace(scopes), false},
		{"tenant changes another annotation", nil, ann, tenant, "UPDATE", namespace(otherChanged), namespace(scopes), true},
		{"tenant updates a namespace without it", nil, ann, tenant, "UPDATE", namespace(otherOnly), namespace(nil), true},
		{"system:masters creates with it", nil, ann, admin, "CREATE", namespace(scopes), nil, true},
		{"system:masters widens it", nil, ann, admin, "UPDATE", namespace(wider), namespace(scopes), true},
		{"system:masters removes it", nil, ann, admin, "UPDATE", namespace(otherOnly), namespace(scopes), true},
		{"GitOps not listed", nil, ann, gitops, "UPDATE", namespace(wider), namespace(scopes), false},
		{"GitOps in adminUsers", []string{"admissionPolicy.adminUsers={system:serviceaccount:argocd:argocd-application-controller}"}, ann, gitops, "UPDATE", namespace(wider), namespace(scopes), true},
		{"Entra admin group", []string{"admissionPolicy.adminGroups={system:masters,00000000-0000-0000-0000-0000000000aa}"}, ann, entra, "CREATE", namespace(scopes), nil, true},
		{"system:masters no longer listed", []string{"admissionPolicy.adminGroups={team-platform}"}, ann, admin, "UPDATE", namespace(wider), namespace(scopes), false},
		{"another annotation name", []string{"admissionPolicy.annotation=example.com/azure-scopes"}, "example.com/azure-scopes", tenant, "UPDATE",
			namespace(map[string]any{"example.com/azure-scopes": "sub-2/*"}), namespace(nil), false},
		{"another annotation name, the default one is free", []string{"admissionPolicy.annotation=example.com/azure-scopes"}, "example.com/azure-scopes", tenant, "UPDATE",
			namespace(wider), namespace(scopes), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vap := policyFor(t, tc.values)
			env := celEnv(t)
			var old any
			if tc.old != nil {
				old = tc.old
			}
			vars := map[string]any{
				"request":   map[string]any{"operation": tc.op, "userInfo": tc.user, "name": "team-a"},
				"object":    tc.object,
				"oldObject": old,
				"variables": map[string]any{},
			}
			allowed := admits(t, env, vap, vars)
			if allowed != tc.allowed {
				t.Errorf("allowed=%v, want %v", allowed, tc.allowed)
			}
			validations := maps(vap, "spec", "validations")
			if len(validations) != 1 || !strings.Contains(str(validations[0], "message"), "only cluster administrators may set, change or remove the "+tc.ann+" annotation") {
				t.Errorf("validations %v", validations)
			}
		})
	}

	t.Run("objects", func(t *testing.T) {
		t.Parallel()
		objs := render(t, "testdata/admission-policy.yaml")
		vap := objs.get(t, "ValidatingAdmissionPolicy", "azure-authenticator-namespace-scopes")
		if str(vap.Object, "spec", "failurePolicy") != "Fail" {
			t.Errorf("failurePolicy %v", field(vap.Object, "spec", "failurePolicy"))
		}
		rr := maps(vap.Object, "spec", "matchConstraints", "resourceRules")
		if len(rr) != 1 || !slices.Equal(strs(rr[0], "apiGroups"), []string{""}) || !slices.Equal(strs(rr[0], "operations"), []string{"CREATE", "UPDATE"}) ||
			!slices.Equal(strs(rr[0], "resources"), []string{"namespaces", "namespaces/status", "namespaces/finalize"}) {
			t.Errorf("resourceRules %v", rr)
		}
		v := maps(vap.Object, "spec", "validations")
		want := "only cluster administrators may set, change or remove the authn.dap.io/allowed-azure-scopes annotation of a namespace: it decides which Azure subscriptions and resource groups the namespace's AzureHosts may use (azure-authenticator chart values admissionPolicy.adminGroups and admissionPolicy.adminUsers)"
		if len(v) != 1 || str(v[0], "message") != want || str(v[0], "reason") != "Forbidden" {
			t.Errorf("validations %v", v)
		}
		binding := objs.get(t, "ValidatingAdmissionPolicyBinding", "azure-authenticator-namespace-scopes")
		if str(binding.Object, "spec", "policyName") != vap.GetName() || !slices.Equal(strs(binding.Object, "spec", "validationActions"), []string{"Deny"}) {
			t.Errorf("binding %v", binding.Object["spec"])
		}
		if msg := renderError(t, "testdata/admission-policy.yaml", "--set-json=admissionPolicy.adminGroups=[]"); !strings.Contains(msg, "adminGroups and adminUsers are both empty") {
			t.Errorf("no admins: %s", msg)
		}
		// Group names reach the CEL expression JSON-quoted, whatever they hold.
		objs = render(t, "testdata/admission-policy.yaml", `--set-json=admissionPolicy.adminGroups=["a\"] || true || [\"b", "c'd"]`)
		vap = objs.get(t, "ValidatingAdmissionPolicy", "azure-authenticator-namespace-scopes")
		env := celEnv(t)
		for _, mc := range maps(vap.Object, "spec", "matchConditions") {
			vars := map[string]any{"request": map[string]any{"userInfo": map[string]any{"username": "alice", "groups": []any{"x"}}}}
			if evalCEL(t, env, str(mc, "expression"), vars) != true {
				t.Errorf("a group name escaped its string literal: %s", str(mc, "expression"))
			}
		}
	})
}
