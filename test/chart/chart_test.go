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
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// valueSets are the default values plus every values file in testdata.
func valueSets(t *testing.T) [][]string {
	sets := [][]string{nil}
	for _, f := range testdataFiles(t) {
		sets = append(sets, []string{f})
	}
	return sets
}

func setName(values []string) string {
	if len(values) == 0 {
		return "defaults"
	}
	return strings.Join(values, ",")
}

func TestLintStrict(t *testing.T) {
	for _, values := range valueSets(t) {
		t.Run(setName(values), func(t *testing.T) {
			t.Parallel()
			if err := lint(t, values...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// clusterScoped are the kinds the chart renders without a namespace.
var clusterScoped = []string{
	"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
}

// TestEveryRenderIsSafe checks the invariants of every values file, as two
// different releases.
func TestEveryRenderIsSafe(t *testing.T) {
	releases := []struct{ release, namespace, fullname string }{
		{defaultRelease, defaultNamespace, "azure-authenticator"},
		{"team-a", "auth-a", "team-a-azure-authenticator"},
	}
	for _, values := range valueSets(t) {
		for _, r := range releases {
			t.Run(setName(values)+"/"+r.release, func(t *testing.T) {
				t.Parallel()
				objs := renderAs(t, r.release, r.namespace, values...)
				if len(objs.all("Deployment")) != 1 {
					t.Fatalf("want one Deployment, got %v", objs.names())
				}
				checkPodSecurity(t, objs)
				checkNoRBACWildcards(t, objs)
				checkPDB(t, objs)
				checkNetworkPolicyEgress(t, objs)
				for _, obj := range objs {
					id := obj.GetKind() + "/" + obj.GetName()
					if obj.GetKind() != "CustomResourceDefinition" && obj.GetName() != r.fullname && !strings.HasPrefix(obj.GetName(), r.fullname+"-") {
						t.Errorf("%s: not named after the full name %q", id, r.fullname)
					}
					if ns := obj.GetNamespace(); slices.Contains(clusterScoped, obj.GetKind()) != (ns == "") {
						t.Errorf("%s: namespace %q for a %s", id, ns, obj.GetKind())
					}
					if strings.HasSuffix(obj.GetName(), "-extra") {
						continue // extraObjects carry the user's labels
					}
					labels := obj.GetLabels()
					for _, key := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "app.kubernetes.io/component", "helm.sh/chart"} {
						if labels[key] == "" {
							t.Errorf("%s: no label %s", id, key)
						}
					}
					if labels["app.kubernetes.io/instance"] != r.release {
						t.Errorf("%s: instance label %q, want %q", id, labels["app.kubernetes.io/instance"], r.release)
					}
				}
			})
		}
	}
}

// checkPodSecurity: every Pod template runs as non-root with the restricted
// container settings.
func checkPodSecurity(t *testing.T, objs objects) {
	t.Helper()
	for _, obj := range objs {
		pod, ok := field(obj.Object, "spec", "template", "spec").(map[string]any)
		if !ok {
			continue
		}
		id := obj.GetKind() + "/" + obj.GetName()
		podSC, _ := pod["securityContext"].(map[string]any)
		if podSC["runAsNonRoot"] != true {
			t.Errorf("%s: pod securityContext.runAsNonRoot is %v", id, podSC["runAsNonRoot"])
		}
		if str(podSC, "seccompProfile", "type") != "RuntimeDefault" {
			t.Errorf("%s: pod seccompProfile %v", id, podSC["seccompProfile"])
		}
		cs := append(maps(pod, "containers"), maps(pod, "initContainers")...)
		if len(cs) == 0 {
			t.Errorf("%s: no containers", id)
		}
		for _, c := range cs {
			sc, _ := c["securityContext"].(map[string]any)
			cid := fmt.Sprintf("%s container %v", id, c["name"])
			if sc["allowPrivilegeEscalation"] != false {
				t.Errorf("%s: allowPrivilegeEscalation %v", cid, sc["allowPrivilegeEscalation"])
			}
			if sc["readOnlyRootFilesystem"] != true {
				t.Errorf("%s: readOnlyRootFilesystem %v", cid, sc["readOnlyRootFilesystem"])
			}
			if sc["runAsNonRoot"] != true {
				t.Errorf("%s: runAsNonRoot %v", cid, sc["runAsNonRoot"])
			}
			if !slices.Contains(strs(sc, "capabilities", "drop"), "ALL") {
				t.Errorf("%s: capabilities.drop %v, want ALL", cid, field(sc, "capabilities", "drop"))
			}
			if str(sc, "seccompProfile", "type") != "RuntimeDefault" {
				t.Errorf("%s: seccompProfile %v", cid, sc["seccompProfile"])
			}
		}
	}
}

// checkNoRBACWildcards: every rule names its groups, resources and verbs.
func checkNoRBACWildcards(t *testing.T, objs objects) {
	t.Helper()
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, role := range objs.all(kind) {
			rules := maps(role.Object, "rules")
			if len(rules) == 0 {
				t.Errorf("%s %s: no rules", kind, role.GetName())
			}
			for i, rule := range rules {
				for _, key := range []string{"apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"} {
					if slices.Contains(strs(rule, key), "*") {
						t.Errorf("%s %s rule %d: %s holds *: %v", kind, role.GetName(), i, key, rule)
					}
				}
			}
		}
	}
}

// checkPDB: a PodDisruptionBudget exists iff it is enabled and there is more
// than one replica, and it never blocks every eviction.
func checkPDB(t *testing.T, objs objects) {
	t.Helper()
	dep := objs.all("Deployment")[0]
	replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	pdbs := objs.all("PodDisruptionBudget")
	switch {
	case replicas <= 1 && len(pdbs) != 0:
		t.Errorf("%d replica(s) but a PodDisruptionBudget", replicas)
	case replicas > 1 && len(pdbs) > 1:
		t.Errorf("%d PodDisruptionBudgets", len(pdbs))
	case len(pdbs) == 1:
		min, ok, _ := unstructured.NestedInt64(pdbs[0].Object, "spec", "minAvailable")
		if ok && min >= replicas {
			t.Errorf("PodDisruptionBudget minAvailable %d with %d replicas", min, replicas)
		}
		if !reflect.DeepEqual(field(pdbs[0].Object, "spec", "selector", "matchLabels"), field(dep.Object, "spec", "selector", "matchLabels")) {
			t.Errorf("PodDisruptionBudget selector %v differs from the Deployment's", field(pdbs[0].Object, "spec", "selector"))
		}
	}
}

// checkNetworkPolicyEgress: an enabled NetworkPolicy never cuts all egress
// (the manager needs DNS, the API server and Entra ID).
func checkNetworkPolicyEgress(t *testing.T, objs objects) {
	t.Helper()
	for _, np := range objs.all("NetworkPolicy") {
		if !slices.Contains(strs(np.Object, "spec", "policyTypes"), "Egress") {
			continue
		}
		egress := maps(np.Object, "spec", "egress")
		if len(egress) == 0 {
			t.Errorf("NetworkPolicy %s: empty egress list", np.GetName())
		}
		for _, want := range []string{"53/UDP", "53/TCP", "443/TCP", "6443/TCP"} {
			if !slices.Contains(policyPorts(egress), want) {
				t.Errorf("NetworkPolicy %s: egress does not allow %s: %v", np.GetName(), want, egress)
			}
		}
	}
}

// policyPorts lists "port/protocol" of NetworkPolicy rules.
func policyPorts(rules []map[string]any) []string {
	var out []string
	for _, r := range rules {
		for _, p := range maps(r, "ports") {
			out = append(out, fmt.Sprintf("%v/%v", p["port"], p["protocol"]))
		}
	}
	return out
}

func TestDefaultObjects(t *testing.T) {
	objs := render(t)
	want := []string{
		"CustomResourceDefinition//azureauthenticators.authn.dap.io",
		"CustomResourceDefinition//azurehosts.authn.dap.io",
		"ServiceAccount/azure-authenticator/azure-authenticator",
		"Deployment/azure-authenticator/azure-authenticator",
		"Service/azure-authenticator/azure-authenticator",
		"Service/azure-authenticator/azure-authenticator-metrics",
		"ClusterRole//azure-authenticator-manager",
		"ClusterRoleBinding//azure-authenticator-manager",
		"Role/azure-authenticator/azure-authenticator-manager",
		"RoleBinding/azure-authenticator/azure-authenticator-manager",
		"ClusterRole//azure-authenticator-metrics-reader",
		"ClusterRole//azure-authenticator-azurehost-editor",
		"ClusterRole//azure-authenticator-azurehost-viewer",
		"PodDisruptionBudget/azure-authenticator/azure-authenticator",
		"ConfigMap/azure-authenticator/azure-authenticator-ca",
	}
	got := objs.names()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("default objects:\n got %v\nwant %v", got, want)
	}

	dep := objs.get(t, "Deployment", "azure-authenticator")
	wantArgs := []string{
		"--leader-elect",
		"--leader-election-lease-duration=15s",
		"--leader-election-renew-deadline=10s",
		"--leader-election-retry-period=2s",
		"--leader-election-id=azure-authenticator",
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8443",
		"--metrics-secure=true",
		"--authn-bind-address=:9443",
		"--account=default",
		"--zap-log-level=info",
		"--audit-log=-",
		"--max-in-flight=256",
		"--max-connections=1024",
		"--max-staleness=0s",
		"--verified-token-cache=10000",
		"--provider-key-refresh=5m",
		"--signing-key-secret=azure-authenticator-signing-keys",
		"--tls-secret=azure-authenticator-tls",
		"--tls-ca-configmap=azure-authenticator-ca",
		"--tls-sans=azure-authenticator.azure-authenticator.svc,azure-authenticator.azure-authenticator.svc.cluster.local",
	}
	if args := managerArgs(t, dep); !slices.Equal(args, wantArgs) {
		t.Errorf("manager args:\n got %q\nwant %q", args, wantArgs)
	}
	c := container(t, dep, "manager")
	if got := str(c, "image"); got != "ghcr.io/azure-authenticator/azure-authenticator:v0.1.0" {
		t.Errorf("image %q", got)
	}
	pod := field(dep.Object, "spec", "template", "spec").(map[string]any)
	for key, want := range map[string]any{
		"automountServiceAccountToken":  true,
		"enableServiceLinks":            false,
		"terminationGracePeriodSeconds": int64(30),
		"serviceAccountName":            "azure-authenticator",
	} {
		if got := pod[key]; !reflect.DeepEqual(normalize(got), want) {
			t.Errorf("pod %s = %v, want %v", key, got, want)
		}
	}
	var ports []string
	for _, p := range maps(c, "ports") {
		ports = append(ports, fmt.Sprintf("%v=%v", p["name"], p["containerPort"]))
	}
	if want := []string{"authn=9443", "metrics=8443", "probes=8081"}; !slices.Equal(ports, want) {
		t.Errorf("ports %v, want %v", ports, want)
	}
	if str(c, "livenessProbe", "httpGet", "path") != "/healthz" || str(c, "readinessProbe", "httpGet", "path") != "/readyz" {
		t.Errorf("probes: liveness %v, readiness %v", c["livenessProbe"], c["readinessProbe"])
	}
	if ns, ok := envValue(c, "POD_NAMESPACE"); !ok || ns != "" {
		t.Errorf("POD_NAMESPACE: want a fieldRef, got %q (present %v)", ns, ok)
	}
	// The default spread: soft, over hostname and zone, on the selector labels.
	tsc := maps(pod, "topologySpreadConstraints")
	if len(tsc) != 2 {
		t.Fatalf("topologySpreadConstraints %v", tsc)
	}
	for _, c := range tsc {
		if c["whenUnsatisfiable"] != "ScheduleAnyway" || !reflect.DeepEqual(field(c, "labelSelector", "matchLabels"), field(dep.Object, "spec", "selector", "matchLabels")) {
			t.Errorf("topology spread constraint %v", c)
		}
	}
	if got := render(t, "topologySpreadConstraints[0].maxSkew=2", "topologySpreadConstraints[0].topologyKey=zone", "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule"); len(maps(field(got.get(t, "Deployment", "azure-authenticator").Object, "spec", "template", "spec").(map[string]any), "topologySpreadConstraints")) != 1 {
		t.Error("a topologySpreadConstraints list of one did not replace the default")
	}
}

// normalize turns JSON numbers into int64 for comparisons.
func normalize(v any) any {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return v
}

func TestFullname(t *testing.T) {
	for _, tc := range []struct {
		name, release, namespace string
		values                   []string
		fullname                 string
	}{
		{"release without the chart name", "team-a", "auth-a", nil, "team-a-azure-authenticator"},
		{"release containing the chart name", "azure-authenticator-prod", "auth", nil, "azure-authenticator-prod"},
		{"fullnameOverride", "team-a", "auth-a", []string{"fullnameOverride=authn"}, "authn"},
		{"nameOverride", "team-a", "auth-a", []string{"nameOverride=authn"}, "team-a-authn"},
		{"truncated to 63", strings.Repeat("r", 53), "auth", nil, strings.Repeat("r", 53) + "-azure-aut"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, ns := tc.fullname, tc.namespace
			// A Service name is a DNS label: at most 63 characters.
			metricsService := strings.TrimSuffix(f[:min(len(f), 55)], "-") + "-metrics"
			objs := renderAs(t, tc.release, ns, append(tc.values, "admissionPolicy.enabled=true", "authenticator.networkPolicy.enabled=true", "authenticator.ingress.enabled=true", "authenticator.ingress.host=a.example.com")...)
			for _, name := range []struct{ kind, ns, name string }{
				{"ServiceAccount", ns, f}, {"Deployment", ns, f}, {"Service", ns, f}, {"Service", ns, metricsService},
				{"ClusterRole", "", f + "-manager"}, {"ClusterRoleBinding", "", f + "-manager"},
				{"Role", ns, f + "-manager"}, {"RoleBinding", ns, f + "-manager"},
				{"ClusterRole", "", f + "-metrics-reader"}, {"ClusterRole", "", f + "-azurehost-editor"}, {"ClusterRole", "", f + "-azurehost-viewer"},
				{"PodDisruptionBudget", ns, f}, {"NetworkPolicy", ns, f}, {"Ingress", ns, f},
				{"ValidatingAdmissionPolicy", "", f + "-azure-scopes"}, {"ValidatingAdmissionPolicyBinding", "", f + "-azure-scopes"},
				{"ValidatingAdmissionPolicy", "", f + "-namespace-scopes"}, {"ValidatingAdmissionPolicyBinding", "", f + "-namespace-scopes"},
			} {
				if objs.findIn(name.kind, name.ns, name.name) == nil {
					t.Errorf("no %s %s/%s", name.kind, name.ns, name.name)
				}
			}
			if t.Failed() {
				t.Fatalf("rendered: %v", objs.names())
			}
			args := managerArgs(t, objs.get(t, "Deployment", f))
			for flag, want := range map[string]string{
				"leader-election-id": f,
				"signing-key-secret": f + "-signing-keys",
				"tls-secret":         f + "-tls",
				"tls-sans":           f + "." + ns + ".svc," + f + "." + ns + ".svc.cluster.local",
			} {
				if got, _ := flagValue(args, flag); got != want {
					t.Errorf("--%s=%q, want %q", flag, got, want)
				}
			}
			role := objs.findIn("Role", ns, f+"-manager")
			var names []string
			for _, rule := range maps(role.Object, "rules") {
				names = append(names, strs(rule, "resourceNames")...)
			}
			if want := []string{f + "-signing-keys", f + "-tls", f + "-ca", f}; !slices.Equal(names, want) {
				t.Errorf("Role resourceNames %v, want %v", names, want)
			}
			for _, binding := range append(objs.all("ClusterRoleBinding"), objs.all("RoleBinding")...) {
				for _, s := range maps(binding.Object, "subjects") {
					if s["name"] != f || s["namespace"] != ns {
						t.Errorf("%s %s subject %v, want ServiceAccount %s/%s", binding.GetKind(), binding.GetName(), s, ns, f)
					}
				}
			}
		})
	}
}

// rules lists a role's rules as "group|resources|verbs|resourceNames" lines.
func rules(role *unstructured.Unstructured) []string {
	var out []string
	for _, r := range maps(role.Object, "rules") {
		if urls := strs(r, "nonResourceURLs"); len(urls) > 0 {
			out = append(out, "url:"+strings.Join(urls, ",")+"|"+strings.Join(strs(r, "verbs"), ","))
			continue
		}
		line := strings.Join(strs(r, "apiGroups"), ",") + "|" + strings.Join(strs(r, "resources"), ",") + "|" + strings.Join(strs(r, "verbs"), ",")
		if names := strs(r, "resourceNames"); len(names) > 0 {
			line += "|" + strings.Join(names, ",")
		}
		out = append(out, line)
	}
	return out
}

func TestRBAC(t *testing.T) {
	managerRules := []string{
		"authn.dap.io|azurehosts,azureauthenticators|list,watch",
		"authn.dap.io|azurehosts/status,azureauthenticators/status|patch",
		"|namespaces|list,watch",
		"events.k8s.io|events|create",
		"|events|create",
		"authentication.k8s.io|tokenreviews|create",
		"authorization.k8s.io|subjectaccessreviews|create",
	}
	secretsRule := "|secrets|list,watch"
	ownRules := []string{
		"|secrets|get,list,watch,update|azure-authenticator-signing-keys,azure-authenticator-tls",
		"|secrets|create",
		"|configmaps|get,update|azure-authenticator-ca",
	}
	leaseRules := []string{
		"coordination.k8s.io|leases|get,update|azure-authenticator",
		"coordination.k8s.io|leases|create",
	}
	for _, tc := range []struct {
		name             string
		values           []string
		clusterRole      []string
		role             []string
		secretNamespaces []string
		aggregated       bool
	}{
		{"defaults: cluster-wide Secret reads", nil, append(slices.Clone(managerRules), secretsRule), append(slices.Clone(ownRules), leaseRules...), nil, false},
		{"secretNamespaces: Roles instead", []string{"testdata/secret-namespaces.yaml"}, managerRules, append(slices.Clone(ownRules), leaseRules...), []string{"a", "b"}, false},
		{"no leader election: no Lease rules", []string{"leaderElection.enabled=false"}, append(slices.Clone(managerRules), secretsRule), ownRules, nil, false},
		{"aggregated", []string{"testdata/aggregate-roles.yaml"}, append(slices.Clone(managerRules), secretsRule), append(slices.Clone(ownRules), leaseRules...), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.values...)
			if got := rules(objs.get(t, "ClusterRole", "azure-authenticator-manager")); !slices.Equal(got, tc.clusterRole) {
				t.Errorf("ClusterRole rules:\n got %q\nwant %q", got, tc.clusterRole)
			}
			if got := rules(objs.findIn("Role", defaultNamespace, "azure-authenticator-manager")); !slices.Equal(got, tc.role) {
				t.Errorf("Role rules:\n got %q\nwant %q", got, tc.role)
			}
			args := managerArgs(t, objs.get(t, "Deployment", "azure-authenticator"))
			got, ok := flagValue(args, "secret-namespaces")
			if want := strings.Join(tc.secretNamespaces, ","); got != want || ok != (want != "") {
				t.Errorf("--secret-namespaces=%q (present %v), want %q", got, ok, want)
			}
			var secretRoles []string
			for _, role := range objs.all("Role") {
				if role.GetName() != "azure-authenticator-secrets" {
					continue
				}
				secretRoles = append(secretRoles, role.GetNamespace())
				if got := rules(role); !slices.Equal(got, []string{secretsRule}) {
					t.Errorf("Role %s/%s rules %q", role.GetNamespace(), role.GetName(), got)
				}
				rb := objs.findIn("RoleBinding", role.GetNamespace(), "azure-authenticator-secrets")
				if rb == nil {
					t.Errorf("no RoleBinding for Role %s/%s", role.GetNamespace(), role.GetName())
					continue
				}
				if str(rb.Object, "roleRef", "name") != role.GetName() || str(rb.Object, "roleRef", "kind") != "Role" {
					t.Errorf("RoleBinding %s roleRef %v", rb.GetNamespace(), rb.Object["roleRef"])
				}
			}
			if !slices.Equal(secretRoles, tc.secretNamespaces) {
				t.Errorf("Secret Roles in %v, want %v", secretRoles, tc.secretNamespaces)
			}

			editor := objs.get(t, "ClusterRole", "azure-authenticator-azurehost-editor")
			viewer := objs.get(t, "ClusterRole", "azure-authenticator-azurehost-viewer")
			if got, want := rules(editor), []string{"authn.dap.io|azurehosts|create,delete,get,list,patch,update,watch", "authn.dap.io|azurehosts/status|get"}; !slices.Equal(got, want) {
				t.Errorf("editor rules %q", got)
			}
			if got, want := rules(viewer), []string{"authn.dap.io|azurehosts|get,list,watch", "authn.dap.io|azurehosts/status|get"}; !slices.Equal(got, want) {
				t.Errorf("viewer rules %q", got)
			}
			aggregation := func(role *unstructured.Unstructured) []string {
				var out []string
				for k, v := range role.GetLabels() {
					if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") && v == "true" {
						out = append(out, strings.TrimPrefix(k, "rbac.authorization.k8s.io/aggregate-to-"))
					}
				}
				slices.Sort(out)
				return out
			}
			wantEditor, wantViewer := []string(nil), []string(nil)
			if tc.aggregated {
				wantEditor, wantViewer = []string{"admin", "edit"}, []string{"view"}
			}
			if got := aggregation(editor); !slices.Equal(got, wantEditor) {
				t.Errorf("editor aggregated to %v, want %v", got, wantEditor)
			}
			if got := aggregation(viewer); !slices.Equal(got, wantViewer) {
				t.Errorf("viewer aggregated to %v, want %v", got, wantViewer)
			}
			// AzureAuthenticators (the trusted issuers) are in no aggregated role.
			for _, role := range objs.all("ClusterRole") {
				if len(aggregation(role)) > 0 && strings.Contains(strings.Join(rules(role), " "), "azureauthenticators") {
					t.Errorf("ClusterRole %s aggregates AzureAuthenticator rights", role.GetName())
				}
			}
		})
	}
	if objs := render(t, "rbac.create=false"); len(objs.all("ClusterRole"))+len(objs.all("Role"))+len(objs.all("ClusterRoleBinding"))+len(objs.all("RoleBinding")) != 0 {
		t.Errorf("rbac.create=false still renders RBAC: %v", objs.names())
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   map[string]any // nil: no PDB
	}{
		{"defaults", nil, map[string]any{"minAvailable": int64(1)}},
		{"one replica, PDB disabled", []string{"testdata/single-replica.yaml"}, nil},
		{"one replica, PDB enabled", []string{"replicaCount=1"}, nil},
		{"disabled", []string{"podDisruptionBudget.enabled=false"}, nil},
		{"three replicas", []string{"replicaCount=3", "podDisruptionBudget.minAvailable=2"}, map[string]any{"minAvailable": int64(2)}},
		{"percentage", []string{"replicaCount=3", "podDisruptionBudget.minAvailable=50%"}, map[string]any{"minAvailable": "50%"}},
		{"maxUnavailable", []string{"podDisruptionBudget.minAvailable=null", "podDisruptionBudget.maxUnavailable=1"}, map[string]any{"maxUnavailable": int64(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pdbs := render(t, tc.values...).all("PodDisruptionBudget")
			if tc.want == nil {
				if len(pdbs) != 0 {
					t.Fatalf("want no PodDisruptionBudget, got %v", pdbs)
				}
				return
			}
			if len(pdbs) != 1 {
				t.Fatalf("want one PodDisruptionBudget, got %d", len(pdbs))
			}
			got := map[string]any{}
			for _, key := range []string{"minAvailable", "maxUnavailable"} {
				if v := field(pdbs[0].Object, "spec", key); v != nil {
					got[key] = normalize(v)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("PodDisruptionBudget %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTLSModes(t *testing.T) {
	const mountPath = "/etc/azure-authenticator/tls"
	inCluster := []string{"azure-authenticator.azure-authenticator.svc", "azure-authenticator.azure-authenticator.svc.cluster.local"}
	for _, tc := range []struct {
		name        string
		values      []string
		sans        []string // managed mode
		secret      string   // file modes: the mounted Secret
		certificate []string // certManager: dnsNames
	}{
		{"managed", nil, inCluster, "", nil},
		{"managed with load balancer names", []string{"testdata/lb-internal.yaml"}, append(slices.Clone(inCluster), "authn.example.internal", "10.20.0.50"), "", nil},
		{"existingSecret", []string{"testdata/existing-secret.yaml"}, nil, "authn-serving-cert", nil},
		{"certManager", []string{"testdata/cert-manager.yaml"}, nil, "azure-authenticator-cert", append(slices.Clone(inCluster), "authn.example.com")},
		{"certManager without in-cluster names", []string{"testdata/cert-manager.yaml", "authenticator.tls.certManager.includeServiceDNSNames=false"}, nil, "azure-authenticator-cert", []string{"authn.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.values...)
			dep := objs.get(t, "Deployment", "azure-authenticator")
			args := managerArgs(t, dep)
			c := container(t, dep, "manager")
			var mounts []string
			for _, m := range maps(c, "volumeMounts") {
				mounts = append(mounts, fmt.Sprintf("%v:%v:%v", m["name"], m["mountPath"], m["readOnly"]))
			}
			var secrets []string
			for _, v := range maps(dep.Object, "spec", "template", "spec", "volumes") {
				if s := str(v, "secret", "secretName"); s != "" {
					secrets = append(secrets, fmt.Sprintf("%v:%s", v["name"], s))
				}
			}
			if tc.secret == "" {
				if got, _ := flagValue(args, "tls-secret"); got != "azure-authenticator-tls" {
					t.Errorf("--tls-secret=%q", got)
				}
				if got, _ := flagValue(args, "tls-sans"); got != strings.Join(tc.sans, ",") {
					t.Errorf("--tls-sans=%q, want %q", got, strings.Join(tc.sans, ","))
				}
				if hasFlag(args, "tls-cert-file") || hasFlag(args, "tls-key-file") || len(mounts) != 0 || len(secrets) != 0 {
					t.Errorf("managed mode with certificate files: args %q, mounts %v, secrets %v", args, mounts, secrets)
				}
			} else {
				if hasFlag(args, "tls-secret") || hasFlag(args, "tls-sans") {
					t.Errorf("file mode with --tls-secret/--tls-sans: %q", args)
				}
				if got, _ := flagValue(args, "tls-cert-file"); got != mountPath+"/tls.crt" {
					t.Errorf("--tls-cert-file=%q", got)
				}
				if got, _ := flagValue(args, "tls-key-file"); got != mountPath+"/tls.key" {
					t.Errorf("--tls-key-file=%q", got)
				}
				if want := []string{"tls:" + mountPath + ":true"}; !slices.Equal(mounts, want) {
					t.Errorf("volumeMounts %v, want %v (read-only)", mounts, want)
				}
				if want := []string{"tls:" + tc.secret}; !slices.Equal(secrets, want) {
					t.Errorf("Secret volumes %v, want %v", secrets, want)
				}
			}
			certs := objs.all("Certificate")
			if tc.certificate == nil {
				if len(certs) != 0 {
					t.Errorf("unexpected Certificate %v", certs)
				}
				return
			}
			cert := objs.get(t, "Certificate", "azure-authenticator")
			if got := str(cert.Object, "spec", "secretName"); got != tc.secret {
				t.Errorf("Certificate secretName %q, want %q", got, tc.secret)
			}
			if got := strs(cert.Object, "spec", "dnsNames"); !slices.Equal(got, tc.certificate) {
				t.Errorf("Certificate dnsNames %v, want %v", got, tc.certificate)
			}
			if ref := field(cert.Object, "spec", "issuerRef"); !reflect.DeepEqual(ref, map[string]any{"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}) {
				t.Errorf("Certificate issuerRef %v", ref)
			}
			if str(cert.Object, "spec", "duration") != "2160h" || str(cert.Object, "spec", "renewBefore") != "360h" {
				t.Errorf("Certificate duration/renewBefore %v", cert.Object["spec"])
			}
		})
	}
}

func TestServices(t *testing.T) {
	for _, tc := range []struct {
		name        string
		values      []string
		typ         string
		policy      string
		nodePort    int64
		annotations map[string]string
		ranges      []string
	}{
		{"defaults", nil, "ClusterIP", "", 0, nil, nil},
		{"internal load balancer", []string{"testdata/lb-internal.yaml"}, "LoadBalancer", "Local",
			0, map[string]string{"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}, []string{"10.20.0.0/16", "10.30.0.0/16"}},
		{"load balancer, Cluster policy", []string{"authenticator.service.type=LoadBalancer", "authenticator.service.externalTrafficPolicy=Cluster"}, "LoadBalancer", "Cluster", 0, nil, nil},
		{"node port", []string{"testdata/nodeport.yaml"}, "NodePort", "Local", 30443, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.values...)
			svc := objs.findIn("Service", defaultNamespace, "azure-authenticator")
			if svc == nil {
				t.Fatalf("no Service among %v", objs.names())
			}
			spec := svc.Object["spec"].(map[string]any)
			if spec["type"] != tc.typ {
				t.Errorf("type %v, want %s", spec["type"], tc.typ)
			}
			if got, _ := spec["externalTrafficPolicy"].(string); got != tc.policy {
				t.Errorf("externalTrafficPolicy %q, want %q", got, tc.policy)
			}
			ports := maps(spec, "ports")
			if len(ports) != 1 || ports[0]["name"] != "https" || normalize(ports[0]["port"]) != int64(443) || ports[0]["targetPort"] != "authn" {
				t.Errorf("ports %v, want https 443 -> authn", ports)
			}
			if got := normalize(ports[0]["nodePort"]); tc.nodePort != 0 && got != tc.nodePort || tc.nodePort == 0 && got != nil {
				t.Errorf("nodePort %v, want %d", got, tc.nodePort)
			}
			if got := svc.GetAnnotations(); !reflect.DeepEqual(got, tc.annotations) && len(got)+len(tc.annotations) > 0 {
				t.Errorf("annotations %v, want %v", got, tc.annotations)
			}
			if got := strs(spec, "loadBalancerSourceRanges"); !slices.Equal(got, tc.ranges) {
				t.Errorf("loadBalancerSourceRanges %v, want %v", got, tc.ranges)
			}
			metrics := objs.get(t, "Service", "azure-authenticator-metrics")
			mports := maps(metrics.Object, "spec", "ports")
			if str(metrics.Object, "spec", "type") != "ClusterIP" || len(mports) != 1 || mports[0]["name"] != "https-metrics" || normalize(mports[0]["port"]) != int64(8443) || mports[0]["targetPort"] != "metrics" {
				t.Errorf("metrics Service %v", metrics.Object["spec"])
			}
		})
	}
	t.Run("metrics disabled", func(t *testing.T) {
		objs := render(t, "metrics.enabled=false")
		if objs.find("Service", "azure-authenticator-metrics") != nil {
			t.Error("metrics Service rendered with metrics.enabled=false")
		}
		if got, _ := flagValue(managerArgs(t, objs.get(t, "Deployment", "azure-authenticator")), "metrics-bind-address"); got != "0" {
			t.Errorf("--metrics-bind-address=%q, want 0", got)
		}
	})
}

func TestIngressAndNetworkPolicy(t *testing.T) {
	objs := render(t, "testdata/ingress.yaml")
	args := managerArgs(t, objs.get(t, "Deployment", "azure-authenticator"))
	if got, _ := flagValue(args, "trusted-proxies"); got != "10.244.0.0/16,fd00:10:244::/56" {
		t.Errorf("--trusted-proxies=%q", got)
	}
	ing := objs.get(t, "Ingress", "azure-authenticator")
	if str(ing.Object, "spec", "ingressClassName") != "nginx" || ing.GetAnnotations()["nginx.ingress.kubernetes.io/backend-protocol"] != "HTTPS" {
		t.Errorf("Ingress class/annotations: %v %v", ing.Object["spec"], ing.GetAnnotations())
	}
	tls := maps(ing.Object, "spec", "tls")
	if len(tls) != 1 || tls[0]["secretName"] != "authn-example-com" || !slices.Equal(strs(tls[0], "hosts"), []string{"authn.example.com"}) {
		t.Errorf("Ingress tls %v", tls)
	}
	irules := maps(ing.Object, "spec", "rules")
	if len(irules) != 1 || irules[0]["host"] != "authn.example.com" {
		t.Fatalf("Ingress rules %v", irules)
	}
	paths := maps(irules[0], "http", "paths")
	if len(paths) != 1 || str(paths[0], "backend", "service", "name") != "azure-authenticator" || str(paths[0], "backend", "service", "port", "name") != "https" {
		t.Errorf("Ingress backend %v", paths)
	}

	np := objs.get(t, "NetworkPolicy", "azure-authenticator")
	ingress := maps(np.Object, "spec", "ingress")
	if len(ingress) != 2 {
		t.Fatalf("NetworkPolicy ingress %v, want authenticator and metrics rules", ingress)
	}
	if got := policyPorts(ingress[:1]); !slices.Equal(got, []string{"authn/TCP"}) || len(maps(ingress[0], "from")) != 1 || str(maps(ingress[0], "from")[0], "podSelector", "matchLabels", "app.kubernetes.io/name") != "ingress-nginx" {
		t.Errorf("authenticator rule %v", ingress[0])
	}
	if got := policyPorts(ingress[1:]); !slices.Equal(got, []string{"metrics/TCP"}) || str(maps(ingress[1], "from")[0], "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name") != "monitoring" {
		t.Errorf("metrics rule %v", ingress[1])
	}
	if !reflect.DeepEqual(field(np.Object, "spec", "podSelector", "matchLabels"), map[string]any{"app.kubernetes.io/name": "azure-authenticator", "app.kubernetes.io/instance": "azure-authenticator"}) {
		t.Errorf("podSelector %v", field(np.Object, "spec", "podSelector"))
	}

	// Empty authenticatorFrom: anyone may reach 9443; empty metricsFrom: the
	// metrics port stays closed; extraEgress is appended.
	np = render(t, "testdata/proxy-and-extras.yaml").get(t, "NetworkPolicy", "azure-authenticator")
	ingress = maps(np.Object, "spec", "ingress")
	if len(ingress) != 1 || ingress[0]["from"] != nil || !slices.Equal(policyPorts(ingress), []string{"authn/TCP"}) {
		t.Errorf("NetworkPolicy ingress %v, want 9443 from anywhere only", ingress)
	}
	if got := policyPorts(maps(np.Object, "spec", "egress")); !slices.Contains(got, "3128/TCP") {
		t.Errorf("egress %v lacks extraEgress 3128/TCP", got)
	}
	if objs := render(t); len(objs.all("NetworkPolicy"))+len(objs.all("Ingress")) != 0 {
		t.Errorf("NetworkPolicy or Ingress by default: %v", objs.names())
	}
}

func TestProxyAndExtras(t *testing.T) {
	objs := render(t, "testdata/proxy-and-extras.yaml")
	dep := objs.get(t, "Deployment", "azure-authenticator")
	c := container(t, dep, "manager")
	args := managerArgs(t, dep)
	if str(c, "image") != "ghcr.io/azure-authenticator/azure-authenticator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("image %q, want the digest", str(c, "image"))
	}
	if hasFlag(args, "leader-elect") || args[len(args)-1] != "--enable-http2" {
		t.Errorf("args %q: want no --leader-elect and extraArgs last", args)
	}
	for name, want := range map[string]string{
		"HTTPS_PROXY":   "http://proxy.example.internal:3128",
		"NO_PROXY":      "10.0.0.0/16,.svc,.cluster.local",
		"SSL_CERT_FILE": "/etc/azure-authenticator/ca/ca-bundle.crt",
		"GODEBUG":       "tlsrsakex=0",
	} {
		if got, ok := envValue(c, name); !ok || got != want {
			t.Errorf("env %s=%q, want %q", name, got, want)
		}
	}
	if _, ok := envValue(c, "HTTP_PROXY"); ok {
		t.Error("HTTP_PROXY set though empty")
	}
	var caMounted bool
	for _, m := range maps(c, "volumeMounts") {
		if m["name"] == "extra-ca-bundle" && m["mountPath"] == "/etc/azure-authenticator/ca" && m["readOnly"] == true {
			caMounted = true
		}
	}
	if !caMounted {
		t.Errorf("CA bundle not mounted read-only: %v", c["volumeMounts"])
	}
	if rules := rules(objs.findIn("Role", defaultNamespace, "azure-authenticator-manager")); strings.Contains(strings.Join(rules, " "), "leases") {
		t.Errorf("Lease rules without leader election: %q", rules)
	}
	extra := objs.get(t, "ConfigMap", "azure-authenticator-extra")
	if extra.GetNamespace() != defaultNamespace || str(extra.Object, "data", "note") != "rendered through tpl" {
		t.Errorf("extraObjects ConfigMap %v", extra.Object)
	}
	if labels := objs.get(t, "Service", "azure-authenticator").GetLabels(); labels["team"] != "identity" {
		t.Errorf("commonLabels missing: %v", labels)
	}
	podLabels := field(dep.Object, "spec", "template", "metadata", "labels").(map[string]any)
	if podLabels["sidecar.istio.io/inject"] != "false" || podLabels["app.kubernetes.io/name"] != "azure-authenticator" {
		t.Errorf("pod labels %v", podLabels)
	}
}

func TestAdmissionPolicy(t *testing.T) {
	if objs := render(t); len(objs.all("ValidatingAdmissionPolicy")) != 0 {
		t.Error("a ValidatingAdmissionPolicy by default")
	}
	for _, annotation := range []string{"authn.dap.io/allowed-azure-scopes", "example.com/azure-scopes"} {
		objs := render(t, "testdata/admission-policy.yaml", "admissionPolicy.annotation="+annotation)
		vap := objs.get(t, "ValidatingAdmissionPolicy", "azure-authenticator-azure-scopes")
		if str(vap.Object, "apiVersion") != "admissionregistration.k8s.io/v1" || str(vap.Object, "spec", "failurePolicy") != "Fail" {
			t.Errorf("policy %v", vap.Object)
		}
		rr := maps(vap.Object, "spec", "matchConstraints", "resourceRules")
		if len(rr) != 1 || !slices.Equal(strs(rr[0], "resources"), []string{"azurehosts"}) || !slices.Equal(strs(rr[0], "operations"), []string{"CREATE", "UPDATE"}) || !slices.Equal(strs(rr[0], "apiGroups"), []string{"authn.dap.io"}) {
			t.Errorf("resourceRules %v", rr)
		}
		var cel strings.Builder
		for _, v := range maps(vap.Object, "spec", "variables") {
			cel.WriteString(str(v, "expression") + "\n")
		}
		validations := maps(vap.Object, "spec", "validations")
		if len(validations) != 1 || str(validations[0], "messageExpression") == "" {
			t.Fatalf("validations %v", validations)
		}
		cel.WriteString(str(validations[0], "expression"))
		for _, want := range []string{"namespaceObject.metadata.annotations['" + annotation + "']", "lowerAscii()", "object.spec.subscriptionID", "object.spec.resourceGroup", "'/*'"} {
			if !strings.Contains(cel.String(), want) {
				t.Errorf("CEL lacks %q:\n%s", want, cel.String())
			}
		}
		binding := objs.get(t, "ValidatingAdmissionPolicyBinding", "azure-authenticator-azure-scopes")
		if str(binding.Object, "spec", "policyName") != vap.GetName() || !slices.Equal(strs(binding.Object, "spec", "validationActions"), []string{"Deny"}) {
			t.Errorf("binding %v", binding.Object["spec"])
		}
	}
}

func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string // all must appear in helm's error
	}{
		{"replicas=3", []string{"additional properties", "'replicas'"}},
		{"authenticator.foo=1", []string{"/authenticator", "'foo'"}},
		{"authenticator.service.bogus=1", []string{"/authenticator/service", "'bogus'"}},
		{"--set-string=replicaCount=two", []string{"/replicaCount", "want integer"}},
		{"testdata/invalid/replica-count-string.yaml", []string{"/replicaCount", "want integer"}},
		{"replicaCount=0", []string{"/replicaCount", "minimum"}},
		{"authenticator.service.type=External", []string{"/authenticator/service/type"}},
		{"authenticator.tls.mode=selfSigned", []string{"/authenticator/tls/mode"}},
		{"image.pullPolicy=Sometimes", []string{"/image/pullPolicy"}},
		{"authenticator.service.port=70000", []string{"/authenticator/service/port"}},
		{"authenticator.secretNamespaces={Not_A_Namespace}", []string{"/authenticator/secretNamespaces/0"}},
		{"authenticator.maxStaleness=soon", []string{"/authenticator/maxStaleness"}},
		{"authenticator.verifiedTokenCache=-1", []string{"/authenticator/verifiedTokenCache"}},
		{"--set-string=leaderElection.enabled=yes", []string{"/leaderElection/enabled", "want boolean"}},
		{"image.digest=latest", []string{"/image/digest"}},
		{"leaderElection.leaseDuration=1.5s", []string{"/leaderElection/leaseDuration", "does not match pattern"}},
		{"leaderElection.renewDeadline=-1s", []string{"/leaderElection/renewDeadline", "does not match pattern"}},
		{"leaderElection.retryPeriod=abc", []string{"/leaderElection/retryPeriod", "does not match pattern"}},
		{"leaderElection.leaseDuration=15", []string{"/leaderElection/leaseDuration", "want string"}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			msg := renderError(t, tc.value)
			if !strings.Contains(msg, "schema") {
				t.Errorf("not a schema error: %s", msg)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not mention %q: %s", want, msg)
				}
			}
		})
	}
}

func TestGuards(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   string
	}{
		{"certManager without issuer", []string{"authenticator.tls.mode=certManager"}, "needs authenticator.tls.certManager.issuerRef.name"},
		{"certManager without names", []string{"testdata/cert-manager.yaml", "authenticator.tls.certManager.includeServiceDNSNames=false", "authenticator.tls.certManager.dnsNames=null"}, "set dnsNames or ipAddresses"},
		{"existingSecret without Secret", []string{"authenticator.tls.mode=existingSecret"}, "needs authenticator.tls.existingSecret"},
		{"ingress without host", []string{"authenticator.ingress.enabled=true"}, "needs authenticator.ingress.host"},
		{"nodePort with ClusterIP", []string{"authenticator.service.nodePort=30443"}, "authenticator.service.nodePort is set but authenticator.service.type is ClusterIP"},
		{"both PDB bounds", []string{"podDisruptionBudget.maxUnavailable=1"}, "set only one of minAvailable and maxUnavailable"},
		{"PDB blocking evictions", []string{"podDisruptionBudget.minAvailable=2"}, "would block every voluntary eviction"},
		{"PDB maxUnavailable 0", []string{"podDisruptionBudget.minAvailable=null", "podDisruptionBudget.maxUnavailable=0"}, "would block every voluntary eviction"},
		{"no ServiceAccount name", []string{"serviceAccount.create=false"}, "serviceAccount.name is required"},
		{"renew deadline not shorter than lease", []string{"leaderElection.renewDeadline=15s"}, "leaderElection.renewDeadline (15s) must be shorter than leaderElection.leaseDuration (15s)"},
		{"renew deadline within the retry jitter", []string{"leaderElection.retryPeriod=9s"}, "leaderElection.renewDeadline (10s) must be longer than 1.2 x leaderElection.retryPeriod (9s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if msg := renderError(t, tc.values...); !strings.Contains(msg, tc.want) {
				t.Errorf("error does not say %q: %s", tc.want, msg)
			}
		})
	}
}

