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

// Command scalebench measures the manager at scale against a real API
// server (envtest, built by hack/build-envtest.sh): N AzureHosts created as
// fast as the API server takes them and the time until every one is Ready,
// the reconciles and Events that took and the manager's heap; then M times,
// a host created and the time until it authenticates, deleted and the time
// until it is denied. Loopback only; bounded by --timeout.
//
//	KUBEBUILDER_ASSETS=$(hack/build-envtest.sh) go run ./hack/scalebench [--hosts 10000] [--changes 50] [--json FILE]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	namespace    = "scale"
)

// Report is what one run measured.
type Report struct {
	Hosts             int     `json:"hosts"`
	AllReadySeconds   float64 `json:"all_ready_seconds"`
	CreateSeconds     float64 `json:"create_seconds"`
	Reconciles        float64 `json:"reconciles"`
	Events            int     `json:"events"`
	HeapMiB           float64 `json:"heap_mib"`
	Changes           int     `json:"changes"`
	CreateToAuthP50Ms float64 `json:"create_to_authenticated_p50_ms"`
	CreateToAuthP99Ms float64 `json:"create_to_authenticated_p99_ms"`
	CreateToAuthMaxMs float64 `json:"create_to_authenticated_max_ms"`
	DeleteToDenyP50Ms float64 `json:"delete_to_denied_p50_ms"`
	DeleteToDenyP99Ms float64 `json:"delete_to_denied_p99_ms"`
	DeleteToDenyMaxMs float64 `json:"delete_to_denied_max_ms"`
}

func main() {
	hosts := flag.Int("hosts", 10000, "AzureHosts to create (1 to 100000)")
	changes := flag.Int("changes", 50, "create/delete changes timed for propagation (1 to 1000)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	jsonOut := flag.String("json", "", "also write the report to this file")
	flag.Parse()
	if *hosts < 1 || *hosts > 100000 || *changes < 1 || *changes > 1000 {
		fmt.Fprintln(os.Stderr, "scalebench: --hosts or --changes out of range")
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, err := run(ctx, *hosts, *changes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(b))
	if *jsonOut != "" {
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "scalebench:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, hosts, changes int) (*Report, error) {
	env, err := testenv.Start()
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()
	fast := rest.CopyConfig(env.Config)
	fast.QPS, fast.Burst = -1, 0 // no client-side rate limit: as fast as the API server takes them
	k8s, err := client.New(fast, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, err
	}
	azure := azuretest.NewServer()
	defer azure.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr, o.Namespace, o.Audit = "0", "0", "default", io.Discard
	o.TLSSecret, o.TLSSANs, o.SigningKeySecret = "scale-tls", []string{"127.0.0.1"}, "scale-signing-keys"
	o.Testing = app.Testing{Listener: ln, DialContext: loopback.DialContext}
	a, err := app.New(env.Config, o)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = a.Start(runCtx) }()
	if err := until(ctx, 20*time.Millisecond, func() bool { return a.Ready() == nil }); err != nil {
		return nil, fmt.Errorf("the manager did not get ready: %w", err)
	}

	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"scale": "yes"}}},
		&authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers:    []authnv1alpha1.Provider{{URI: azure.IssuerV1(tenant), CABundle: string(azure.CAPEM())}},
			AllowedHosts: &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"scale": "yes"}}},
		}},
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			return nil, err
		}
	}

	// N hosts, as fast as the API server takes them.
	r := &Report{Hosts: hosts, Changes: changes}
	start := time.Now()
	if err := parallel(16, hosts, func(i int) error {
		return k8s.Create(ctx, host(fmt.Sprintf("h-%d", i), fmt.Sprintf("rg-%d", i%50)))
	}); err != nil {
		return nil, err
	}
	r.CreateSeconds = time.Since(start).Seconds()
	if err := until(ctx, 250*time.Millisecond, func() bool { return readyHosts(ctx, k8s) >= hosts }); err != nil {
		return nil, fmt.Errorf("not every host got Ready: %w", err)
	}
	r.AllReadySeconds = time.Since(start).Seconds()
	r.Reconciles = counter("controller_runtime_reconcile_total", "azurehost-status")
	var events corev1.EventList
	if err := k8s.List(ctx, &events, client.InNamespace(namespace)); err == nil {
		r.Events = len(events.Items)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapMiB = float64(ms.HeapInuse) / (1 << 20)

	// Propagation: create -> authenticates, delete -> denied.
	tr, err := loopback.TransportTrusting(a.ServingCert.CertificatePEM())
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	token := azure.Token(azuretest.VM(tenant, subscription, "rg-propagation", "vm-1"), azuretest.TokenOptions{})
	status := func(name string) int {
		resp, err := hc.Post("https://"+ln.Addr().String()+"/authn-azure/prod/default/"+url.PathEscape("host/"+namespace+"/"+name)+"/authenticate",
			"application/x-www-form-urlencoded", strings.NewReader("jwt="+token))
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	var created, deleted []time.Duration
	for i := range changes {
		name := fmt.Sprintf("p-%d", i)
		h := host(name, "rg-propagation")
		t := time.Now()
		if err := k8s.Create(ctx, h); err != nil {
			return nil, err
		}
		if err := until(ctx, 2*time.Millisecond, func() bool { return status(name) == http.StatusOK }); err != nil {
			return nil, fmt.Errorf("host %s never authenticated: %w", name, err)
		}
		created = append(created, time.Since(t))
		t = time.Now()
		if err := k8s.Delete(ctx, h); err != nil {
			return nil, err
		}
		if err := until(ctx, 2*time.Millisecond, func() bool { return status(name) == http.StatusUnauthorized }); err != nil {
			return nil, fmt.Errorf("host %s was never denied: %w", name, err)
		}
		deleted = append(deleted, time.Since(t))
	}
	r.CreateToAuthP50Ms, r.CreateToAuthP99Ms, r.CreateToAuthMaxMs = quantiles(created)
	r.DeleteToDenyP50Ms, r.DeleteToDenyP99Ms, r.DeleteToDenyMaxMs = quantiles(deleted)
	return r, nil
}

func host(name, rg string) *authnv1alpha1.AzureHost {
	return &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: rg}}
}

func readyHosts(ctx context.Context, c client.Client) int {
	var list authnv1alpha1.AzureHostList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return 0
	}
	n := 0
	for _, h := range list.Items {
		if c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue &&
			h.Status.ObservedGeneration == h.Generation {
			n++
		}
	}
	return n
}

// parallel runs do(0..n-1) on workers goroutines; the first error wins.
func parallel(workers, n int, do func(int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func until(ctx context.Context, every time.Duration, ok func() bool) error {
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return nil
}

// counter sums a controller-runtime counter's series for one controller.
func counter(name, controller string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return 0
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

func quantiles(d []time.Duration) (p50, p99, maximum float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1e3 }
	return ms(s[len(s)/2]), ms(s[min(len(s)-1, len(s)*99/100)]), ms(s[len(s)-1])
}
