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

// Command promrules checks the chart's alerting rules and Grafana dashboard
// with Prometheus's own parsers and lists the metrics they reference.
//
//	go run . FILE...
//
// Each FILE holds YAML documents (a PrometheusRule, or a ConfigMap whose
// *.json data are Grafana dashboards) or one Grafana dashboard as JSON.
// The spec.groups of a PrometheusRule are parsed and validated as a
// Prometheus rule file (model/rulefmt: every expr parsed as PromQL, every
// label and annotation template parsed); every PromQL expression of a
// dashboard (targets, annotations, query variables) is parsed with
// promql/parser after its Grafana variables are replaced by valid values.
//
// It prints JSON on stdout: the sorted metric names the expressions select
// (recorded series excluded), per rule and per dashboard. It exits 1 with
// the parsers' errors on stderr when anything is invalid, including a
// selector whose metric name is not one fixed name (it could not be
// checked against what the authenticator exports).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// Report is the JSON printed on success.
type Report struct {
	// Metrics are the metric names every expression selects, minus the
	// series the rules record themselves.
	Metrics    []string          `json:"metrics"`
	Rules      []RuleReport      `json:"rules"`
	Dashboards []DashboardReport `json:"dashboards"`
}

// RuleReport is one alerting or recording rule.
type RuleReport struct {
	File    string   `json:"file"`
	Group   string   `json:"group"`
	Alert   string   `json:"alert,omitempty"`
	Record  string   `json:"record,omitempty"`
	Metrics []string `json:"metrics"`
}

// DashboardReport is one dashboard.
type DashboardReport struct {
	File    string   `json:"file"`
	Title   string   `json:"title"`
	Exprs   int      `json:"exprs"`
	Metrics []string `json:"metrics"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: promrules FILE...")
		os.Exit(2)
	}
	rep, errs := Check(os.Args[1:])
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// promql is the parser Prometheus itself uses for rules, with its default
// (non-experimental) functions.
var promql = parser.NewParser(parser.Options{})

// Check reads the files and returns the report, or every error found.
func Check(files []string) (*Report, []error) {
	c := &checker{names: map[string]bool{}, recorded: map[string]bool{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			c.errs = append(c.errs, err)
			continue
		}
		c.file(f, b)
	}
	if len(c.rep.Rules) == 0 && len(c.rep.Dashboards) == 0 {
		c.errs = append(c.errs, errors.New("no rules and no dashboard found"))
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	c.rep.Metrics = []string{}
	for n := range c.names {
		if !c.recorded[n] {
			c.rep.Metrics = append(c.rep.Metrics, n)
		}
	}
	slices.Sort(c.rep.Metrics)
	return &c.rep, nil
}

type checker struct {
	rep      Report
	names    map[string]bool
	recorded map[string]bool
	errs     []error
}

func (c *checker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func (c *checker) file(name string, b []byte) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var obj map[string]any
		if err := json.Unmarshal(t, &obj); err != nil {
			c.errorf("%s: %v", name, err)
			return
		}
		if _, isObject := obj["kind"]; !isObject {
			c.dashboard(name, obj)
			return
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			c.errorf("%s: document %d: %v", name, i+1, err)
			return
		}
		if doc == nil {
			continue
		}
		where := fmt.Sprintf("%s: %v %v", name, doc["kind"], nameOf(doc))
		switch doc["kind"] {
		case "PrometheusRule":
			c.prometheusRule(where, doc)
		case "ConfigMap":
			data, _ := doc["data"].(map[string]any)
			found := false
			for _, key := range slices.Sorted(maps.Keys(data)) {
				s, ok := data[key].(string)
				if !strings.HasSuffix(key, ".json") || !ok {
					continue
				}
				found = true
				var d map[string]any
				if err := json.Unmarshal([]byte(s), &d); err != nil {
					c.errorf("%s: %s: %v", where, key, err)
					continue
				}
				c.dashboard(where+": "+key, d)
			}
			if !found {
				c.errorf("%s: no *.json dashboard in data", where)
			}
		default:
			c.errorf("%s: not a PrometheusRule nor a dashboard ConfigMap", where)
		}
	}
}

func nameOf(doc map[string]any) any {
	m, _ := doc["metadata"].(map[string]any)
	return m["name"]
}

// prometheusRule validates spec.groups as a Prometheus rule file.
func (c *checker) prometheusRule(where string, doc map[string]any) {
	spec, ok := doc["spec"].(map[string]any)
	if !ok {
		c.errorf("%s: no spec", where)
		return
	}
	raw, err := yaml.Marshal(spec)
	if err != nil {
		c.errorf("%s: %v", where, err)
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	groups, errs := rulefmt.Parse(raw, false, model.LegacyValidation, promql, logger)
	for _, err := range errs {
		c.errorf("%s: %v", where, err)
	}
	if len(errs) > 0 {
		return
	}
	if len(groups.Groups) == 0 {
		c.errorf("%s: no rule groups", where)
	}
	for _, g := range groups.Groups {
		if len(g.Rules) == 0 {
			c.errorf("%s: group %s has no rules", where, g.Name)
		}
		for _, r := range g.Rules {
			id := r.Alert
			if r.Record != "" {
				id = r.Record
				c.recorded[r.Record] = true
			}
			names := c.expr(fmt.Sprintf("%s: group %s: rule %s", where, g.Name, id), r.Expr)
			c.rep.Rules = append(c.rep.Rules, RuleReport{File: where, Group: g.Name, Alert: r.Alert, Record: r.Record, Metrics: names})
		}
	}
}

// dashboard parses every PromQL expression of a Grafana dashboard.
func (c *checker) dashboard(where string, d map[string]any) {
	title, _ := d["title"].(string)
	if _, ok := d["panels"].([]any); !ok {
		c.errorf("%s: not a Grafana dashboard (no panels)", where)
		return
	}
	intervals := map[string]bool{}
	var queries []map[string]any
	if t, ok := d["templating"].(map[string]any); ok {
		list, _ := t["list"].([]any)
		for _, v := range list {
			v, _ := v.(map[string]any)
			name, _ := v["name"].(string)
			switch v["type"] {
			case "interval":
				intervals[name] = true
			case "query":
				queries = append(queries, v)
			}
		}
	}
	rep := DashboardReport{File: where, Title: title}
	seen := map[string]bool{}
	add := func(what, expr string) {
		rep.Exprs++
		for _, n := range c.expr(where+": "+what, substitute(expr, intervals)) {
			seen[n] = true
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if expr, ok := v["expr"].(string); ok && isPrometheus(v) {
				if strings.TrimSpace(expr) == "" {
					c.errorf("%s: %s: empty expr", where, path)
				} else {
					add(path, expr)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				if k != "templating" {
					walk(path+"."+k, v[k])
				}
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", d)
	for _, q := range queries {
		name, _ := q["name"].(string)
		query := q["query"]
		if m, ok := query.(map[string]any); ok {
			query = m["query"]
		}
		s, _ := query.(string)
		if expr, ok := variableQuery(s); ok {
			add("variable "+name, expr)
		}
	}
	rep.Metrics = sortedKeys(seen)
	c.rep.Dashboards = append(c.rep.Dashboards, rep)
}

// isPrometheus: a target whose datasource is not Prometheus (Loki also has
// expr) is not PromQL.
func isPrometheus(target map[string]any) bool {
	ds, ok := target["datasource"].(map[string]any)
	if !ok {
		return true
	}
	t, ok := ds["type"].(string)
	return !ok || t == "prometheus" || t == "datasource"
}

var (
	labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	queryResult = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// variableQuery returns the PromQL inside a Prometheus query variable:
// label_values(selector, label) and query_result(expr). label_names() and
// label_values(label) select no metric.
func variableQuery(q string) (string, bool) {
	if m := labelValues.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	if m := queryResult.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	return "", false
}

// grafanaVariable matches $name, ${name}, ${name:format} and [[name]].
var grafanaVariable = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]`)

