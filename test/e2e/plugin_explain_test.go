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
	"bytes"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

// pluginExplainRun runs explain with the token on stdin and returns its
// output and exit code.
func pluginExplainRun(t *testing.T, bin, service, login, token, clientIP string, extra ...string) (string, int) {
	t.Helper()
	args := append([]string{"explain", "--kubeconfig", env.Kubeconfig, "--service", service, "--login", login}, extra...)
	if clientIP != "" {
		args = append(args, "--client-ip", clientIP)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(token)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("running explain: %v", err)
	return "", -1
}

// pluginExplainCase is one token sent both to the server and to explain.
type pluginExplainCase struct {
	name           string
	service, login string
	token          string
	clientIP       string // for explain; the server sees 127.0.0.1
	code           string // the server's audit code; "" for a 200
	check          string // the check explain must mark as the server's answer
}

// The agreement test: for each case the server answers, explain marks as
// the server's answer a failed check of that code (and the check the case
// names), or passes every check when the server answers 200.
func TestPluginExplainAgreesWithTheServer(t *testing.T) {
	bin := pluginBinary(t)
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	vm2 := f.vm("rg-apps", "vm-2")
	uai := azuretest.UserAssigned(f.tenant, subscription, "rg-ids", "id-app", vm.MIRID)
	otherUAI := azuretest.UserAssigned(f.tenant, subscription, "rg-ids", "id-other", vm.MIRID)
	uaiOnVM2 := azuretest.UserAssigned(f.tenant, subscription, "rg-ids", "id-app", vm2.MIRID)
	otherTenant := newTenant()

	f.host("rg", rgSpec("rg-apps"))
	f.host("sys", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: vm.ObjectID})
	f.host("uai", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-ids", UserAssignedIdentity: "id-app"})
	f.host("pinned", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-ids", UserAssignedIdentity: "id-app", ResourceID: vm.MIRID})
	f.host("tenant-pinned", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", TenantID: otherTenant})
	f.host("cidr", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", AllowedCIDRs: []string{"10.0.0.0/8"}})
	f.host("loopback", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", AllowedCIDRs: []string{"127.0.0.0/8"}})
	f.host("other-sub", authnv1alpha1.AzureHostSpec{SubscriptionID: "11111111-2222-4333-8444-555555555555", ResourceGroup: "rg-apps"})

	// Admission: a host selector the host does not match, and a namespace
	// the authenticator does not select.
	sel := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) {
		a.Spec.AllowedHosts.HostSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}
	})
	sel.host("unlabelled", rgSpec("rg-apps"))
	outside := &fixture{t: t, ns: f.ns + "-outside", service: f.service, tenant: f.tenant}
	create(t, nsObject(outside.ns))
	outside.host("app", rgSpec("rg-apps"))
	disabled := newFixture(t, func(a *authnv1alpha1.AzureAuthenticator) { a.Spec.Enabled = ptr.To(false) })
	disabled.host("app", rgSpec("rg-apps"))

	good := azure.Claims(vm, azuretest.TokenOptions{})
	with := func(k string, v any) string {
		c := clone(good)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return azure.Sign(c)
	}
	token := azure.Token(vm, azuretest.TokenOptions{})
	now := time.Now()
	cases := []pluginExplainCase{
		{name: "resource-group host accepts", login: f.login("rg"), token: token},
		{name: "system-assigned host accepts", login: f.login("sys"), token: token},
		{name: "user-assigned host accepts", login: f.login("uai"), token: azure.Token(uai, azuretest.TokenOptions{})},
		{name: "resource pin accepts", login: f.login("pinned"), token: azure.Token(uai, azuretest.TokenOptions{})},
		{name: "CIDRs admit the client", login: f.login("loopback"), token: token, clientIP: "127.0.0.1"},
		{name: "garbage", login: f.login("rg"), token: "invalidAzureToken", code: "CONJ00077E", check: "token format"},
		{name: "JWE", login: f.login("rg"), token: "a.b.c.d.e", code: "CONJ00077E", check: "token format"},
		{name: "alg none", login: f.login("rg"), token: azuretest.Segment(map[string]any{"typ": "JWT", "alg": "none"}) + "." + azuretest.Segment(good) + ".x", code: "CONJ00035E", check: "token format"},
		{name: "no kid", login: f.login("rg"), token: azure.SignWithHeader(map[string]any{"typ": "JWT", "alg": "RS256"}, good), code: "CONJ00035E", check: "token format"},
		{name: "no iss", login: f.login("rg"), token: with("iss", nil), code: "CONJ00051E", check: "issuer names a provider"},
		{name: "issuer of another tenant", login: f.login("rg"), token: with("iss", azure.IssuerV1(otherTenant)), code: "CONJ00035E", check: "issuer names a provider"},
		{name: "missing oid", login: f.login("rg"), token: with("oid", nil), code: "CONJ00051E", check: "claims present"},
		{name: "numeric xms_mirid", login: f.login("rg"), token: with("xms_mirid", 42), code: "CONJ00051E", check: "claims present"},
		{name: "exp as a string", login: f.login("rg"), token: with("exp", "2000000000"), code: "CONJ00051E", check: "claims present"},
		{name: "tid of another tenant", login: f.login("rg"), token: with("tid", otherTenant), code: "AZAUTH002E", check: "tenant of the issuer"},
		{name: "no aud", login: f.login("rg"), token: with("aud", nil), code: "CONJ00051E", check: "audience"},
		{name: "wrong audience", login: f.login("rg"), token: azure.Token(vm, azuretest.TokenOptions{Audience: "https://vault.azure.net"}), code: "AZAUTH001E", check: "audience"},
		{name: "expired", login: f.login("rg"), token: azure.Token(vm, azuretest.TokenOptions{IssuedAt: now.Add(-25 * time.Hour)}), code: "CONJ00016E", check: "time window"},
		{name: "not yet valid", login: f.login("rg"), token: with("nbf", now.Add(10*time.Minute).Unix()), code: "CONJ00035E", check: "time window"},
		{name: "issued in the future", login: f.login("rg"), token: with("iat", now.Add(10*time.Minute).Unix()), code: "AZAUTH003E", check: "time window"},
		{name: "login without host/", login: "app", token: token, code: "CONJ00007E", check: "login is host/<namespace>/<name>"},
		{name: "no such host", login: f.login("nope"), token: token, code: "CONJ00007E", check: "host " + f.ns + "/nope exists"},
		{name: "xms_mirid without providers", login: f.login("rg"), token: with("xms_mirid", "/subscriptions/"+subscription+"/resourcegroups/rg-apps"), code: "CONJ00053E", check: "xms_mirid"},
		{name: "xms_mirid with two provider fields", login: f.login("rg"), token: with("xms_mirid", "/subscriptions/"+subscription+"/resourcegroups/rg-apps/providers/Microsoft.Compute/virtualMachines"), code: "CONJ00054E", check: "xms_mirid"},
		{name: "malformed xms_az_rid", login: f.login("rg"), token: with("xms_az_rid", "/subscriptions/x"), code: "CONJ00053E", check: "xms_mirid"},
		{name: "subscription", login: f.login("other-sub"), token: token, code: "CONJ00049E", check: "host subscription"},
		{name: "resource group", login: f.login("rg"), token: azure.Token(f.vm("rg-other", "vm-1"), azuretest.TokenOptions{}), code: "CONJ00049E", check: "host resource group"},
		{name: "user-assigned identity", login: f.login("uai"), token: azure.Token(otherUAI, azuretest.TokenOptions{}), code: "CONJ00049E", check: "host user-assigned identity"},
		{name: "system-assigned identity", login: f.login("sys"), token: azure.Token(vm2, azuretest.TokenOptions{}), code: "CONJ00049E", check: "host system-assigned identity"},
		{name: "tenant pin", login: f.login("tenant-pinned"), token: token, code: "AZAUTH002E", check: "host tenant pin"},
		{name: "resource pin", login: f.login("pinned"), token: azure.Token(uaiOnVM2, azuretest.TokenOptions{}), code: "CONJ00049E", check: "host resource pin"},
		{name: "client outside the CIDRs", login: f.login("cidr"), token: token, clientIP: "127.0.0.1", code: "CONJ00003E", check: "host client CIDRs"},
		{name: "host selector", service: sel.service, login: sel.login("unlabelled"), token: azure.Token(sel.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}), code: "CONJ00006E", check: "authenticator's hostSelector"},
		{name: "namespace selector", login: outside.login("app"), token: token, code: "CONJ00006E", check: "authenticator's namespaceSelector"},
		{name: "expires too soon", login: f.login("rg"), token: azure.Token(vm, azuretest.TokenOptions{IssuedAt: now.Add(-time.Hour), Lifetime: time.Hour + 10*time.Second}), code: "AZAUTH007E", check: "token lives long enough"},
		{name: "disabled authenticator", service: disabled.service, login: disabled.login("app"), token: azure.Token(disabled.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}), code: "CONJ00004E", check: "authenticator enabled"},
		{name: "unknown service", service: f.service + "-nope", login: f.login("rg"), token: token, code: "CONJ00005E", check: "authenticator " + f.service + "-nope exists"},
	}
	served := map[string]bool{}
	var took, tookVerify time.Duration
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			service := tc.service
			if service == "" {
				service = f.service
			}
			r := authenticate(t, service, account, tc.login, tc.token)
			ev := lastAudit(t, "authenticate", tc.login)
			if tc.code == "" && (r.status != http.StatusOK || ev.Result != "success") {
				t.Fatalf("the server refused: %d %s, audit %+v", r.status, r.body, ev)
			}
			if tc.code != "" && (ev.Result != "failure" || ev.Code != tc.code) {
				t.Fatalf("the server answered %+v, the case expects %s", ev, tc.code)
			}
			served[ev.Code] = true
			start := time.Now()
			out, exit := pluginExplainRun(t, bin, service, tc.login, tc.token, tc.clientIP)
			took += time.Since(start)
			pluginExplainAssert(t, tc, ev.Code, out, exit)
			// --verify fetches the keys as the server does: the same
			// verdicts, the signature now decided.
			start = time.Now()
			out, exit = pluginExplainRun(t, bin, service, tc.login, tc.token, tc.clientIP, "--verify")
			tookVerify += time.Since(start)
			pluginExplainAssert(t, tc, ev.Code, out, exit)
			if tc.code == "" && !strings.Contains(out, "✓ signing key and signature") {
				t.Fatalf("--verify did not pass the signature:\n%s", out)
			}
		})
	}
	t.Logf("explain agreed with the server on %d cases (codes %v; \"\" is a 200), %s per run on average, %s with --verify",
		len(cases), served, (took / time.Duration(len(cases))).Round(time.Millisecond), (tookVerify / time.Duration(len(cases))).Round(time.Millisecond))

	// What explain cannot tell without --verify: a token whose signature was altered is
	// refused by the server, while explain passes every check it makes and
	// says it did not verify the signature.
	t.Run("altered signature is the one thing it cannot tell", func(t *testing.T) {
		sig := azure.Sign(good)
		forged := sig[:len(sig)-8] + "AAAAAAAA"
		r := authenticate(t, f.service, account, f.login("rg"), forged)
		if ev := lastAudit(t, "authenticate", f.login("rg")); r.status != http.StatusUnauthorized || ev.Code != "CONJ00035E" {
			t.Fatalf("the server answered %d, audit %+v", r.status, ev)
		}
		out, exit := pluginExplainRun(t, bin, f.service, f.login("rg"), forged, "")
		if exit != 0 || !strings.Contains(out, "? signing key and signature") || !strings.Contains(out, "signature is NOT verified") {
			t.Fatalf("exit %d:\n%s", exit, out)
		}
		pluginExplainNoSecret(t, forged, out)
		// With --verify it can: the signature is the server's answer.
		out, exit = pluginExplainRun(t, bin, f.service, f.login("rg"), forged, "", "--verify")
		pluginExplainAssert(t, pluginExplainCase{token: forged, check: "signing key and signature"}, "CONJ00035E", out, exit)
	})
}

