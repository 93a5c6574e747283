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
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// Every rule of the chart's RBAC is needed: with all of it, the manager,
// acting as the chart's ServiceAccount, does its whole job (checks below);
// without any one verb of any one rule, some check fails. Both Secret
// modes are covered: cluster-wide (a ClusterRole rule) and per namespace
// (a Role in each listed namespace).
func TestEveryRBACVerbIsNeeded(t *testing.T) {
	ensureCRDs(t)
	applySamplesOnce(t)
	// A verb counts as needed when some mode needs it: the cluster-wide
	// Secret rule makes the named ones redundant in that mode only.
	present, needed := map[string]bool{}, map[string]bool{}
	for _, mode := range []struct{ name, ns, values string }{
		{"cluster-wide-secrets", "rbac-cluster", ""},
		{"per-namespace-secrets", "rbac-scoped", "  secretNamespaces: [payments]\n"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			rel := mode.ns
			values := valuesFile(t, "crds:\n  enabled: false\nauthenticator:\n  tls:\n    sans: [127.0.0.1]\n"+mode.values)
			helmRun(t, "install", rel, chartPath(), "--namespace", mode.ns, "--create-namespace", "-f", values)
			t.Cleanup(func() { _, _ = helmCLI.Run(context.Background(), "uninstall", rel, "--namespace", mode.ns) })
			objs := objects(t, helmRun(t, "get", "manifest", rel, "--namespace", mode.ns))
			dep := deployment(t, objs)
			j := &job{ns: mode.ns, fullname: dep.Name, dep: dep}
			roles := managerRoles(t, objs)
			// RBAC takes effect in the API server's authorizer a moment
			// after it is written: every run starts once it has.
			waitForRules(t, dep, roles, true)
			if err := j.run(t, 90*time.Second); err != nil {
				t.Fatalf("with the chart's RBAC as rendered: %v", err)
			}
			for ri, role := range roles {
				for i, rule := range role.rules(t) {
					for _, verb := range rule.Verbs {
						// The same rule in every release and mode.
						key := strings.ReplaceAll(fmt.Sprintf("%s %s: %v %v %v %s", role.kind, role.name, rule.APIGroups, rule.Resources, rule.ResourceNames, verb), dep.Name, "<fullname>")
						present[key] = true
						restore := role.withoutVerb(t, i, verb)
						waitForRules(t, dep, roles[ri:ri+1], false) // the removal in effect, unless another rule grants the verb
						err := j.run(t, 45*time.Second)
						restore()
						waitForRules(t, dep, roles, true)
						if err != nil {
							needed[key] = true
							t.Logf("needed: %s (%v)", key, firstLine(err))
						}
					}
				}
			}
		})
	}
	var unneeded []string
	for key := range present {
		if !needed[key] {
			unneeded = append(unneeded, key)
		}
	}
	slices.Sort(unneeded)
	if len(unneeded) > 0 {
		t.Fatalf("verbs whose removal breaks nothing in any mode (remove them from the chart):\n%s", strings.Join(unneeded, "\n"))
	}
}

