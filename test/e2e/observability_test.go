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

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/helm"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// The chart's monitoring objects, rendered by the real helm binary.
const (
	chartRelease   = "x"
	chartNamespace = "azure-authenticator"
	chartFullname  = "x-azure-authenticator"
)

// The alerts the chart must ship.
var wantAlerts = []string{
	"AzureAuthenticatorAuthenticationFailures",
	"AzureAuthenticatorProviderKeysNotRefreshed",
	"AzureAuthenticatorViewStale",
	"AzureAuthenticatorNoSigningKey",
	"AzureAuthenticatorOverloaded",
	"AzureAuthenticatorConnectionsRejected",
	"AzureAuthenticatorPanics",
	"AzureAuthenticatorSecretsNotServable",
}

type renderedObject struct {
	raw []byte
	obj *unstructured.Unstructured
}

var (
	chartOnce    sync.Once
	chartObjects []renderedObject
	chartErr     error
)

// renderChart runs helm template with every monitoring object enabled,
// once per test binary.
func renderChart(t *testing.T) []renderedObject {
	t.Helper()
	chartOnce.Do(func() { chartObjects, chartErr = helmTemplate() })
	if chartErr != nil {
		t.Fatal(chartErr)
	}
	return chartObjects
}

func helmTemplate() ([]renderedObject, error) {
	home, err := os.MkdirTemp("", "helm-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(home) }()
	h, err := helm.New("", home)
	if err != nil {
		return nil, err
	}
	out, err := h.Run(context.Background(), "template", chartRelease, helm.Chart(), "--namespace", chartNamespace,
		"--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.dashboard.enabled=true", "--set", "metrics.serviceMonitor.enabled=true")
	if err != nil {
		return nil, err
	}
	var objs []renderedObject
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, errors.New("helm output: " + err.Error())
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, renderedObject{raw: doc, obj: &unstructured.Unstructured{Object: m}})
	}
}

// pick returns the one rendered object of that kind and name ("" for any).
func pick(t *testing.T, objs []renderedObject, kind, name string) renderedObject {
	t.Helper()
	var found []renderedObject
	for _, o := range objs {
		if o.obj.GetKind() == kind && (name == "" || o.obj.GetName() == name) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the chart renders %d %s objects named %q, want 1", len(found), kind, name)
	}
	return found[0]
}

func nestedString(t *testing.T, o *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	s, _, err := unstructured.NestedString(o.Object, fields...)
	if err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return s
}

