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
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// setJSON is a --set-json flag setting path to v.
func setJSON(t testing.TB, path string, v any) string {
	t.Helper()
	return "--set-json=" + path + "=" + mustJSON(t, v)
}

// schemaError renders values that the schema must refuse at path (a JSON
// pointer such as /authenticator/tls/sans/0) and fails t otherwise.
func schemaError(t testing.TB, pointer string, values ...string) {
	t.Helper()
	msg := renderError(t, values...)
	if !strings.Contains(msg, "specifications of the schema") || !strings.Contains(msg, "'"+pointer+"'") {
		t.Errorf("%v: want a schema error at %s, got: %s", values, pointer, msg)
	}
}

// schemaPointer matches the JSON pointer of each entry of helm's schema
// error ("- at '/authenticator/tls/sans/0': ...").
var schemaPointer = regexp.MustCompile(`(?m)^\s*- at '([^']*)'`)

// schemaRefusals renders values and returns the JSON pointers the schema
// refuses (helm lists every failing value, and its parents); none when the
// values render. Any other error fails t.
func schemaRefusals(t testing.TB, values ...string) map[string]bool {
	t.Helper()
	refused := map[string]bool{}
	_, err := helmTemplate(t, defaultRelease, defaultNamespace, values...)
	if err == nil {
		return refused
	}
	if !strings.Contains(err.Error(), "specifications of the schema") {
		t.Fatalf("not a schema error: %v", err)
	}
	for _, m := range schemaPointer.FindAllStringSubmatch(err.Error(), -1) {
		refused[m[1]] = true
	}
	return refused
}

// refusedAt reports whether pointer, or something under it, is refused.
func refusedAt(refused map[string]bool, pointer string) bool {
	for r := range refused {
		if r == pointer || strings.HasPrefix(r, pointer+"/") {
			return true
		}
	}
	return false
}

// TestTrustedProxiesNeedNetworkPolicy: X-Forwarded-For is believed from
// trustedProxies only when a NetworkPolicy limits who reaches 9443.
func TestTrustedProxiesNeedNetworkPolicy(t *testing.T) {
	proxies := "authenticator.trustedProxies={10.244.0.0/16}"
	for _, tc := range []struct {
		name   string
		values []string
	}{
		{"no NetworkPolicy", []string{proxies}},
		{"NetworkPolicy open to any source", []string{proxies, "authenticator.networkPolicy.enabled=true"}},
		{"authenticatorFrom but no NetworkPolicy", []string{"testdata/ingress.yaml", "authenticator.networkPolicy.enabled=false"}},
		{"NetworkPolicy, authenticatorFrom emptied", []string{"testdata/ingress.yaml", "authenticator.networkPolicy.authenticatorFrom=null"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := renderError(t, tc.values...)
			for _, want := range []string{
				"authenticator.trustedProxies (10.244.0.0/16", "authenticator.networkPolicy.enabled=true",
				"non-empty authenticator.networkPolicy.authenticatorFrom", "port 9443", "could forge it", "podSelector/namespaceSelector",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not say %q: %s", want, msg)
				}
			}
		})
	}
	t.Run("accepted CIDRs", func(t *testing.T) {
		t.Parallel()
		good := []string{"10.244.0.0/16", "fd00:10:244::/56", "10.0.0.5/32", "2001:db8::1/128", "192.168.0.0/1"}
		args := managerArgs(t, render(t, "testdata/ingress.yaml", setJSON(t, "authenticator.trustedProxies", good)).get(t, "Deployment", "azure-authenticator"))
		if got, _ := flagValue(args, "trusted-proxies"); got != strings.Join(good, ",") {
			t.Errorf("--trusted-proxies=%q, want %q", got, strings.Join(good, ","))
		}
	})
	t.Run("refused by the schema", func(t *testing.T) {
		t.Parallel()
		bad := []string{
			"0.0.0.0/0", "::/0", "10.0.0.0/0", // everything
			"10.0.0.1", "fd00::1", // no prefix length
			"10.0.0.0/33", "fd00::/129", "256.0.0.0/8",
			"proxy.example.com", "10.0.0.0/8,10.1.0.0/16", " 10.0.0.0/8", "10.0.0.0/8\n",
		}
		refused := schemaRefusals(t, "testdata/ingress.yaml", setJSON(t, "authenticator.trustedProxies", bad))
		for i, s := range bad {
			if !refused[fmt.Sprintf("/authenticator/trustedProxies/%d", i)] {
				t.Errorf("%q not refused", s)
			}
		}
	})
}

