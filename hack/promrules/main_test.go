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
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const rule = `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: r
spec:
  groups:
    - name: g
      rules:
        - record: job:requests:rate5m
          expr: sum by (job) (rate(requests_total[5m]))
        - alert: A
          expr: job:requests:rate5m > 1 and on () {__name__="up"} == 1
          for: 5m
          labels:
            severity: warning
          annotations:
            summary: "{{ $labels.job }} is {{ $value | humanize }}"
`

const dashboard = `{
  "title": "D",
  "templating": {"list": [
    {"name": "ns", "type": "query", "query": {"query": "label_values(index_hosts{job=\"a\"}, namespace)"}},
    {"name": "step", "type": "interval"},
    {"name": "names", "type": "query", "query": "label_names()"}
  ]},
  "panels": [
    {"type": "row", "panels": [
      {"targets": [{"expr": "histogram_quantile(0.9, sum by (le) (rate(latency_seconds_bucket{namespace=\"$ns\", pod=~\"${pod:regex}\"}[$__rate_interval])))"}]}
    ]},
    {"targets": [
      {"expr": "rate(errors_total[$step]) * $__range_s"},
      {"expr": "{job=\"x\"}", "datasource": {"type": "loki"}}
    ]}
  ]
}`

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMetricsOfRulesAndDashboards(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\ndata:\n  d.json: |-\n    " + strings.ReplaceAll(dashboard, "\n", "\n    ") + "\n"
	rep, errs := Check([]string{write(t, "rule.yaml", rule), write(t, "dash.yaml", cm), write(t, "dash.json", dashboard)})
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	want := []string{"errors_total", "index_hosts", "latency_seconds_bucket", "requests_total", "up"}
	if !slices.Equal(rep.Metrics, want) {
		t.Fatalf("metrics %v, want %v (recorded series excluded)", rep.Metrics, want)
	}
	if len(rep.Rules) != 2 || len(rep.Dashboards) != 2 || rep.Dashboards[0].Exprs != 3 {
		t.Fatalf("report %+v", rep)
	}
}

func TestInvalidInputsFail(t *testing.T) {
	for name, tc := range map[string]struct{ file, content, want string }{
		"bad rule expr":     {"r.yaml", strings.Replace(rule, "> 1 and", "> > 1 and", 1), "unexpected"},
		"bad template":      {"r.yaml", strings.Replace(rule, "$value | humanize", "$value | nosuchfunc", 1), "nosuchfunc"},
		"unknown rule key":  {"r.yaml", strings.Replace(rule, "for: 5m", "for: 5m\n          fro: 5m", 1), "fro"},
		"bad dashboard":     {"d.json", strings.Replace(dashboard, "* $__range_s", "* * 2", 1), "unexpected"},
		"name regex":        {"d.json", strings.Replace(dashboard, `rate(errors_total[$step])`, `rate({__name__=~\"e.*\"}[$step])`, 1), "not one fixed name"},
		"unknown object":    {"s.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n", "not a PrometheusRule"},
		"no rules, no dash": {"e.yaml", "", "no rules and no dashboard"},
	} {
		t.Run(name, func(t *testing.T) {
			_, errs := Check([]string{write(t, tc.file, tc.content)})
			if err := errors.Join(errs...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