func TestNotes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		values   []string
		env      map[string]string
		contains []string
		warnings []string // substrings of WARNINGS entries, all of them
	}{
		{
			name:   "defaults",
			values: nil,
			env: map[string]string{
				"CONJUR_APPLIANCE_URL": "https://azure-authenticator.azure-authenticator.svc",
				"CONJUR_ACCOUNT":       "default", "CONJUR_AUTHN_TYPE": "azure",
				"CONJUR_SERVICE_ID": "<azureauthenticator-name>", "CONJUR_AUTHN_JWT_HOST_ID": "<namespace>/<azurehost-name>",
				"CONJUR_CERT_FILE": "conjur-ca.pem", "CONJUR_CREDENTIAL_STORAGE": "none",
			},
			contains: []string{
				`kubectl get configmap azure-authenticator-ca -n azure-authenticator -o jsonpath='{.data.ca\.crt}' > conjur-ca.pem`,
				"kubectl label namespace azure-authenticator pod-security.kubernetes.io/enforce=restricted",
				"neither helm uninstall nor switching authenticator.tls.mode away from managed",
				"kubectl delete secret azure-authenticator-tls -n azure-authenticator\n",
			},
			warnings: []string{"may read Secrets in every namespace"},
		},
		{
			name:   "existing Secret after managed",
			values: []string{"testdata/existing-secret.yaml"},
			contains: []string{
				"If this release used authenticator.tls.mode=managed before, Secret azure-authenticator-tls",
				"kubectl delete secret azure-authenticator-tls -n azure-authenticator --ignore-not-found",
			},
		},
		{
			name:   "monitoring: the scraper's token",
			values: []string{"testdata/monitoring.yaml"},
			contains: []string{
				"Secret azure-authenticator-metrics-scraper-token,\n   which never expires",
				"also reads the API server's own /metrics",
				"kubectl delete secret azure-authenticator-metrics-scraper-token -n azure-authenticator\n",
				"run helm upgrade, which re-creates the Secret",
			},
		},
		{
			name:     "trusted proxies",
			values:   []string{"testdata/ingress.yaml"},
			warnings: []string{"authenticator.trustedProxies (10.244.0.0/16, fd00:10:244::/56): a NetworkPolicy never stops traffic from a Pod's own node"},
		},
		{
			name:     "trusted proxies admitted by ipBlock",
			values:   []string{"testdata/ingress.yaml", `--set-json=authenticator.networkPolicy.authenticatorFrom=[{"ipBlock":{"cidr":"10.244.0.0/16"}},{"podSelector":{}}]`},
			warnings: []string{"authenticatorFrom admits ipBlock 10.244.0.0/16 while authenticator.trustedProxies is set", "Name the proxy pods with podSelector/namespaceSelector"},
		},
		{
			name:   "admission policies",
			values: []string{"testdata/admission-policy.yaml", "admissionPolicy.adminUsers={system:serviceaccount:argocd:argocd-application-controller}"},
			warnings: []string{
				"a namespace without the authn.dap.io/allowed-azure-scopes annotation can create no AzureHost",
				"checks AzureHosts at admission only: those created before the policy, or before their namespace's authn.dap.io/allowed-azure-scopes annotation was narrowed, keep authenticating",
				"azure-authenticator-namespace-scopes lets only the groups system:masters and the users system:serviceaccount:argocd:argocd-application-controller",
			},
		},
		{
			name:     "internal load balancer",
			values:   []string{"testdata/lb-internal.yaml", "authenticator.account=acme"},
			env:      map[string]string{"CONJUR_APPLIANCE_URL": "https://authn.example.internal", "CONJUR_ACCOUNT": "acme"},
			contains: []string{"kubectl get service azure-authenticator -n azure-authenticator -o jsonpath="},
		},
		{
			name:     "load balancer without names",
			values:   []string{"authenticator.service.type=LoadBalancer", "authenticator.service.port=8443"},
			env:      map[string]string{"CONJUR_APPLIANCE_URL": "https://<EXTERNAL-IP>:8443"},
			warnings: []string{"workloads outside the cluster cannot verify it"},
		},
		{
			name:   "node port",
			values: []string{"testdata/nodeport.yaml"},
			env:    map[string]string{"CONJUR_APPLIANCE_URL": "https://127.0.0.1:30443"},
		},
		{
			name:     "cert-manager",
			values:   []string{"testdata/cert-manager.yaml"},
			env:      map[string]string{"CONJUR_APPLIANCE_URL": "https://azure-authenticator.azure-authenticator.svc"},
			contains: []string{"ClusterIssuer corp-ca", "azure-authenticator-cert"},
		},
		{
			name:     "ingress",
			values:   []string{"testdata/ingress.yaml"},
			env:      map[string]string{"CONJUR_APPLIANCE_URL": "https://authn.example.com"},
			contains: []string{"Through the ingress: https://authn.example.com"},
		},
		{
			name:     "ingress without proxies or policy",
			values:   []string{"authenticator.ingress.enabled=true", "authenticator.ingress.host=a.example.com"},
			warnings: []string{"authenticator.trustedProxies is empty", "without authenticator.networkPolicy"},
		},
		{
			name:     "ingress with an open NetworkPolicy",
			values:   []string{"authenticator.ingress.enabled=true", "authenticator.ingress.host=a.example.com", "authenticator.networkPolicy.enabled=true"},
			warnings: []string{"without authenticator.networkPolicy limiting authenticatorFrom"},
		},
		{
			name:     "one replica",
			values:   []string{"testdata/single-replica.yaml", "testdata/secret-namespaces.yaml"},
			warnings: []string{"replicaCount is 1"},
		},
		{
			name:     "PDB off",
			values:   []string{"podDisruptionBudget.enabled=false"},
			warnings: []string{"podDisruptionBudget is disabled"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text := notes(t, tc.values...)
			env := map[string]string{}
			for _, line := range strings.Split(text, "\n") {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
					name, value, _ := strings.Cut(rest, "=")
					env[name] = value
				}
			}
			for name, want := range tc.env {
				if env[name] != want {
					t.Errorf("export %s=%q, want %q", name, env[name], want)
				}
			}
			if _, ok := env["CONJUR_SSL_CERTIFICATE"]; ok {
				t.Error("both CONJUR_SSL_CERTIFICATE and CONJUR_CERT_FILE exported: the SDK refuses that")
			}
			for _, want := range tc.contains {
				if !strings.Contains(text, want) {
					t.Errorf("NOTES lack %q:\n%s", want, text)
				}
			}
			_, warnings, _ := strings.Cut(text, "\nWARNINGS\n")
			for _, want := range tc.warnings {
				if !strings.Contains(warnings, want) {
					t.Errorf("no warning %q:\n%s", want, text)
				}
			}
			if tc.warnings == nil && tc.name != "defaults" && strings.Contains(warnings, "replicaCount is") {
				t.Errorf("unexpected replica warning:\n%s", warnings)
			}
		})
	}
}
