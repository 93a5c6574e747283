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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

const convertTestURI = "prod=https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"

func convertFixture(name string) string { return filepath.Join("testdata", "conjur", name) }

func TestConvertRealisticPolicy(t *testing.T) {
	reportFile := filepath.Join(t.TempDir(), "report.md")
	code, out, errOut := runCapture(t, "", "convert", "conjur-policy", "--namespace-for", "apps=payments",
		"--provider-uri", convertTestURI, "--report", reportFile,
		convertFixture("root.yml"), convertFixture("apps.yml"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("with --report, nothing goes to stderr; got %q", errOut)
	}
	report, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "convert-realistic.yaml", out)
	checkGolden(t, "convert-realistic-report.md", strings.ReplaceAll(string(report), filepath.ToSlash(convertFixture("")), ""))

	hosts := convertDecodeHosts(t, out)
	uai := hosts["user-assigned-identity-app"]
	if uai == nil {
		t.Fatalf("no user-assigned-identity-app in %v", hosts)
	}
	// authn-azure/prod/resource-group must win over authn-azure/resource-group.
	if uai.Spec.ResourceGroup != "rg-payments" || uai.Spec.UserAssignedIdentity != "ledger-identity" {
		t.Errorf("service-scoped precedence lost: %+v", uai.Spec)
	}
	if strings.Join(uai.Spec.AllowedCIDRs, ",") != "10.20.0.0/16,192.0.2.7" {
		t.Errorf("restricted_to → allowedCIDRs: %v", uai.Spec.AllowedCIDRs)
	}
	for name, h := range hosts {
		if h.Namespace != "payments" || h.Labels[convertLabelPrefix+"/prod"] != "authenticate" {
			t.Errorf("%s: namespace %q labels %v", name, h.Namespace, h.Labels)
		}
	}
	if len(hosts) != 3 {
		t.Errorf("want 3 hosts, got %d", len(hosts))
	}
}

func TestConvertMessyPolicyIsIncomplete(t *testing.T) {
	code, out, errOut := runCapture(t, "", "convert", "conjur-policy", "--namespace-for", "team-a=ns-a", "--namespace-for", "team-b=ns-b",
		"--provider-uri", convertTestURI, convertFixture("messy.yml"))
	if code != exitIncomplete {
		t.Fatalf("exit %d, want %d: %s", code, exitIncomplete, errOut)
	}
	checkGolden(t, "convert-messy-report.md", strings.ReplaceAll(errOut, filepath.ToSlash(convertFixture("")), ""))
	hosts := convertDecodeHosts(t, out)
	for _, refused := range []string{"typo", "no-rg", "both-identities", "two-services", "plain-host"} {
		if hosts[refused] != nil {
			t.Errorf("host %s must not be written", refused)
		}
	}
	if !strings.Contains(out, convertPlaceholderURI) {
		t.Errorf("the dev authenticator must carry the placeholder URI")
	}
	for _, want := range []string{
		"unknown annotation `authn-azure/subscription-ir`",
		"host/ns-b/ok may fetch it, but it lives in another namespace",
		"no --provider-uri dev=URI",
		"`!deny [execute] on [variable:team-a/secret]`",
		"user:alice is not a host",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// An unknown authn-azure annotation alone must stop the host and the exit code.
func TestConvertUnknownAnnotation(t *testing.T) {
	policy := `
- !host
  id: app
  annotations:
    authn-azure/prod/subscription-id: 11111111-2222-3333-4444-555555555555
    authn-azure/resource-group: rg
    authn-azure/prod/resource-grop: rg
`
	code, out, errOut := runCapture(t, policy, "convert", "conjur-policy", "-")
	if code != exitIncomplete || strings.Contains(out, "kind: AzureHost") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "authn-azure/prod/resource-grop") {
		t.Errorf("report does not name the annotation: %s", errOut)
	}
}

// Conjur: the service-scoped annotation wins whatever the order, and blank
// annotation values are ignored.
func TestConvertPrecedenceAndBlankValues(t *testing.T) {
	policy := `
- !policy
  id: conjur/authn-azure/prod
  body:
  - !webservice
  - !variable provider-uri
  - !permit
    role: !host /vm
    privilege: authenticate
    resource: !webservice
- !host
  id: vm
  annotations:
    authn-azure/prod/resource-group: rg-scoped
    authn-azure/resource-group: rg-general
    authn-azure/subscription-id: 11111111-2222-3333-4444-555555555555
    authn-azure/prod/subscription-id: ""
    authn-azure/user-assigned-identity: "  "
`
	code, out, errOut := runCapture(t, policy, "convert", "conjur-policy", "-n", "team", "-o", "json", "--provider-uri", convertTestURI, "-")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list struct{ Items []map[string]any }
	if err := yaml.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("want a List of 2: %v\n%s", err, out)
	}
	b, _ := yaml.Marshal(list.Items[1])
	var h authnv1alpha1.AzureHost
	if err := yaml.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.Namespace != "team" || h.Spec.ResourceGroup != "rg-scoped" || h.Spec.SubscriptionID != "11111111-2222-3333-4444-555555555555" || h.Spec.UserAssignedIdentity != "" {
		t.Errorf("got %s/%s %+v", h.Namespace, h.Name, h.Spec)
	}
	if !strings.Contains(errOut, "| `host/vm` | `host/team/vm` |") {
		t.Errorf("report lacks the login mapping:\n%s", errOut)
	}
}

func TestConvertUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("- !host\n  id: a\n  colour: red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notList := filepath.Join(dir, "map.yml")
	if err := os.WriteFile(notList, []byte("host: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"convert"}, "usage:"},
		{"other format", []string{"convert", "hcl", "x"}, "usage:"},
		{"no file", []string{"convert", "conjur-policy"}, "at least one policy FILE"},
		{"missing file", []string{"convert", "conjur-policy", filepath.Join(dir, "nope.yml")}, "reading policy"},
		{"unknown attribute", []string{"convert", "conjur-policy", bad}, `bad.yml:3: unknown attribute "colour"`},
		{"not a list", []string{"convert", "conjur-policy", notList}, "a policy is a list of statements"},
		{"untagged", []string{"convert", "conjur-policy", "-"}, "needs a tag"},
		{"bad namespace", []string{"convert", "conjur-policy", "--namespace-for", "a=Not_A_NS", bad}, "--namespace-for"},
		{"bad provider-uri", []string{"convert", "conjur-policy", "--provider-uri", "prod", bad}, "want ID=URI"},
		{"unknown service", []string{"convert", "conjur-policy", "--provider-uri", "nope=https://x/", convertFixture("root.yml")}, "no webservice conjur/authn-azure/nope"},
		{"bad output", []string{"convert", "conjur-policy", "-o", "xml", bad}, "--output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCapture(t, "- id: x\n", tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, out %q, err %q; want exit %d and %q", code, out, errOut, exitUsage, tc.want)
			}
		})
	}
}

// convertTestCA writes a self-signed CA certificate as PEM and returns the
// file and its content.
func convertTestCA(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "convert-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, []byte(pemText), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, pemText
}

// --ca-bundle ID=FILE puts the file's PEM into the provider of that
// service's authenticator and nowhere else.
func TestConvertCABundle(t *testing.T) {
	caFile, caPEM := convertTestCA(t)
	code, out, errOut := runCapture(t, "", "convert", "conjur-policy", "--namespace-for", "apps=payments",
		"--provider-uri", convertTestURI, "--ca-bundle", "prod="+caFile, "--report", filepath.Join(t.TempDir(), "r.md"),
		convertFixture("root.yml"), convertFixture("apps.yml"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var auths []authnv1alpha1.AzureAuthenticator
	for _, doc := range strings.Split(out, "\n---\n") {
		if !strings.Contains(doc, "kind: AzureAuthenticator\n") {
			continue
		}
		var a authnv1alpha1.AzureAuthenticator
		if err := yaml.UnmarshalStrict([]byte(doc), &a); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		auths = append(auths, a)
	}
	if len(auths) != 1 || len(auths[0].Spec.Providers) != 1 {
		t.Fatalf("want one authenticator with one provider, got %+v", auths)
	}
	if p := auths[0].Spec.Providers[0]; p.CABundle != caPEM || p.URI != strings.TrimPrefix(convertTestURI, "prod=") {
		t.Errorf("provider = %+v, want the URI and the file's PEM", p)
	}
	if strings.Count(out, "caBundle:") != 1 {
		t.Errorf("caBundle written more than once:\n%s", out)
	}
}

func TestConvertCABundleUsageErrors(t *testing.T) {
	caFile, _ := convertTestCA(t)
	dir := t.TempDir()
	keyOnly := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyOnly, []byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.pem")
	if err := os.WriteFile(damaged, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := convertFixture("root.yml")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no ID", []string{"--ca-bundle", caFile}, "want ID=FILE"},
		{"empty file name", []string{"--ca-bundle", "prod="}, "want ID=FILE"},
		{"unknown service", []string{"--ca-bundle", "nope=" + caFile}, "no webservice conjur/authn-azure/nope"},
		{"unreadable file", []string{"--ca-bundle", "prod=" + filepath.Join(dir, "missing.pem")}, "--ca-bundle prod:"},
		{"no CERTIFICATE block", []string{"--ca-bundle", "prod=" + keyOnly}, "holds no PEM CERTIFICATE block"},
		{"damaged certificate", []string{"--ca-bundle", "prod=" + damaged}, "holds no PEM CERTIFICATE block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"convert", "conjur-policy", "--provider-uri", convertTestURI}, tc.args...)
			code, out, errOut := runCapture(t, "", append(args, root)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, out %q, err %q; want exit %d and %q", code, out, errOut, exitUsage, tc.want)
			}
		})
	}
}

func TestResolvePolicyID(t *testing.T) {
	for _, tc := range []struct{ branch, id, want string }{
		{"", "a", "a"},
		{"apps", "a", "apps/a"},
		{"apps", "/conjur/x", "conjur/x"},
		{"apps", "", "apps"},
		{"a/b", "c/d", "a/b/c/d"},
	} {
		if got := resolvePolicyID(tc.branch, tc.id); got != tc.want {
			t.Errorf("resolvePolicyID(%q, %q) = %q, want %q", tc.branch, tc.id, got, tc.want)
		}
	}
}

func convertDecodeHosts(t *testing.T, stream string) map[string]*authnv1alpha1.AzureHost {
	t.Helper()
	hosts := map[string]*authnv1alpha1.AzureHost{}
	for _, doc := range strings.Split(stream, "\n---\n") {
		if !strings.Contains(doc, "kind: AzureHost\n") {
			continue
		}
		var h authnv1alpha1.AzureHost
		if err := yaml.UnmarshalStrict([]byte(doc), &h); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		hosts[h.Name] = &h
	}
	return hosts
}