// pluginExplainAssert checks explain's verdict against the server's code.
func pluginExplainAssert(t *testing.T, tc pluginExplainCase, code, out string, exit int) {
	t.Helper()
	pluginExplainNoSecret(t, tc.token, out)
	if code == "" {
		if exit != 0 || strings.Contains(out, "✗") || !strings.Contains(out, "Result: every check passes") {
			t.Fatalf("the server accepted; explain exit %d:\n%s", exit, out)
		}
		return
	}
	if exit != 3 {
		t.Fatalf("the server answered %s; explain exit %d, want 3:\n%s", code, exit, out)
	}
	var answer string
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, "<- the server answers") {
			answer = line
			break
		}
	}
	if !strings.HasPrefix(answer, "✗ "+tc.check) || !strings.HasSuffix(answer, "the server answers "+code+" here") {
		t.Fatalf("the server answered %s at %q; explain says %q:\n%s", code, tc.check, answer, out)
	}
}

// pluginExplainNoSecret: explain never prints the token nor its signature.
func pluginExplainNoSecret(t *testing.T, token, out string) {
	t.Helper()
	if i := strings.LastIndexByte(token, '.'); i >= 0 && len(token)-i > 8 && strings.Contains(out, token[i+1:]) {
		t.Fatalf("explain printed the token's signature:\n%s", out)
	}
	if len(token) > 20 && strings.Contains(out, token) {
		t.Fatalf("explain printed the token:\n%s", out)
	}
}
