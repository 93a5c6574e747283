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
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cyberark/conjur-api-go/conjurapi"
	conjurresponse "github.com/cyberark/conjur-api-go/conjurapi/response"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

// The real, unmodified Conjur Go SDK against the real server.

// exposedSecret creates a Secret exposed to the listed hosts ("*" for all)
// and waits until the server holds it.
func (f *fixture) exposedSecret(name, allowed string, data map[string][]byte) *corev1.Secret {
	f.t.Helper()
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name,
			Labels:      map[string]string{secrets.ExposeLabel: "true"},
			Annotations: map[string]string{secrets.AllowedHostsAnnotation: allowed}},
		Data: data,
	}
	create(f.t, sec)
	eventually(f.t, "Secret "+name+" served", func() error {
		if _, ok := product.Secrets.Get(f.ns, name); !ok {
			return errorf("not yet")
		}
		return nil
	})
	return sec
}

// sdkConfig is a client configuration as a workload would write it, with
// the Azure token passed in (the SDK never calls IMDS then).
func (f *fixture) sdkConfig(host, azureToken string) conjurapi.Config {
	return conjurapi.Config{
		ApplianceURL:      baseURL,
		Account:           account,
		AuthnType:         "azure",
		ServiceID:         f.service,
		JWTHostID:         f.ns + "/" + host, // the SDK adds host/ and escapes it
		JWTContent:        azureToken,
		SSLCert:           string(product.ServingCert.CertificatePEM()),
		CredentialStorage: conjurapi.CredentialStorageNone,
		Environment:       conjurapi.EnvironmentSH,
	}
}

func sdkClient(t *testing.T, cfg conjurapi.Config) *conjurapi.Client {
	t.Helper()
	c, err := conjurapi.NewClientFromAzureCredentials(cfg)
	if err != nil {
		t.Fatalf("NewClientFromAzureCredentials: %v", err)
	}
	return c
}

func conjurCode(err error) int {
	var ce *conjurresponse.ConjurError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func TestSDKRetrievesSecretsWithAnAzureToken(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("billing", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: vm.ObjectID})
	f.exposedSecret("db", "billing, other-app", map[string][]byte{
		"password": []byte("s3cr3t"), "user": []byte("billing"), "cert": {0xff, 0xfe, 0x00, 0x01},
	})
	client := sdkClient(t, f.sdkConfig("billing", azure.Token(vm, azuretest.TokenOptions{})))

	v, err := client.RetrieveSecret(f.ns + "/db/password")
	if err != nil || string(v) != "s3cr3t" {
		t.Fatalf("RetrieveSecret = %q, %v", v, err)
	}
	// Fully qualified ids name the same variable.
	if v, err := client.RetrieveSecret(account + ":variable:" + f.ns + "/db/user"); err != nil || string(v) != "billing" {
		t.Fatalf("RetrieveSecret(fully qualified) = %q, %v", v, err)
	}

	batch, err := client.RetrieveBatchSecrets([]string{f.ns + "/db/password", f.ns + "/db/user"})
	if err != nil {
		t.Fatalf("RetrieveBatchSecrets: %v", err)
	}
	if string(batch[account+":variable:"+f.ns+"/db/password"]) != "s3cr3t" || string(batch[account+":variable:"+f.ns+"/db/user"]) != "billing" {
		t.Fatalf("RetrieveBatchSecrets = %q", batch)
	}

	// A binary value is never mangled: refused without base64 ...
	_, err = client.RetrieveBatchSecrets([]string{f.ns + "/db/cert"})
	if conjurCode(err) != http.StatusNotAcceptable || !strings.Contains(err.Error(), "Accept-Encoding: base64") {
		t.Fatalf("binary value without base64: %v", err)
	}
	// ... and exact with it.
	safe, err := client.RetrieveBatchSecretsSafe([]string{f.ns + "/db/cert", f.ns + "/db/password"})
	if err != nil {
		t.Fatalf("RetrieveBatchSecretsSafe: %v", err)
	}
	if got := safe[account+":variable:"+f.ns+"/db/cert"]; string(got) != "\xff\xfe\x00\x01" {
		t.Fatalf("binary value = %x", got)
	}
	if e := lastAudit(t, "fetch", f.login("billing")); e.Result != "success" || e.Variable == "" {
		t.Fatalf("fetch audit = %+v", e)
	}
	for _, e := range auditLog.events() {
		for _, secret := range []string{"s3cr3t", "\xff\xfe"} {
			if strings.Contains(e.Reason+e.Variable+e.Host, secret) {
				t.Fatalf("a secret value reached the audit log: %+v", e)
			}
		}
	}
}

