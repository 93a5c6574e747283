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

package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// A replica that runs as its own user, with only the RBAC a test gives it,
// assembled as main.go does (status of AzureHosts included), over
// connections the test can cut.
type restrictedReplica struct {
	user   string
	as     client.Client // the API as that user
	dialer *testenv.Dialer
	app    *app.App
	client *http.Client // trusts the replica's serving CA
	base   string
}

// backoffBound covers client-go's relist backoff (up to a minute with
// jitter) after a permission is given back.
const backoffBound = 90 * time.Second

var (
	readOnly  = []string{"get", "list", "watch"}
	hostsRule = rbacv1.PolicyRule{APIGroups: []string{authnv1alpha1.GroupVersion.Group}, Resources: []string{"azurehosts"}, Verbs: readOnly}
)

// startRestrictedReplica grants a new user what the manager needs, except
// Secrets outside secretsIn, and starts a replica as that user serving the
// exposed Secrets of secretNamespaces.
func startRestrictedReplica(t *testing.T, secretNamespaces, secretsIn []string, maxStaleness time.Duration) *restrictedReplica {
	t.Helper()
	ctx := context.Background()
	r := &restrictedReplica{user: fmt.Sprintf("restricted-%d", seq.Add(1)), dialer: &testenv.Dialer{}}
	cfg, err := env.AddUser(r.user, r.dialer)
	if err != nil {
		t.Fatal(err)
	}
	if r.as, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
		t.Fatal(err)
	}
	group := authnv1alpha1.GroupVersion.Group
	clusterGrant(t, r.user+"-base", r.user,
		rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{"azureauthenticators"}, Verbs: readOnly},
		rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{"azurehosts/status", "azureauthenticators/status"}, Verbs: []string{"get", "update", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: readOnly},
		rbacv1.PolicyRule{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}})
	clusterGrant(t, r.user+"-hosts", r.user, hostsRule)
	// Its own Secrets: signing keys and the serving certificate.
	grant(t, "default", r.user+"-own", r.user, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch"}})
	for _, ns := range secretsIn {
		r.grantSecrets(t, ns)
	}
	eventually(t, "the user's permissions are in effect", func() error {
		if err := r.as.List(ctx, &authnv1alpha1.AzureHostList{}); err != nil {
			return err
		}
		return r.as.List(ctx, &corev1.SecretList{}, client.InNamespace("default"))
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// As main.go assembles it: this replica is the only manager of this
	// API server, so the status it writes is its own view.
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr, o.Namespace, o.Account, o.Audit = "0", "0", "default", account, io.Discard
	o.TLSSecret, o.TLSSANs, o.SigningKeySecret = "authn-test-tls", []string{"127.0.0.1"}, "authn-test-signing-keys"
	o.SecretNamespaces, o.MaxStaleness = secretNamespaces, maxStaleness
	o.Testing = app.Testing{Listener: ln, DialContext: loopback.DialContext, SeveralManagers: true}
	r.app, err = app.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	mgr := r.app.Manager
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("restricted replica stopped with: %v", err)
		}
	})
	r.base = "https://" + ln.Addr().String()
	eventually(t, "restricted replica ready", r.app.Ready)
	transport, err := loopback.TransportTrusting(r.app.ServingCert.CertificatePEM())
	if err != nil {
		t.Fatal("no serving certificate")
	}
	r.client = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	return r
}

func clusterGrant(t *testing.T, name, user string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	create(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules})
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}})
}

func grant(t *testing.T, ns, name, user string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules})
	create(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}})
}

// grantSecrets is the Role that serving a namespace's Secrets needs.
func (r *restrictedReplica) grantSecrets(t *testing.T, ns string) {
	t.Helper()
	grant(t, ns, r.user+"-secrets", r.user, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: readOnly})
}

func (r *restrictedReplica) authenticate(t *testing.T, f *fixture, ns, host string) response {
	t.Helper()
	login := "host/" + ns + "/" + host
	return r.request(t, http.MethodPost, "/authn-azure/"+f.service+"/"+account+"/"+url.PathEscape(login)+"/authenticate",
		"jwt="+azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{}))
}