// The ServiceMonitor scrapes the metrics Service, and only it, on its port
// with a token allowed to get /metrics.
func TestObservabilityServiceMonitorScrapesTheMetricsService(t *testing.T) {
	objs := renderChart(t)
	sm := pick(t, objs, "ServiceMonitor", "").obj
	svc := pick(t, objs, "Service", chartFullname+"-metrics").obj

	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	matches := func(o *unstructured.Unstructured) bool {
		labels := o.GetLabels()
		for k, v := range selector {
			if labels[k] != v {
				return false
			}
		}
		return true
	}
	if len(selector) == 0 || !matches(svc) {
		t.Fatalf("ServiceMonitor selector %v does not match the metrics Service's labels %v", selector, svc.GetLabels())
	}
	for _, o := range objs {
		if o.obj.GetKind() == "Service" && o.obj.GetName() != svc.GetName() && matches(o.obj) {
			t.Fatalf("ServiceMonitor selector %v also matches Service %s", selector, o.obj.GetName())
		}
	}
	names, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	if !slices.Equal(names, []string{svc.GetNamespace()}) {
		t.Fatalf("ServiceMonitor namespaceSelector %v, want the metrics Service's namespace %s", names, svc.GetNamespace())
	}

	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(ports) != 1 || len(endpoints) != 1 {
		t.Fatalf("%d metrics Service ports, %d ServiceMonitor endpoints, want 1 and 1", len(ports), len(endpoints))
	}
	port := &unstructured.Unstructured{Object: ports[0].(map[string]any)}
	ep := &unstructured.Unstructured{Object: endpoints[0].(map[string]any)}
	if got, want := nestedString(t, ep, "port"), nestedString(t, port, "name"); got != want || want != "https-metrics" {
		t.Fatalf("ServiceMonitor endpoint port %q, metrics Service port %q, want both https-metrics", got, want)
	}
	if got := nestedString(t, ep, "scheme"); got != "https" {
		t.Fatalf("scheme %q, want https (metrics.secure)", got)
	}
	if got := nestedString(t, ep, "interval"); got != "30s" {
		t.Fatalf("interval %q, want metrics.serviceMonitor.interval 30s", got)
	}

	// The token: a ServiceAccount token Secret, bound to a ClusterRole
	// that may get /metrics.
	secret := pick(t, objs, "Secret", nestedString(t, ep, "authorization", "credentials", "name")).obj
	if nestedString(t, ep, "authorization", "credentials", "key") != "token" || nestedString(t, secret, "type") != "kubernetes.io/service-account-token" {
		t.Fatalf("authorization %v does not use a ServiceAccount token Secret", ep.Object["authorization"])
	}
	sa := secret.GetAnnotations()["kubernetes.io/service-account.name"]
	pick(t, objs, "ServiceAccount", sa)
	bound := false
	for _, o := range objs {
		if o.obj.GetKind() != "ClusterRoleBinding" {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(o.obj.Object, "subjects")
		for _, s := range subjects {
			s := s.(map[string]any)
			if s["kind"] != "ServiceAccount" || s["name"] != sa || s["namespace"] != chartNamespace {
				continue
			}
			role := pick(t, objs, "ClusterRole", nestedString(t, o.obj, "roleRef", "name")).obj
			rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
			for _, r := range rules {
				r := r.(map[string]any)
				if slices.Contains(asStrings(r["nonResourceURLs"]), "/metrics") && slices.Contains(asStrings(r["verbs"]), "get") {
					bound = true
				}
			}
		}
	}
	if !bound {
		t.Fatalf("ServiceAccount %s is not bound to a ClusterRole allowing get /metrics", sa)
	}
}

func asStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// promrulesReport is what hack/promrules prints.
type promrulesReport struct {
	Metrics []string `json:"metrics"`
	Rules   []struct {
		Alert   string   `json:"alert"`
		Metrics []string `json:"metrics"`
	} `json:"rules"`
	Dashboards []struct {
		Title   string   `json:"title"`
		Exprs   int      `json:"exprs"`
		Metrics []string `json:"metrics"`
	} `json:"dashboards"`
}

// The alerts parse with Prometheus's own rule parser, the dashboard's
// queries with its PromQL parser, and the manager, driven through a
// success, a refusal and a secret read, exports every metric they use.
func TestObservabilityAlertsAndDashboardUseExportedMetrics(t *testing.T) {
	objs := renderChart(t)
	rule := pick(t, objs, "PrometheusRule", "")
	dashboard := pick(t, objs, "ConfigMap", chartFullname+"-dashboard")
	if dashboard.obj.GetLabels()["grafana_dashboard"] != "1" {
		t.Fatalf("dashboard ConfigMap labels %v, want grafana_dashboard: \"1\" (metrics.dashboard.labels)", dashboard.obj.GetLabels())
	}
	checkAlertRules(t, rule.obj)

	dir := t.TempDir()
	ruleFile, dashboardFile := filepath.Join(dir, "prometheusrule.yaml"), filepath.Join(dir, "dashboard.yaml")
	for f, b := range map[string][]byte{ruleFile: rule.raw, dashboardFile: dashboard.raw} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep := runPromrules(t, ruleFile, dashboardFile)
	var alerts []string
	for _, r := range rep.Rules {
		alerts = append(alerts, r.Alert)
	}
	if !slices.Equal(alerts, wantAlerts) {
		t.Fatalf("parsed alerts %v, want %v", alerts, wantAlerts)
	}
	if len(rep.Dashboards) != 1 || rep.Dashboards[0].Exprs < 10 {
		t.Fatalf("dashboards %+v, want one with its queries", rep.Dashboards)
	}

	// Real traffic through the suite's manager.
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("app", rgSpec("rg-apps"))
	f.exposedSecret("db", "app", map[string][]byte{"password": []byte("pw")})
	tok := f.accessToken("app", vm)
	r := authenticate(t, f.service, account, f.login("nobody"), azure.Token(vm, azuretest.TokenOptions{}))
	expectFailure(t, r, http.StatusUnauthorized, unauthorized, f.login("nobody"), "CONJ00007E")
	if got := fetch(t, tok, f.ns+"/db/password"); got.status != http.StatusOK || got.body != "pw" {
		t.Fatalf("fetching the secret: %d %s", got.status, got.body)
	}

	issuer := azure.IssuerV1(f.tenant)
	var families map[string]*dto.MetricFamily
	eventually(t, "the traffic and the provider's keys are on the metrics endpoint", func() error {
		families = scrapeMetrics(t)
		for _, want := range []struct {
			family string
			labels map[string]string
		}{
			{"azure_authenticator_authentications_total", map[string]string{"service": f.service, "result": "success", "code": ""}},
			{"azure_authenticator_authentications_total", map[string]string{"service": f.service, "result": "failure", "code": "CONJ00007E"}},
			{"azure_authenticator_secret_fetches_total", map[string]string{"result": "success"}},
			{"azure_authenticator_jwks_refreshes_total", map[string]string{"provider": issuer, "result": "success"}},
			{"azure_authenticator_provider_keys_last_refresh_timestamp_seconds", map[string]string{"provider": issuer}},
			{"azure_authenticator_signing_keys", nil},
			{"azure_authenticator_rejected_requests_total", map[string]string{"reason": "overloaded"}},
		} {
			v, ok := sampleValue(families[want.family], want.labels)
			if !ok {
				return errorf("no %s%v", want.family, want.labels)
			}
			if want.family != "azure_authenticator_rejected_requests_total" && v <= 0 {
				return errorf("%s%v = %v, want > 0", want.family, want.labels, v)
			}
		}
		return nil
	})
	if v, _ := sampleValue(families["azure_authenticator_provider_keys_last_refresh_timestamp_seconds"], map[string]string{"provider": issuer}); time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Fatalf("provider keys last refreshed at %v, want within the test", time.Unix(int64(v), 0))
	}

	exported := map[string]bool{}
	for name, fam := range families {
		switch fam.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[name+s] = true
			}
		case dto.MetricType_SUMMARY:
			exported[name] = true
			exported[name+"_sum"], exported[name+"_count"] = true, true
		default:
			exported[name] = true
		}
	}
	var missing []string
	for _, m := range rep.Metrics {
		if !exported[m] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		var used []string
		for _, r := range rep.Rules {
			for _, m := range r.Metrics {
				if slices.Contains(missing, m) {
					used = append(used, r.Alert+": "+m)
				}
			}
		}
		for _, d := range rep.Dashboards {
			for _, m := range d.Metrics {
				if slices.Contains(missing, m) {
					used = append(used, "dashboard "+d.Title+": "+m)
				}
			}
		}
		t.Fatalf("the chart's alerts and dashboard use %d metrics the manager does not export: %v\nused by:\n  %s\nexported: %v",
			len(missing), missing, strings.Join(used, "\n  "), slices.Sorted(maps.Keys(exported)))
	}
}