// substitute replaces Grafana variables with values Grafana could give
// them: durations for the interval ones, numbers for the _ms/_s built-ins,
// a plain word for the others (label values inside quoted matchers).
func substitute(expr string, intervals map[string]bool) string {
	return grafanaVariable.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVariable.FindStringSubmatch(v)
		name := m[1] + m[2] + m[3]
		switch {
		case strings.HasPrefix(name, "__") && (strings.HasSuffix(name, "_ms") || strings.HasSuffix(name, "_s")):
			return "300"
		case intervals[name], strings.HasPrefix(name, "__") && (strings.Contains(name, "interval") || strings.Contains(name, "range")):
			return "5m"
		default:
			return "value"
		}
	})
}

// expr parses a PromQL expression and returns the metric names it
// selects.
func (c *checker) expr(where, expr string) []string {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		c.errorf("%s: %q: %v", where, expr, err)
		return nil
	}
	seen := map[string]bool{}
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel {
				continue
			}
			if m.Type != labels.MatchEqual || (name != "" && m.Value != name) {
				c.errorf("%s: %s: the metric name is not one fixed name", where, vs)
				return nil
			}
			name = m.Value
		}
		if name == "" {
			c.errorf("%s: %s: selects no fixed metric name", where, vs)
			return nil
		}
		seen[name] = true
		c.names[name] = true
		return nil
	})
	return sortedKeys(seen)
}

func sortedKeys(m map[string]bool) []string {
	return append([]string{}, slices.Sorted(maps.Keys(m))...)
}