// TestSANsArePlainNames: certificate names are plain DNS names or IP
// addresses, as the schema says.
func TestSANsArePlainNames(t *testing.T) {
	certManager := []string{"testdata/cert-manager.yaml"}
	ingress := []string{"authenticator.ingress.enabled=true"}
	dns := []string{"authn.example.com", "Authn.Example.COM", "localhost", "a-b.c1.example", "xn--bcher-kva.example"}
	notDNS := []string{
		"*.example.com", "https://authn.example.com", "authn.example.com:443", "authn.example.com/path",
		"a.example.com,b.example.com", "authn.example.com.", "-authn.example.com", "authn_1.example.com",
		"authn .example.com", "", "authn.example.com\n", strings.Repeat("a", 64) + ".example.com",
	}
	ips := []string{"10.20.0.50", "0.0.0.0", "255.255.255.255", "fd00::50", "2001:db8:0:0:0:0:0:1", "::1"}
	notIP := []string{"10.20.0.256", "10.20.0", "10.20.0.50/32", "fd00::/64", "10.20.0.50:443", "[fd00::50]", "01.2.3.4"}
	for _, tc := range []struct {
		path, pointer string
		list          bool
		base          []string
		good, bad     []string
	}{
		{"authenticator.tls.sans", "/authenticator/tls/sans", true, nil, append(slices.Clone(dns), ips...), append(slices.Clone(notDNS), notIP...)},
		{"authenticator.tls.certManager.dnsNames", "/authenticator/tls/certManager/dnsNames", true, certManager, dns, append(slices.Clone(notDNS), "10.20.0.50")},
		{"authenticator.tls.certManager.ipAddresses", "/authenticator/tls/certManager/ipAddresses", true, certManager, ips, append(slices.Clone(notIP), "authn.example.com", "")},
		{"authenticator.ingress.host", "/authenticator/ingress/host", false, ingress, dns[:2], notDNS[:6]},
		{"authenticator.service.loadBalancerIP", "/authenticator/service/loadBalancerIP", false, []string{"authenticator.service.type=LoadBalancer"}, ips[:1], notIP[:3]},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			if tc.list {
				// One render for all: helm lists every refused item.
				if _, err := helmTemplate(t, defaultRelease, defaultNamespace, append(slices.Clone(tc.base), setJSON(t, tc.path, tc.good))...); err != nil {
					t.Errorf("%q refused: %v", tc.good, err)
				}
				refused := schemaRefusals(t, append(slices.Clone(tc.base), setJSON(t, tc.path, tc.bad))...)
				for i, s := range tc.bad {
					if !refused[fmt.Sprintf("%s/%d", tc.pointer, i)] {
						t.Errorf("%q not refused", s)
					}
				}
				return
			}
			for _, s := range tc.good {
				if _, err := helmTemplate(t, defaultRelease, defaultNamespace, append(slices.Clone(tc.base), setJSON(t, tc.path, s))...); err != nil {
					t.Errorf("%q refused: %v", s, err)
				}
			}
			for _, s := range tc.bad {
				schemaError(t, tc.pointer, append(slices.Clone(tc.base), setJSON(t, tc.path, s))...)
			}
		})
	}
}