func TestSDKDenialsAreReadableErrors(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("reader", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: vm.ObjectID})
	f.exposedSecret("mine", "reader", map[string][]byte{"k": []byte("v")})
	f.exposedSecret("theirs", "someone-else", map[string][]byte{"k": []byte("v")})
	f.exposedSecret("everyone", "*", map[string][]byte{"k": []byte("v")})
	// Another team's namespace, with a Secret open to all its hosts.
	other := newFixture(t)
	other.exposedSecret("open", "*", map[string][]byte{"k": []byte("v")})
	client := sdkClient(t, f.sdkConfig("reader", azure.Token(vm, azuretest.TokenOptions{})))

	if v, err := client.RetrieveSecret(f.ns + "/everyone/k"); err != nil || string(v) != "v" {
		t.Fatalf("a Secret open to all hosts of the namespace: %q %v", v, err)
	}
	tests := []struct {
		name, id string
		code     int
		text     string
	}{
		{"the Secret does not list the host", f.ns + "/theirs/k", http.StatusForbidden, "does not have 'execute' privilege"},
		{"the Secret does not list the host, for a missing key too", f.ns + "/theirs/nope", http.StatusForbidden, "does not have 'execute' privilege"},
		{"a missing key", f.ns + "/mine/nope", http.StatusNotFound, "is empty or not found"},
		{"a missing Secret", f.ns + "/nothing/k", http.StatusNotFound, "is empty or not found"},
		{"another namespace's Secret does not exist for this host", other.ns + "/open/k", http.StatusNotFound, "is empty or not found"},
		{"a malformed id", "just-a-name", http.StatusNotFound, "is empty or not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.RetrieveSecret(tc.id)
			if conjurCode(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("RetrieveSecret(%s) = %v, want %d mentioning %q", tc.id, err, tc.code, tc.text)
			}
		})
	}
	// All or nothing: one forbidden id fails the batch and is named.
	_, err := client.RetrieveBatchSecrets([]string{f.ns + "/mine/k", f.ns + "/theirs/k"})
	if conjurCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), f.ns+"/theirs") {
		t.Fatalf("batch with a forbidden id: %v", err)
	}

	// A token that does not match the host: the authentication is refused.
	stranger := sdkClient(t, f.sdkConfig("reader", azure.Token(f.vm("rg-other", "vm-9"), azuretest.TokenOptions{})))
	_, err = stranger.RetrieveSecret(f.ns + "/mine/k")
	if conjurCode(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "CONJ00002E Invalid credentials") {
		t.Fatalf("a non-matching Azure token: %v", err)
	}
}

// The SDK keeps re-posting the same Azure token; once it has expired the
// client fails like this until it is re-created with a fresh token.
func TestSDKWithAnExpiredAzureTokenFailsUntilRecreated(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps"})
	f.exposedSecret("s", "app", map[string][]byte{"k": []byte("v")})
	expired := azure.Token(vm, azuretest.TokenOptions{IssuedAt: time.Now().Add(-25 * time.Hour)})
	_, err := sdkClient(t, f.sdkConfig("app", expired)).RetrieveSecret(f.ns + "/s/k")
	if conjurCode(err) != http.StatusUnauthorized {
		t.Fatalf("expired Azure token: %v", err)
	}
	t.Logf("the SDK's error with an expired Azure token: %q", err.Error())
	if e := lastAudit(t, "authenticate", f.login("app")); e.Code != "CONJ00016E" {
		t.Fatalf("audit = %+v", e)
	}
	// The fix: a new client with a fresh token.
	if v, err := sdkClient(t, f.sdkConfig("app", azure.Token(vm, azuretest.TokenOptions{}))).RetrieveSecret(f.ns + "/s/k"); err != nil || string(v) != "v" {
		t.Fatalf("fresh client: %q %v", v, err)
	}
}

// Re-authentication: the SDK refreshes its access token on its own once
// 85% of its lifetime has passed. Turning the server's clock back 7.5
// minutes makes every token it issues (8 minute TTL) due at once, so each
// call re-authenticates, with no waiting.
func TestSDKReauthenticatesWhenItsAccessTokenIsDue(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-1")
	f.host("app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps"})
	f.exposedSecret("s", "app", map[string][]byte{"k": []byte("v")})
	setServerClock(t, -450*time.Second)
	token := azure.Token(vm, azuretest.TokenOptions{IssuedAt: serverClock{}.Now()})
	client := sdkClient(t, f.sdkConfig("app", token))
	before := countAudit("authenticate", f.login("app"), "success")
	for range 3 {
		if v, err := client.RetrieveSecret(f.ns + "/s/k"); err != nil || string(v) != "v" {
			t.Fatalf("RetrieveSecret: %q %v", v, err)
		}
	}
	if n := countAudit("authenticate", f.login("app"), "success") - before; n != 3 {
		t.Fatalf("%d authentications for 3 fetches with due tokens, want 3", n)
	}
}

// The IMDS path: no token in the configuration, so the SDK asks IMDS at
// http://169.254.169.254 with http.DefaultClient. That client is swapped
// for one that sends that address to a loopback fake and refuses every
// other non-loopback address: no request leaves the machine.
func TestSDKGetsItsTokenFromIMDS(t *testing.T) {
	f := newFixture(t)
	vm := f.vm("rg-apps", "vm-imds")
	f.host("imds-app", authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps", SystemAssignedIdentity: vm.ObjectID})
	f.exposedSecret("s", "imds-app", map[string][]byte{"k": []byte("from-imds")})
	imds := httptest.NewServer(azure.IMDS(azuretest.Compute{ResourceID: vm.MIRID, System: &vm}))
	defer imds.Close()

	saved := http.DefaultClient
	t.Cleanup(func() { http.DefaultClient = saved })
	transport := loopback.Transport()
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "169.254.169.254:80" {
			addr = imds.Listener.Addr().String()
		}
		return loopback.DialContext(ctx, network, addr)
	}
	http.DefaultClient = &http.Client{Transport: transport, Timeout: 10 * time.Second}

	cfg := f.sdkConfig("imds-app", "")
	v, err := sdkClient(t, cfg).RetrieveSecret(f.ns + "/s/k")
	if err != nil || string(v) != "from-imds" {
		t.Fatalf("RetrieveSecret via IMDS: %q %v", v, err)
	}
}

func countAudit(op, host, result string) int {
	n := 0
	for _, e := range auditLog.events() {
		if e.Operation == op && e.Host == host && e.Result == result {
			n++
		}
	}
	return n
}