// checkAlertRules: every alert has a severity, a summary and a description.
func checkAlertRules(t *testing.T, rule *unstructured.Unstructured) {
	t.Helper()
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	n := 0
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			r := &unstructured.Unstructured{Object: r.(map[string]any)}
			n++
			name := nestedString(t, r, "alert")
			if s := nestedString(t, r, "labels", "severity"); s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity %q, want warning or critical", name, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(nestedString(t, r, "annotations", a)) == "" {
					t.Errorf("alert %s: no %s annotation", name, a)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the PrometheusRule has no rules")
	}
}

// runPromrules runs hack/promrules (its own module: Prometheus's parsers
// stay out of the root go.mod) on the files.
func runPromrules(t *testing.T, files ...string) promrulesReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"run", "."}, files...)...)
	cmd.Dir = filepath.Join(testenv.RepoRoot(), "hack", "promrules")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/promrules refuses the chart's rules or dashboard: %v\n%s", err, stderr.String())
	}
	var rep promrulesReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("hack/promrules output %q: %v", out, err)
	}
	if len(rep.Metrics) == 0 {
		t.Fatal("hack/promrules found no metric names")
	}
	return rep
}

// scrapeMetrics serves the registry the manager's metrics endpoint serves
// on a loopback server and parses what a scraper would get.
func scrapeMetrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// sampleValue is the value of the family's series with these labels
// (others ignored).
func sampleValue(fam *dto.MetricFamily, labels map[string]string) (float64, bool) {
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range labels {
			if have[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}