// TestExtraArgsCannotOverrideChartFlags: extraArgs may not repeat a flag the
// chart sets, in any spelling Go's flag package reads.
func TestExtraArgsCannotOverrideChartFlags(t *testing.T) {
	// flag -> a value the error must name.
	owned := map[string]string{
		"leader-elect": "leaderElection.enabled", "leader-election-id": "fullnameOverride",
		"leader-election-lease-duration": "leaderElection.leaseDuration", "leader-election-renew-deadline": "leaderElection.renewDeadline",
		"leader-election-retry-period": "leaderElection.retryPeriod", "health-probe-bind-address": "8081",
		"metrics-bind-address": "metrics.enabled", "metrics-secure": "metrics.secure", "authn-bind-address": "9443",
		"account": "authenticator.account", "zap-log-level": "authenticator.logLevel",
		"audit-log": "authenticator.auditLog", "trusted-proxies": "authenticator.trustedProxies",
		"max-in-flight": "authenticator.maxInFlight", "max-connections": "authenticator.maxConnections",
		"max-staleness": "authenticator.maxStaleness", "provider-key-refresh": "authenticator.providerKeyRefresh",
		"verified-token-cache": "authenticator.verifiedTokenCache",
		"secret-namespaces":    "authenticator.secretNamespaces", "signing-key-secret": "fullnameOverride",
		"tls-secret": "authenticator.tls.mode", "tls-sans": "authenticator.tls.sans", "tls-ca-configmap": "fullnameOverride",
		"tls-cert-file": "authenticator.tls.mode=existingSecret", "tls-key-file": "authenticator.tls.mode=existingSecret",
	}
	// Every flag the chart renders, in any mode, is in the list.
	for _, values := range [][]string{nil, {"testdata/cert-manager.yaml"}, {"testdata/ingress.yaml"}, {"testdata/secret-namespaces.yaml"}} {
		for _, arg := range managerArgs(t, render(t, values...).get(t, "Deployment", "azure-authenticator")) {
			name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if _, ok := owned[name]; !ok {
				t.Errorf("the chart sets --%s (values %v), which the test's list of owned flags lacks", name, values)
			}
		}
	}
	forms := []func(string) string{
		func(f string) string { return "--" + f + "=x" },
		func(f string) string { return "--" + f },
		func(f string) string { return "-" + f + "=x" },
		func(f string) string { return "-" + f },
	}
	var cases [][2]string // arg, wanted hint
	i := 0
	for _, flag := range keys(owned) {
		cases = append(cases, [2]string{forms[i%len(forms)](flag), owned[flag]})
		i++
	}
	for _, form := range forms {
		cases = append(cases, [2]string{form("trusted-proxies"), "authenticator.trustedProxies"}, [2]string{form("leader-elect"), "leaderElection.enabled"})
	}
	cases = append(cases, [2]string{"--trusted-proxies=0.0.0.0/0", "authenticator.trustedProxies"}, [2]string{"--tls-sans=", "authenticator.tls.sans"})
	for _, c := range cases {
		t.Run(c[0], func(t *testing.T) {
			t.Parallel()
			name, _, _ := strings.Cut(strings.TrimLeft(c[0], "-"), "=")
			msg := renderError(t, setJSON(t, "extraArgs", []string{"--enable-http2", c[0]}))
			for _, want := range []string{fmt.Sprintf("extraArgs entry %q", c[0]), "sets --" + name + ", which the chart sets itself", c[1]} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not say %q: %s", want, msg)
				}
			}
		})
	}
	t.Run("other flags pass", func(t *testing.T) {
		t.Parallel()
		extra := []string{"--enable-http2", "--zap-encoder=console", "-zap-stacktrace-level=panic", "--leader-elect-renew=x", "--accounts"}
		args := managerArgs(t, render(t, setJSON(t, "extraArgs", extra)).get(t, "Deployment", "azure-authenticator"))
		if got := args[len(args)-len(extra):]; !slices.Equal(got, extra) {
			t.Errorf("args end with %q, want %q", got, extra)
		}
	})
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGracefulDrain: a preStop sleep keeps a stopping Pod serving while the
// endpoints and load balancers forget it, within the grace period.
func TestGracefulDrain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		sleep  int64 // 0: no lifecycle
		grace  int64
	}{
		{"defaults", nil, 5, 30},
		{"disabled", []string{"terminationDelaySeconds=0"}, 0, 30},
		{"longer, grace just enough", []string{"terminationDelaySeconds=15", "terminationGracePeriodSeconds=25"}, 15, 25},
		{"short grace without delay", []string{"terminationDelaySeconds=0", "terminationGracePeriodSeconds=10"}, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dep := render(t, tc.values...).get(t, "Deployment", "azure-authenticator")
			if got := normalize(field(dep.Object, "spec", "template", "spec", "terminationGracePeriodSeconds")); got != tc.grace {
				t.Errorf("terminationGracePeriodSeconds %v, want %d", got, tc.grace)
			}
			c := container(t, dep, "manager")
			if tc.sleep == 0 {
				if c["lifecycle"] != nil {
					t.Errorf("lifecycle %v, want none", c["lifecycle"])
				}
				return
			}
			if got := normalize(field(c, "lifecycle", "preStop", "sleep", "seconds")); got != tc.sleep {
				t.Errorf("preStop %v, want a sleep of %d seconds", c["lifecycle"], tc.sleep)
			}
		})
	}
	t.Run("grace too short", func(t *testing.T) {
		t.Parallel()
		for _, values := range [][]string{{"terminationDelaySeconds=25"}, {"terminationGracePeriodSeconds=14"}, {"terminationDelaySeconds=0", "terminationGracePeriodSeconds=9"}} {
			if msg := renderError(t, values...); !strings.Contains(msg, "must be at least terminationDelaySeconds=") || !strings.Contains(msg, "preStop sleep counts against the grace period") {
				t.Errorf("%v: %s", values, msg)
			}
		}
		schemaError(t, "/terminationDelaySeconds", "terminationDelaySeconds=-1")
		schemaError(t, "/terminationGracePeriodSeconds", "terminationGracePeriodSeconds=0")
	})
}

