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

package controllerstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/controllers"
	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/feed"
	"github.com/azure-authenticator/azure-authenticator/internal/health"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// One control plane and one manager for the package: the manager runs
// without leader election, so it feeds its index and writes status.
var (
	env   *testenv.Env
	k8s   client.Client // direct, uncached: what the test sees is what the API server stored
	index *policy.Index
	// secretsHealth stands in for the Secret store main.go passes: every
	// namespace is servable until a test says otherwise.
	secretsHealth = testenv.NewSecretsHealth()
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	testenv.SetLogger()
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: client:", err)
		return 1
	}
	index = policy.NewIndex()
	_, stop, err := startManager(index, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// startManager starts the controllers' half of the manager: the manager
// as internal/app builds it, with the index feeder and the status
// reconcilers (the authenticator is tested in test/e2e), and waits until
// its index has synced. stop cancels it and waits for it to return.
func startManager(ix *policy.Index, leaderElection bool) (mgr ctrl.Manager, stop func(), err error) {
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr = "0", "0"
	o.LeaderElection, o.LeaderElectionID, o.Namespace = leaderElection, "azure-authenticator-test", "default"
	// Short lease timings (the flags' values) so that the standby-replica
	// test elects a leader quickly; validated as main.go validates the
	// flags, so the suite never runs timings the manager would refuse.
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 4*time.Second, 3*time.Second, 200*time.Millisecond
	o.Testing.SeveralManagers = true // the standby-replica test runs two
	if err := o.Validate(); err != nil {
		return nil, nil, fmt.Errorf("the suite's manager options: %w", err)
	}
	mgr, err = app.NewManager(env.Config, o, health.NewInformers(ctrl.Log.WithName("watch-health"), nil))
	if err != nil {
		return nil, nil, err
	}
	if err := mgr.Add(&feed.IndexFeeder{Cache: mgr.GetCache(), Index: ix}); err != nil {
		return nil, nil, err
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{SecretsHealth: secretsHealth}); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for !ix.Synced() {
		select {
		case err := <-done:
			cancel()
			return nil, nil, fmt.Errorf("manager stopped before the index synced: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			return nil, nil, errors.New("index did not sync within 60s")
		}
	}
	return mgr, func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped with:", err)
		}
	}, nil
}

var nameSeq atomic.Int64

// testNamespace creates a namespace with the given labels, deleted when the
// test ends.
func testNamespace(t *testing.T, lbls map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   fmt.Sprintf("t%d-%s", nameSeq.Add(1), strings.ToLower(shortName(t))),
		Labels: lbls,
	}}
	create(t, ns)
	return ns.Name
}

func shortName(t *testing.T) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() >= 40 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// create creates obj and deletes it when the test ends.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() { _ = client.IgnoreNotFound(k8s.Delete(context.Background(), obj)) })
}

const (
	subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	principal    = "1e2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8"
)

// loopbackIssuer is a v1-shaped issuer on loopback: tests never point at Azure.
const loopbackIssuer = "https://127.0.0.1:8400/" + tenant + "/"

func newHost(ns, name string, mutate ...func(*authnv1alpha1.AzureHost)) *authnv1alpha1.AzureHost {
	h := &authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: "rg-apps"},
	}
	for _, m := range mutate {
		m(h)
	}
	return h
}

// newAuthenticator admits the hosts of namespaces labelled selectorLabel=value.
func newAuthenticator(name string, nsLabels map[string]string, mutate ...func(*authnv1alpha1.AzureAuthenticator)) *authnv1alpha1.AzureAuthenticator {
	a := &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: loopbackIssuer}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: nsLabels}},
		},
	}
	for _, m := range mutate {
		m(a)
	}
	return a
}

// readyOf returns the host's Ready condition as "Status/Reason", or "" when absent.
func readyOf(conds []metav1.Condition) string {
	c := meta.FindStatusCondition(conds, authnv1alpha1.ConditionReady)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

func hostID(ns, name string) policy.HostID { return policy.HostID{Namespace: ns, Name: name} }

func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	testenv.Eventually(t, what, fn)
}

func update(t *testing.T, obj client.Object, mutate func()) {
	t.Helper()
	testenv.Update(t, k8s, obj, mutate)
}