// waitForRules waits until the API server's authorizer agrees with the
// roles as written: with allowed, until every verb of every rule is
// allowed to the manager's ServiceAccount (fatal after a minute); without,
// for up to five seconds until some verb is denied (a removed verb that
// another rule still grants never is).
func waitForRules(t *testing.T, dep *appsv1.Deployment, roles []role, allowed bool) {
	t.Helper()
	user, groups := testenv.ServiceAccountUser(dep.Namespace, dep.Spec.Template.Spec.ServiceAccountName)
	agrees := func() (bool, string) {
		denied := ""
		for _, r := range roles {
			for _, rule := range r.rules(t) {
				name := ""
				if len(rule.ResourceNames) > 0 {
					name = rule.ResourceNames[0]
				}
				for _, verb := range rule.Verbs {
					for _, res := range rule.Resources {
						sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups,
							ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: r.ns, Verb: verb, Group: rule.APIGroups[0], Resource: res, Name: name}}}
						sar, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
						if err != nil {
							t.Fatal(err)
						}
						if !sar.Status.Allowed {
							denied = fmt.Sprintf("%s %s %s/%s", r.name, verb, res, name)
						}
					}
				}
			}
		}
		return denied == "", denied
	}
	bound := 60 * time.Second
	if !allowed {
		bound = 5 * time.Second
	}
	deadline := time.Now().Add(bound)
	for {
		all, denied := agrees()
		if all == allowed || !allowed && denied != "" {
			return
		}
		if time.Now().After(deadline) {
			if allowed {
				t.Fatalf("the manager's RBAC is not in effect after %v: %s denied", bound, denied)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// job is one run of the manager against the samples, from a clean slate.
type job struct {
	ns, fullname string
	dep          *appsv1.Deployment
}

// run resets what the manager creates or writes, starts it and checks
// that it does its whole job within bound; the first failing check, or
// any request the API server refused as forbidden, is returned.
func (j *job) run(t *testing.T, bound time.Duration) error {
	t.Helper()
	ctx := context.Background()
	c := crClient(t)
	// A clean slate: no Lease and no signing-key Secret (so they must be
	// created), an empty serving-certificate Secret (so it must be
	// updated), no status on the samples (written), no events (created).
	_ = clientset.CoordinationV1().Leases(j.ns).Delete(ctx, j.fullname, metav1.DeleteOptions{})
	_ = clientset.CoreV1().Secrets(j.ns).Delete(ctx, j.fullname+"-signing-keys", metav1.DeleteOptions{})
	_ = clientset.CoreV1().Secrets(j.ns).Delete(ctx, j.fullname+"-tls", metav1.DeleteOptions{})
	if _, err := clientset.CoreV1().Secrets(j.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: j.fullname + "-tls", Namespace: j.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The CA ConfigMap the chart creates, emptied (so it must be updated).
	cm, err := clientset.CoreV1().ConfigMaps(j.ns).Get(ctx, j.fullname+"-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = nil
	if _, err := clientset.CoreV1().ConfigMaps(j.ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	clearStatuses(t, c)
	if err := clientset.CoreV1().Events("payments").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}

	// The rules must hold for API servers without streaming lists too:
	// with client-go's WatchListClient off, informers LIST then WATCH.
	m := startManager(t, j.dep, "", "KUBE_FEATURE_WatchListClient=false")
	defer m.stop()
	deadline := time.Now().Add(bound)
	check := func(what string, fn func() error) error {
		for {
			if strings.Contains(m.log.String(), "forbidden") {
				return fmt.Errorf("the API server refused a request as forbidden:\n%s", grepLines(m.log.String(), "forbidden", 3))
			}
			err := fn()
			if err == nil {
				return nil
			}
			if m.exited() != nil {
				return fmt.Errorf("%s: %w\n%s", what, err, tail(m.log.String(), 5))
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %w", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"the manager is ready", m.ready},
		{"a leader holds the Lease", func() error {
			l, err := clientset.CoordinationV1().Leases(j.ns).Get(ctx, j.fullname, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
				return errors.New("no holder")
			}
			return nil
		}},
		{"the samples are Ready", func() error { return samplesReady(c) }},
		{"an event says so", func() error {
			evs, err := clientset.EventsV1().Events("payments").List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.ReportingController == "azure-authenticator" {
					return nil
				}
			}
			return fmt.Errorf("no event among %d from azure-authenticator", len(evs.Items))
		}},
		{"the CA is published for clients", func() error {
			sec, err := clientset.CoreV1().Secrets(j.ns).Get(ctx, j.fullname+"-tls", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cm, err := clientset.CoreV1().ConfigMaps(j.ns).Get(ctx, j.fullname+"-ca", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cm.Data[servingcert.CACertKey] == "" || cm.Data[servingcert.CACertKey] != string(sec.Data[servingcert.CACertKey]) {
				return errors.New("ConfigMap ca.crt is not the Secret's ca.crt")
			}
			return nil
		}},
		{"a workload authenticates and reads its secret", func() error { return j.authenticateAndRead(m) }},
		{"metrics are served to a reader", func() error { return j.scrape(m) }},
	}
	for _, s := range steps {
		if err := check(s.what, s.fn); err != nil {
			return err
		}
	}
	return check("no request was forbidden", func() error { return nil })
}

// authenticateAndRead logs in as ledger-vm with its IMDS token and reads
// the sample secret over the authenticator's HTTPS, trusting ca.crt.
func (j *job) authenticateAndRead(m *manager) error {
	ctx := context.Background()
	sec, err := clientset.CoreV1().Secrets(j.ns).Get(ctx, j.fullname+"-tls", metav1.GetOptions{})
	if err != nil {
		return err
	}
	hc := m.client(sec.Data[servingcert.CACertKey])
	token, err := machineToken("ledger-vm")
	if err != nil {
		return err
	}
	login := url.PathEscape("host/payments/ledger-vm")
	resp, err := hc.Post(m.authnURL+"/authn-azure/"+service+"/"+account+"/"+login+"/authenticate", "application/x-www-form-urlencoded", strings.NewReader("jwt="+token))
	if err != nil {
		return err
	}
	access, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("authenticate answered %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, m.authnURL+"/secrets/"+account+"/variable/"+url.PathEscape("payments/payments-db/password"), nil)
	req.Header.Set("Authorization", `Token token="`+base64.StdEncoding.EncodeToString(access)+`"`)
	resp, err = hc.Do(req)
	if err != nil {
		return err
	}
	value, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(value) != "demo-only-not-a-real-password" {
		return fmt.Errorf("the secret answered %d", resp.StatusCode)
	}
	return nil
}

// scrape reads /metrics with a token of a ServiceAccount bound to the
// release's metrics-reader ClusterRole.
func (j *job) scrape(m *manager) error {
	token, err := scraperToken(j.ns, j.fullname+"-scraper", j.fullname+"-metrics-reader")
	if err != nil {
		return err
	}
	code, _, err := m.scrape(token)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("metrics answered %d", code)
	}
	return nil
}

// role is a Role or ClusterRole the manager's ServiceAccount is bound to.
type role struct {
	kind, ns, name string
}

func (r role) get(t *testing.T) client.Object {
	t.Helper()
	var obj client.Object = &rbacv1.ClusterRole{}
	if r.kind == "Role" {
		obj = &rbacv1.Role{}
	}
	if err := crClient(t).Get(context.Background(), client.ObjectKey{Namespace: r.ns, Name: r.name}, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func rulesOf(obj client.Object) *[]rbacv1.PolicyRule {
	if r, ok := obj.(*rbacv1.Role); ok {
		return &r.Rules
	}
	return &obj.(*rbacv1.ClusterRole).Rules
}

// rules are the role's rules as the API server holds them.
func (r role) rules(t *testing.T) []rbacv1.PolicyRule { return *rulesOf(r.get(t)) }

// withoutVerb removes verb from rule i (the whole rule when it was its
// last verb) and returns what puts it back.
func (r role) withoutVerb(t *testing.T, i int, verb string) (restore func()) {
	t.Helper()
	c := crClient(t)
	obj := r.get(t)
	orig := slices.Clone(*rulesOf(obj))
	rules := rulesOf(obj)
	rule := (*rules)[i]
	rule.Verbs = slices.DeleteFunc(slices.Clone(rule.Verbs), func(v string) bool { return v == verb })
	if len(rule.Verbs) == 0 {
		*rules = slices.Delete(slices.Clone(*rules), i, i+1)
	} else {
		(*rules)[i] = rule
	}
	if err := c.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return func() {
		obj := r.get(t)
		*rulesOf(obj) = orig
		if err := c.Update(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// managerRoles are the roles bound to the manager's ServiceAccount.
func managerRoles(t *testing.T, objs []*unstructured.Unstructured) []role {
	t.Helper()
	var sa, ns string
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			sa, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
			ns = o.GetNamespace()
		}
	}
	var out []role
	for _, o := range objs {
		if o.GetKind() != "RoleBinding" && o.GetKind() != "ClusterRoleBinding" {
			continue
		}
		var b rbacv1.RoleBinding // a ClusterRoleBinding has the same fields
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == ns
		}) {
			continue
		}
		r := role{kind: b.RoleRef.Kind, name: b.RoleRef.Name}
		if r.kind == "Role" {
			r.ns = o.GetNamespace()
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatal("no role is bound to the manager's ServiceAccount")
	}
	return out
}

// ensureCRDs installs the CRDs if no release has, marked as the main
// release's so that a later `helm install` of it adopts them.
func ensureCRDs(t *testing.T) {
	t.Helper()
	if _, err := env.Kubectl(context.Background(), "get", "crd", "azurehosts.authn.dap.io"); err == nil {
		return
	}
	kubectl(t, "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "crd", "bases"))
	for _, crd := range []string{"azurehosts.authn.dap.io", "azureauthenticators.authn.dap.io"} {
		kubectl(t, "label", "crd", crd, "app.kubernetes.io/managed-by=Helm", "app.kubernetes.io/instance="+release)
		kubectl(t, "annotate", "crd", crd, "meta.helm.sh/release-name="+release, "meta.helm.sh/release-namespace="+releaseNS)
	}
}

// applySamplesOnce applies the samples, pointed at the emulator, unless
// they are there already; it does not wait for any manager.
func applySamplesOnce(t *testing.T) {
	t.Helper()
	if _, err := env.Kubectl(context.Background(), "get", "azureauthenticator", service); err == nil {
		return
	}
	applySamplesAtEmulator(t)
}

// crClient is an admin client that knows our types.
func crClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clearStatuses empties the samples' status, so that a manager must write
// it anew (and emit the Ready events).
func clearStatuses(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	auth := &authnv1alpha1.AzureAuthenticator{}
	if err := c.Get(ctx, client.ObjectKey{Name: service}, auth); err != nil {
		t.Fatal(err)
	}
	auth.Status = authnv1alpha1.AzureAuthenticatorStatus{}
	if err := c.Status().Update(ctx, auth); err != nil {
		t.Fatal(err)
	}
	hosts := &authnv1alpha1.AzureHostList{}
	if err := c.List(ctx, hosts, client.InNamespace("payments")); err != nil {
		t.Fatal(err)
	}
	for i := range hosts.Items {
		hosts.Items[i].Status = authnv1alpha1.AzureHostStatus{}
		if err := c.Status().Update(ctx, &hosts.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
}

// samplesReady is nil once the sample authenticator and every sample host
// report Ready.
func samplesReady(c client.Client) error {
	ctx := context.Background()
	auth := &authnv1alpha1.AzureAuthenticator{}
	if err := c.Get(ctx, client.ObjectKey{Name: service}, auth); err != nil {
		return err
	}
	if !meta.IsStatusConditionTrue(auth.Status.Conditions, authnv1alpha1.ConditionReady) {
		return fmt.Errorf("AzureAuthenticator %s is not Ready", service)
	}
	hosts := &authnv1alpha1.AzureHostList{}
	if err := c.List(ctx, hosts, client.InNamespace("payments")); err != nil {
		return err
	}
	if len(hosts.Items) == 0 {
		return errors.New("no sample hosts")
	}
	for _, h := range hosts.Items {
		if !meta.IsStatusConditionTrue(h.Status.Conditions, authnv1alpha1.ConditionReady) {
			return fmt.Errorf("AzureHost %s is not Ready", h.Name)
		}
	}
	return nil
}

// grepLines returns up to n lines of s that contain substr.
func grepLines(s, substr string, n int) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) && len(out) < n {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