// stringValue is a value the schema types as a string, a list of strings
// or a map of strings.
type stringValue struct {
	path string // dotted, for --set-json
	kind string // "string", "list" or "map"
}

// schemaStrings lists the string values of a schema, sorted by path.
func schemaStrings(schema map[string]any, prefix string) []stringValue {
	var out []stringValue
	props, _ := schema["properties"].(map[string]any)
	for _, key := range keys(props) {
		p, _ := props[key].(map[string]any)
		path := prefix + key
		if _, ok := p["properties"]; ok {
			out = append(out, schemaStrings(p, path+".")...)
			continue
		}
		types := schemaTypes(p)
		if slices.Contains(types, "string") {
			out = append(out, stringValue{path, "string"})
		}
		if items, ok := p["items"].(map[string]any); ok && slices.Contains(types, "array") && slices.Contains(schemaTypes(items), "string") {
			out = append(out, stringValue{path, "list"})
		}
		if ap, ok := p["additionalProperties"].(map[string]any); ok && slices.Contains(types, "object") && slices.Contains(schemaTypes(ap), "string") {
			out = append(out, stringValue{path, "map"})
		}
	}
	return out
}

// activation are the values that make the chart render a value, by path
// prefix (the first match wins).
var activation = []struct {
	prefix string
	values []string
}{
	{"authenticator.tls.certManager.", []string{"authenticator.tls.mode=certManager", "authenticator.tls.certManager.issuerRef.name=ca"}},
	{"authenticator.tls.existingSecret", []string{"authenticator.tls.mode=existingSecret"}},
	{"authenticator.ingress.", []string{"authenticator.ingress.enabled=true", "authenticator.ingress.host=a.example.com"}},
	{"authenticator.service.", []string{"authenticator.service.type=LoadBalancer"}},
	{"authenticator.extraCABundle.", []string{"authenticator.extraCABundle.configMapName=ca"}},
	{"authenticator.trustedProxies", []string{"testdata/ingress.yaml"}},
	{"metrics.serviceMonitor.", []string{"metrics.serviceMonitor.enabled=true"}},
	{"metrics.prometheusRule.", []string{"metrics.prometheusRule.enabled=true"}},
	{"metrics.dashboard.", []string{"metrics.dashboard.enabled=true"}},
	{"admissionPolicy.", []string{"admissionPolicy.enabled=true"}},
	{"podDisruptionBudget.maxUnavailable", []string{"podDisruptionBudget.minAvailable=null"}},
}