func (r *restrictedReplica) fetch(t *testing.T, token, id string) response {
	t.Helper()
	return r.request(t, http.MethodGet, "/secrets/"+account+"/variable/"+url.PathEscape(id), "", "Authorization", authorization(token))
}

func (r *restrictedReplica) request(t *testing.T, method, path, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, r.client, req)
}

func secretsServableOf(t *testing.T, ns, name string) (string, string) {
	t.Helper()
	h := &authnv1alpha1.AzureHost{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, h); err != nil {
		t.Fatal(err)
	}
	c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionSecretsServable)
	if c == nil {
		return "", ""
	}
	return string(c.Status) + "/" + c.Reason, c.Message
}

// A replica that may list the Secrets of one of its --secret-namespaces but
// not of the other is ready and authenticates hosts of both; it serves the
// first namespace's Secrets, answers 503 for the other's only, says so in
// that namespace's hosts' status, does not count it towards
// --max-staleness, and serves it once given the Role.
func TestANamespaceWhoseSecretsCannotBeListedGets503ForThoseOnly(t *testing.T) {
	f := newFixture(t)
	nsA, nsB := f.ns, f.ns+"-b"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsB, Labels: map[string]string{"authn-test": f.ns}}})
	f.host("app", rgSpec("rg-apps"))
	create(t, &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: "app"}, Spec: rgSpec("rg-apps")})
	f.exposedSecret("db", "app", map[string][]byte{"k": []byte("value-a")})
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: "db", Labels: map[string]string{secrets.ExposeLabel: "true"},
			Annotations: map[string]string{secrets.AllowedHostsAnnotation: "app"}},
		Data: map[string][]byte{"k": []byte("value-b")},
	})

	const maxStaleness = 2 * time.Second
	r := startRestrictedReplica(t, []string{nsA, nsB}, []string{nsA}, maxStaleness)

	eventually(t, nsB+" unservable: forbidden", func() error {
		if got := r.app.Secrets.Unservable(nsB); got != "cannot list Secrets: forbidden" {
			return fmt.Errorf("Unservable(%s) = %q", nsB, got)
		}
		if got := r.app.Secrets.Unservable(nsA); got != "" {
			return fmt.Errorf("Unservable(%s) = %q", nsA, got)
		}
		return nil
	})
	eventually(t, "the failing Secret informer outlives --max-staleness", func() error {
		if s := r.app.Informers.Staleness("secrets/" + nsB); s <= maxStaleness {
			return fmt.Errorf("secrets/%s staleness %v", nsB, s)
		}
		return nil
	})
	if err := r.app.Ready(); err != nil {
		t.Fatalf("a Secret namespace failing made the replica unready: %v", err)
	}

	tokens := map[string]string{}
	for _, ns := range []string{nsA, nsB} {
		resp := r.authenticate(t, f, ns, "app")
		if resp.status != http.StatusOK {
			t.Fatalf("authenticating host/%s/app: %d %s", ns, resp.status, resp.body)
		}
		tokens[ns] = resp.body
	}
	if resp := r.fetch(t, tokens[nsA], nsA+"/db/k"); resp.status != http.StatusOK || resp.body != "value-a" {
		t.Fatalf("%s's secret: %d %s", nsA, resp.status, resp.body)
	}
	if resp := r.fetch(t, tokens[nsB], nsB+"/db/k"); resp.status != http.StatusServiceUnavailable || !strings.Contains(resp.body, string(failure.SecretsUnavailable)) {
		t.Fatalf("%s's secret: %d %s, want 503 %s", nsB, resp.status, resp.body, failure.SecretsUnavailable)
	}

	eventually(t, "host status says which namespace's Secrets are servable", func() error {
		if got, _ := secretsServableOf(t, nsA, "app"); got != "True/"+authnv1alpha1.ReasonNamespaceServed {
			return fmt.Errorf("%s/app SecretsServable = %s", nsA, got)
		}
		if got, msg := secretsServableOf(t, nsB, "app"); got != "False/"+authnv1alpha1.ReasonSecretsUnavailable || !strings.Contains(msg, "forbidden") {
			return fmt.Errorf("%s/app SecretsServable = %s %q", nsB, got, msg)
		}
		return nil
	})

	r.grantSecrets(t, nsB)
	testenv.EventuallyWithin(t, backoffBound, nsB+" served once the Role exists", func() error {
		if resp := r.fetch(t, tokens[nsB], nsB+"/db/k"); resp.status != http.StatusOK || resp.body != "value-b" {
			return fmt.Errorf("%d %s", resp.status, resp.body)
		}
		if got, _ := secretsServableOf(t, nsB, "app"); got != "True/"+authnv1alpha1.ReasonNamespaceServed {
			return fmt.Errorf("%s/app SecretsServable = %s", nsB, got)
		}
		return nil
	})
}

// An index watch that fails while the API server stays reachable (its RBAC
// removed) makes that informer's staleness grow, alone, until
// --max-staleness turns the replica away; once the watch is possible
// again, it recovers without a restart.
func TestAFailingIndexWatchTripsMaxStalenessUntilItRecovers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	const maxStaleness = 2 * time.Second
	r := startRestrictedReplica(t, []string{f.ns}, []string{f.ns}, maxStaleness)
	if resp := r.authenticate(t, f, f.ns, "app"); resp.status != http.StatusOK {
		t.Fatalf("authenticate before: %d %s", resp.status, resp.body)
	}

	hostsBinding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.user + "-hosts"}}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(hostsBinding), hostsBinding); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, hostsBinding); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replica's user may no longer list AzureHosts", func() error {
		if err := r.as.List(ctx, &authnv1alpha1.AzureHostList{}); !apierrors.IsForbidden(err) {
			return fmt.Errorf("list: %v", err)
		}
		return nil
	})
	// An open watch is not re-authorized: cut the connections, as any
	// network blip or watch timeout would, so that it must be re-opened.
	if n := r.dialer.CutAll(); n == 0 {
		t.Fatal("no connection to cut")
	}

	eventually(t, "only the azurehosts informer goes stale", func() error {
		h := r.app.Informers
		if s := h.Staleness("azurehosts"); s == 0 {
			return errors.New("azurehosts staleness still 0")
		}
		for _, other := range []string{"azureauthenticators", "namespaces", "secrets/" + f.ns} {
			if s := h.Staleness(other); s != 0 {
				return fmt.Errorf("%s staleness %v", other, s)
			}
		}
		return nil
	})
	eventually(t, "--max-staleness turns the replica away", func() error {
		var fe *failure.Error
		if err := r.app.Ready(); !errors.As(err, &fe) || fe.Code != failure.ViewTooStale {
			return fmt.Errorf("Ready() = %v", err)
		}
		return nil
	})
	if s := r.app.Contact.Staleness(); s <= maxStaleness {
		t.Fatalf("the server's staleness %v, want over %v", s, maxStaleness)
	}
	if resp := r.authenticate(t, f, f.ns, "app"); resp.status != http.StatusServiceUnavailable || !strings.Contains(resp.body, string(failure.ViewTooStale)) {
		t.Fatalf("authenticate while stale: %d %s", resp.status, resp.body)
	}

	clusterGrant(t, r.user+"-hosts-again", r.user, hostsRule)
	testenv.EventuallyWithin(t, backoffBound, "the replica recovers once it may watch again", func() error {
		if s := r.app.Informers.Staleness("azurehosts"); s != 0 {
			return fmt.Errorf("azurehosts staleness %v", s)
		}
		return r.app.Ready()
	})
	if resp := r.authenticate(t, f, f.ns, "app"); resp.status != http.StatusOK {
		t.Fatalf("authenticate after recovery: %d %s", resp.status, resp.body)
	}
}