// notInjectable are string values deliberately rendered as YAML.
var notInjectable = map[string]string{
	"extraObjects": "objects of the user's own, rendered with tpl by design",
}

// TestNoInjectionThroughValues: a string value holding a line break and YAML
// (or a flow mapping) is refused by the schema or rendered as a plain
// string, never as keys of its own. Every string value of the schema is
// tried, so that a new one is covered as soon as it is added.
func TestNoInjectionThroughValues(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir(), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	values := schemaStrings(schema, "")
	if len(values) < 40 {
		t.Fatalf("only %d string values found in the schema: %v", len(values), values)
	}
	// The key each payload would inject. Any line break in a value that is
	// neither quoted nor refused breaks the YAML or injects the key; a flow
	// mapping injects it without one. Both begin and end (after a YAML
	// comment) like a valid value, to pass a pattern anchored at one end
	// only (such as "^$|(<duration>)$").
	payloads := map[string]string{
		"x\n  isCA: true # 1h":  "isCA",
		"{injected: true} # 1h": "injected",
	}
	value := func(v stringValue, payload string) any {
		switch v.kind {
		case "list":
			return []string{payload}
		case "map":
			return map[string]string{"example.com/injection": payload}
		}
		return payload
	}
	// First every value at once: those the schema refuses need no render
	// of their own.
	refused := map[string]map[string]bool{}
	for payload := range payloads {
		var all []string
		for _, v := range values {
			if _, ok := notInjectable[v.path]; !ok {
				all = append(all, setJSON(t, v.path, value(v, payload)))
			}
		}
		refused[payload] = schemaRefusals(t, all...)
	}
	for _, v := range values {
		if reason, ok := notInjectable[v.path]; ok {
			t.Logf("%s not tried: %s", v.path, reason)
			continue
		}
		// helm applies --set after --set-json: leave out what sets v itself.
		var base []string
		for _, a := range activation {
			if strings.HasPrefix(v.path, a.prefix) {
				for _, value := range a.values {
					if !strings.HasPrefix(value, v.path+"=") {
						base = append(base, value)
					}
				}
				break
			}
		}
		for _, payload := range keys(payloads) {
			key := payloads[payload]
			if refusedAt(refused[payload], "/"+strings.ReplaceAll(v.path, ".", "/")) {
				continue
			}
			t.Run(fmt.Sprintf("%s=%q", v.path, payload), func(t *testing.T) {
				t.Parallel()
				out, err := helmTemplate(t, defaultRelease, defaultNamespace, append(slices.Clone(base), setJSON(t, v.path, value(v, payload)))...)
				if err != nil {
					t.Fatalf("neither refused by the schema nor rendered: %v", err)
				}
				objs := decode(t, out)
				var found bool
				for _, obj := range objs {
					if p := findKey(obj.Object, key, ""); p != "" {
						t.Errorf("%s/%s: the value became the key %s", obj.GetKind(), obj.GetName(), p)
					}
					found = found || holdsString(obj.Object, strings.TrimPrefix(payload, "x\n"))
				}
				if !found {
					t.Errorf("rendered, but no object holds the value as a string: is the value rendered with %v?", base)
				}
			})
		}
	}
}

// findKey returns the path of a map key named key anywhere in v, or "".
func findKey(v any, key, path string) string {
	switch n := v.(type) {
	case map[string]any:
		for k, e := range n {
			if k == key {
				return path + "." + k
			}
			if p := findKey(e, key, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range n {
			if p := findKey(e, key, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// holdsString reports whether some string (or map key) in v contains s, as
// itself or JSON-escaped (in a CEL expression).
func holdsString(v any, s string) bool {
	b, _ := json.Marshal(s)
	escaped := strings.Trim(string(b), `"`)
	switch n := v.(type) {
	case string:
		return strings.Contains(n, s) || strings.Contains(n, escaped)
	case map[string]any:
		for k, e := range n {
			if strings.Contains(k, s) || holdsString(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range n {
			if holdsString(e, s) {
				return true
			}
		}
	}
	return false
}
