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
// server (envtest, built by hack/build-envtest.sh), in phases:
//
//   - N AzureHosts (--hosts) created as fast as the API server takes them
//     and the time until every one is Ready (as the replica's cache sees
//     it, confirmed by one List), the reconciles and Events that took and
//     the manager's heap, with a line of progress every 5 s;
//   - M times (--changes), a host created and the time until it
//     authenticates, deleted and the time until it is denied;
//   - M times, the allowed-hosts annotation of an exposed Secret flipped to
//     grant an authenticated host and the time until its fetch succeeds,
//     flipped back and the time until it is forbidden;
//   - with --startup-hosts S, the first replica stopped, the AzureHosts
//     topped up to S (without any manager running, so the API server only
//     absorbs creates), then a fresh standby replica started and the time
//     until its index has synced, until it is ready and until a host
//     authenticates, with the heap it grew by.
//
// Loopback only; bounded by --timeout, which the start-up phase needs
// raised: with --hosts 10000 --startup-hosts 100000 the run takes 5 to 7
// minutes on 2 cores, most of it creating the 90,000 more hosts.
//
//	KUBEBUILDER_ASSETS=$(hack/build-envtest.sh) go run ./hack/scalebench [--hosts 10000] [--changes 50] [--workers 16]
//		[--startup-hosts 0] [--startup-workers 128] [--startup-cpuprofile FILE] [--timeout 10m] [--json FILE]
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zapcore"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	namespace    = "scale"
	// grantee is the host whose access to a Secret changes, and the one
	// the fresh replica authenticates first.
	grantee = "grantee"
	// reauthenticateAfter renews the grant phase's access token well
	// before its default lifetime (8 minutes) ends.
	reauthenticateAfter = 4 * time.Minute
)

// Report is what one run measured. Propagation times run from the moment
// the API server acknowledged the change (grants) or from just before the
// request that made it (creates, deletes) to the first answer that shows
// it, polling every 2 ms.
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

	// CreateWorkers is how many of the --hosts creates were in flight at
	// once.
	CreateWorkers int `json:"create_workers"`

	// Grant changes (--changes of each): the Secret's allowed-hosts
	// annotation starts listing the host -> its fetch answers 200; stops
	// listing it -> 403.
	GrantToSuccessP50Ms float64 `json:"grant_to_success_p50_ms"`
	GrantToSuccessP99Ms float64 `json:"grant_to_success_p99_ms"`
	GrantToSuccessMaxMs float64 `json:"grant_to_success_max_ms"`
	RevokeToDenyP50Ms   float64 `json:"revoke_to_denied_p50_ms"`
	RevokeToDenyP99Ms   float64 `json:"revoke_to_denied_p99_ms"`
	RevokeToDenyMaxMs   float64 `json:"revoke_to_denied_max_ms"`

	// Start-up of a fresh replica (--startup-hosts; absent when skipped).
	// StartupHosts AzureHosts are stored when it starts; StartupCreated of
	// them were created for the phase, StartupCreateWorkers at once, at
	// StartupCreatesPerSecond.
	StartupHosts            int     `json:"startup_hosts,omitempty"`
	StartupCreated          int     `json:"startup_created,omitempty"`
	StartupCreateWorkers    int     `json:"startup_create_workers,omitempty"`
	StartupCreateSeconds    float64 `json:"startup_create_seconds,omitempty"`
	StartupCreatesPerSecond float64 `json:"startup_creates_per_second,omitempty"`
	// Seconds from Start to: the index synced (every initial list
	// received and indexed), the replica ready (/readyz), and the first
	// 200 from authenticating one of the hosts.
	StartupIndexSyncedSeconds float64 `json:"startup_index_synced_seconds,omitempty"`
	StartupReadySeconds       float64 `json:"startup_ready_seconds,omitempty"`
	StartupFirstAuthSeconds   float64 `json:"startup_first_auth_seconds,omitempty"`
	// StartupListSeconds is one plain List of every AzureHost by a client
	// without a cache, once the replica is up: what the API server and
	// decoding alone take, to tell a slow replica from a slow API server.
	// (The replica's informers get their initial state as a watch stream,
	// client-go's WatchListClient, not as a List.)
	StartupListSeconds float64 `json:"startup_list_seconds,omitempty"`
	// The heap in use (after a GC) the replica added by its first
	// authentication: the index AND the informer cache of the AzureHost
	// objects (and the replica's fixed costs), not the index alone; per
	// host, divided by StartupHosts. The hosts created for the phase carry
	// no status (no leader ran), so a cluster's would weigh a little more.
	StartupHeapWithCacheMiB          float64 `json:"startup_heap_index_and_informer_cache_mib,omitempty"`
	StartupHeapWithCacheBytesPerHost float64 `json:"startup_heap_index_and_informer_cache_bytes_per_host,omitempty"`

	// WallSeconds is the whole run, control plane start-up included.
	WallSeconds float64 `json:"wall_seconds"`
}

// config is what the flags asked for.
type config struct {
	hosts, changes, workers      int
	startupHosts, startupWorkers int
	cpuProfile                   string
}

func main() {
	var c config
	flag.IntVar(&c.hosts, "hosts", 10000, "AzureHosts to create (1 to 100000)")
	flag.IntVar(&c.changes, "changes", 50, "create/delete and grant/revoke changes timed for propagation (1 to 1000)")
	flag.IntVar(&c.startupHosts, "startup-hosts", 0, "AzureHosts stored when a fresh replica's start-up is timed (0: skip; else more than --hosts, at most 1000000)")
	flag.IntVar(&c.workers, "workers", 16, "creates of the --hosts phase in flight at once (1 to 256)")
	// 128: the fastest on 2 cores (about 600/s when nothing else runs;
	// 16 gave about 340/s, 32 and 64 about 500/s, 256 no more than 128).
	flag.IntVar(&c.startupWorkers, "startup-workers", 128, "creates of the --startup-hosts phase in flight at once (1 to 256)")
	flag.StringVar(&c.cpuProfile, "startup-cpuprofile", "", "write a CPU profile of the fresh replica's start-up to this file")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	jsonOut := flag.String("json", "", "also write the report to this file")
	flag.Parse()
	if c.hosts < 1 || c.hosts > 100000 || c.changes < 1 || c.changes > 1000 || c.workers < 1 || c.workers > 256 ||
		c.startupWorkers < 1 || c.startupWorkers > 256 ||
		c.startupHosts != 0 && (c.startupHosts <= c.hosts || c.startupHosts > 1000000) {
		fmt.Fprintln(os.Stderr, "scalebench: --hosts, --changes, --workers, --startup-hosts or --startup-workers out of range")
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, err := run(ctx, c)
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

// progress tells on standard error where a long run is, with the time
// since it began.
func progress(began time.Time, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scalebench: [%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, c config) (*Report, error) {
	began := time.Now()
	env, err := testenv.Start()
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()
	fast := rest.CopyConfig(env.Config)
	fast.QPS, fast.Burst = -1, 0 // no client-side rate limit: as fast as the API server takes them
	k8s, err := client.New(fast, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, fmt.Errorf("failed to build the client: %w", err)
	}
	azure := azuretest.NewServer()
	defer azure.Close()
	progress(began, "control plane up")

	a, err := startReplica(env.Config, func(*app.Options) {})
	if err != nil {
		return nil, err
	}
	defer a.stop()
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
			return nil, fmt.Errorf("failed to create %T %s: %w", obj, obj.GetName(), err)
		}
	}

	// N hosts, as fast as the API server takes them.
	r := &Report{Hosts: c.hosts, Changes: c.changes, CreateWorkers: c.workers}
	start := time.Now()
	var made atomic.Int64
	stopTrace := ticker(began, 5*time.Second, func() string { return trace(ctx, a, made.Load()) })
	defer stopTrace()
	if err := parallel(c.workers, c.hosts, func(i int) error {
		defer made.Add(1)
		return k8s.Create(ctx, host(fmt.Sprintf("h-%d", i), fmt.Sprintf("rg-%d", i%50)))
	}); err != nil {
		return nil, fmt.Errorf("failed to create the hosts: %w", err)
	}
	r.CreateSeconds = time.Since(start).Seconds()
	progress(began, "%d hosts created in %.1fs (%.0f/s)", c.hosts, r.CreateSeconds, float64(c.hosts)/r.CreateSeconds)
	// Ready as the replica's informer cache sees it, which costs the API
	// server nothing: a List of every host 4 times a second instead (about
	// 2 s each under this load, so back to back) kept the API server and
	// this process encoding and decoding 10,000 objects over and over, and
	// added about 17 s to the very status writes it waited for. A status
	// is cached only once the API server has stored it, so this is never
	// early; one List from the API server then confirms it.
	if err := until(ctx, 250*time.Millisecond, func() bool { return readyHosts(ctx, a.Manager.GetCache()) >= c.hosts }); err != nil {
		return nil, fmt.Errorf("not every host got Ready: %w", err)
	}
	r.AllReadySeconds = time.Since(start).Seconds()
	stopTrace()
	if n := readyHosts(ctx, k8s); n < c.hosts {
		return nil, fmt.Errorf("the replica's cache has every host Ready, the API server only %d", n)
	}
	progress(began, "%d hosts Ready in %.1fs", c.hosts, r.AllReadySeconds)
	progress(began, "%s", trace(ctx, a, made.Load()))
	r.Reconciles = counter("controller_runtime_reconcile_total", "azurehost-status")
	var events corev1.EventList
	if err := k8s.List(ctx, &events, client.InNamespace(namespace)); err == nil {
		r.Events = len(events.Items)
	}
	r.HeapMiB = float64(heapInuse()) / (1 << 20)

	// Propagation: create -> authenticates, delete -> denied.
	tr, err := loopback.TransportTrusting(a.ServingCert.CertificatePEM())
	if err != nil {
		return nil, fmt.Errorf("no serving certificate to trust: %w", err)
	}
	cl := &conjur{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, base: a.base,
		jwt: azure.Token(azuretest.VM(tenant, subscription, "rg-propagation", "vm-1"), azuretest.TokenOptions{})}
	start = time.Now()
	var created, deleted []time.Duration
	for i := range c.changes {
		name := fmt.Sprintf("p-%d", i)
		h := host(name, "rg-propagation")
		t := time.Now()
		if err := k8s.Create(ctx, h); err != nil {
			return nil, fmt.Errorf("failed to create host %s: %w", name, err)
		}
		if err := until(ctx, 2*time.Millisecond, func() bool { s, _ := cl.authenticate(name); return s == http.StatusOK }); err != nil {
			return nil, fmt.Errorf("host %s never authenticated: %w", name, err)
		}
		created = append(created, time.Since(t))
		t = time.Now()
		if err := k8s.Delete(ctx, h); err != nil {
			return nil, fmt.Errorf("failed to delete host %s: %w", name, err)
		}
		if err := until(ctx, 2*time.Millisecond, func() bool { s, _ := cl.authenticate(name); return s == http.StatusUnauthorized }); err != nil {
			return nil, fmt.Errorf("host %s was never denied: %w", name, err)
		}
		deleted = append(deleted, time.Since(t))
	}
	r.CreateToAuthP50Ms, r.CreateToAuthP99Ms, r.CreateToAuthMaxMs = quantiles(created)
	r.DeleteToDenyP50Ms, r.DeleteToDenyP99Ms, r.DeleteToDenyMaxMs = quantiles(deleted)
	progress(began, "%d create/delete changes in %.1fs", c.changes, time.Since(start).Seconds())

	start = time.Now()
	granted, revoked, err := grantChanges(ctx, k8s, cl, c.changes)
	if err != nil {
		return nil, err
	}
	r.GrantToSuccessP50Ms, r.GrantToSuccessP99Ms, r.GrantToSuccessMaxMs = quantiles(granted)
	r.RevokeToDenyP50Ms, r.RevokeToDenyP99Ms, r.RevokeToDenyMaxMs = quantiles(revoked)
	progress(began, "%d grant/revoke changes in %.1fs", c.changes, time.Since(start).Seconds())

	if c.startupHosts > 0 {
		// Stopped, so that no status reconciler writes the new hosts'
		// status: the API server absorbs creates only, and the fresh
		// replica starts against a quiet API server.
		a.stop()
		if err := startup(ctx, began, c, k8s, env.Config, cl, r); err != nil {
			return nil, err
		}
	}
	r.WallSeconds = time.Since(began).Seconds()
	return r, nil
}

// grantChanges flips an exposed Secret's allowed-hosts annotation to list
// an authenticated host and back, changes times each way, and returns how
// long the host's fetch took to answer 200 and then 403 again.
func grantChanges(ctx context.Context, k8s client.Client, cl *conjur, changes int) (granted, revoked []time.Duration, err error) {
	const nobody = "nobody"
	if err := k8s.Create(ctx, host(grantee, "rg-propagation")); err != nil {
		return nil, nil, fmt.Errorf("failed to create host %s: %w", grantee, err)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "grant",
			Labels:      map[string]string{secrets.ExposeLabel: "true"},
			Annotations: map[string]string{secrets.AllowedHostsAnnotation: nobody}},
		Data: map[string][]byte{"k": []byte("v")},
	}
	if err := k8s.Create(ctx, sec); err != nil {
		return nil, nil, fmt.Errorf("failed to create Secret %s: %w", sec.Name, err)
	}
	id := namespace + "/" + sec.Name + "/k"
	var token []byte
	var issued time.Time
	login := func() error {
		return until(ctx, 2*time.Millisecond, func() bool {
			var s int
			s, token = cl.authenticate(grantee)
			issued = time.Now()
			return s == http.StatusOK
		})
	}
	if err := login(); err != nil {
		return nil, nil, fmt.Errorf("host %s never authenticated: %w", grantee, err)
	}
	// The Secret reaches the replica's store on its own schedule: the
	// first change is timed only once the replica knows it.
	if err := until(ctx, 2*time.Millisecond, func() bool { return cl.fetch(token, id) == http.StatusForbidden }); err != nil {
		return nil, nil, fmt.Errorf("secret %s never forbidden to %s: %w", id, grantee, err)
	}
	annotate := func(allowed string) error {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, secrets.AllowedHostsAnnotation, allowed)
		if err := k8s.Patch(ctx, sec, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			return fmt.Errorf("failed to annotate Secret %s with %s: %w", sec.Name, allowed, err)
		}
		return nil
	}
	for range changes {
		for _, step := range []struct {
			allowed string
			want    int
			into    *[]time.Duration
		}{{grantee, http.StatusOK, &granted}, {nobody, http.StatusForbidden, &revoked}} {
			if time.Since(issued) > reauthenticateAfter {
				if err := login(); err != nil {
					return nil, nil, fmt.Errorf("host %s could not authenticate again: %w", grantee, err)
				}
			}
			if err := annotate(step.allowed); err != nil {
				return nil, nil, err
			}
			t := time.Now()
			if err := until(ctx, 2*time.Millisecond, func() bool { return cl.fetch(token, id) == step.want }); err != nil {
				return nil, nil, fmt.Errorf("secret %s never answered %d once allowed-hosts was %s: %w", id, step.want, step.allowed, err)
			}
			*step.into = append(*step.into, time.Since(t))
		}
	}
	return granted, revoked, nil
}

// startup tops the stored AzureHosts up to c.startupHosts, then starts a
// fresh standby replica and times it until it authenticates a host.
func startup(ctx context.Context, began time.Time, c config, k8s client.Client, cfg *rest.Config, cl *conjur, r *Report) error {
	// A Lease held by someone else for a day: the replica stays a
	// standby, as a new pod joining a running installation does, so its
	// status reconcilers do not run.
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: app.Defaults().LeaderElectionID},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("scalebench-leader"), LeaseDurationSeconds: ptr.To[int32](24 * 3600),
			AcquireTime: &now, RenewTime: &now}}
	if err := k8s.Create(ctx, lease); err != nil {
		return fmt.Errorf("failed to create the leader's Lease: %w", err)
	}

	var stored metav1.PartialObjectMetadataList
	stored.SetGroupVersionKind(authnv1alpha1.GroupVersion.WithKind("AzureHostList"))
	if err := k8s.List(ctx, &stored); err != nil {
		return fmt.Errorf("failed to count the stored hosts: %w", err)
	}
	have := len(stored.Items)
	if have > c.startupHosts {
		return fmt.Errorf("%d hosts are stored already, more than --startup-hosts %d", have, c.startupHosts)
	}
	r.StartupHosts, r.StartupCreated, r.StartupCreateWorkers = c.startupHosts, c.startupHosts-have, c.startupWorkers
	start := time.Now()
	var done atomic.Int64
	stopTicker := ticker(began, 30*time.Second, func() string { return fmt.Sprintf("%d of %d created", done.Load(), r.StartupCreated) })
	err := parallel(c.startupWorkers, r.StartupCreated, func(i int) error {
		defer done.Add(1)
		return k8s.Create(ctx, host(fmt.Sprintf("s-%d", i), fmt.Sprintf("rg-%d", i%50)))
	})
	stopTicker()
	if err != nil {
		return fmt.Errorf("failed to create the start-up hosts: %w", err)
	}
	r.StartupCreateSeconds = time.Since(start).Seconds()
	r.StartupCreatesPerSecond = float64(r.StartupCreated) / r.StartupCreateSeconds
	progress(began, "%d more hosts created in %.1fs (%.0f/s), %d stored", r.StartupCreated, r.StartupCreateSeconds, r.StartupCreatesPerSecond, c.startupHosts)

	before := heapInuse()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return fmt.Errorf("failed to create the CPU profile: %w", err)
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("failed to start the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile() // early returns; stopping twice is harmless
	}
	b, err := startReplica(cfg, func(o *app.Options) { o.LeaderElection = true })
	if err != nil {
		return err
	}
	// A standby stopping makes controller-runtime log "leader election
	// lost": expected.
	defer b.stop()
	since := func() float64 { return time.Since(b.started).Seconds() }
	if err := until(ctx, 5*time.Millisecond, b.Index.Synced); err != nil {
		return fmt.Errorf("the fresh replica's index never synced: %w", err)
	}
	r.StartupIndexSyncedSeconds = since()
	if err := until(ctx, 5*time.Millisecond, func() bool { return b.Ready() == nil }); err != nil {
		return fmt.Errorf("the fresh replica never got ready: %w", err)
	}
	r.StartupReadySeconds = since()
	cl.base = b.base
	if err := until(ctx, 2*time.Millisecond, func() bool { s, _ := cl.authenticate(grantee); return s == http.StatusOK }); err != nil {
		return fmt.Errorf("host %s never authenticated on the fresh replica: %w", grantee, err)
	}
	r.StartupFirstAuthSeconds = since()
	pprof.StopCPUProfile()
	if n := b.Index.Stats().Hosts; n != c.startupHosts {
		return fmt.Errorf("the fresh replica indexed %d hosts, not %d", n, c.startupHosts)
	}
	grown := float64(heapInuse()) - float64(before)
	r.StartupHeapWithCacheMiB = grown / (1 << 20)
	r.StartupHeapWithCacheBytesPerHost = grown / float64(c.startupHosts)
	start = time.Now()
	if err := k8s.List(ctx, &authnv1alpha1.AzureHostList{}); err != nil {
		return fmt.Errorf("failed to list every host: %w", err)
	}
	r.StartupListSeconds = time.Since(start).Seconds()
	progress(began, "fresh replica with %d hosts: index synced in %.2fs, ready in %.2fs, authenticated in %.2fs, heap +%.0f MiB; a plain List took %.2fs",
		c.startupHosts, r.StartupIndexSyncedSeconds, r.StartupReadySeconds, r.StartupFirstAuthSeconds, r.StartupHeapWithCacheMiB, r.StartupListSeconds)
	return nil
}

// replica is one manager of the product running in this process.
type replica struct {
	*app.App
	base    string    // its HTTPS server's URL
	started time.Time // just before Start
	stop    func()    // ends it and waits for Start to return; idempotent
}

// startReplica assembles the product as main.go does, with its own
// listener on loopback, mutate changing the options, and starts it.
func startReplica(cfg *rest.Config, mutate func(*app.Options)) (*replica, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("failed to listen: %w", err)
	}
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr, o.Namespace, o.Audit = "0", "0", "default", io.Discard
	o.TLSSecret, o.TLSSANs, o.SigningKeySecret = "scale-tls", []string{"127.0.0.1"}, "scale-signing-keys"
	// The start-up phase runs a second manager in this process.
	o.Testing = app.Testing{Listener: ln, DialContext: loopback.DialContext, SeveralManagers: true}
	mutate(&o)
	a, err := app.New(cfg, o)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("failed to assemble a replica: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &replica{App: a, base: "https://" + ln.Addr().String(), started: time.Now()}
	go func() { done <- a.Start(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintln(os.Stderr, "scalebench: a replica stopped with:", err)
			}
		})
	}
	return r, nil
}

// conjur is a workload's client of the product's REST API.
type conjur struct {
	hc   *http.Client
	base string
	jwt  string // the Azure token every host of rg-propagation presents
}

// authenticate logs in as host name and returns the status and the access
// token (0 and nil when the request failed).
func (c *conjur) authenticate(name string) (int, []byte) {
	resp, err := c.hc.Post(c.base+"/authn-azure/prod/default/"+url.PathEscape("host/"+namespace+"/"+name)+"/authenticate",
		"application/x-www-form-urlencoded", strings.NewReader("jwt="+c.jwt))
	if err != nil {
		return 0, nil
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, body
}

// fetch reads secret id with an access token and returns the status.
func (c *conjur) fetch(token []byte, id string) int {
	req, err := http.NewRequest(http.MethodGet, c.base+"/secrets/default/variable/"+url.PathEscape(id), nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", `Token token="`+base64.StdEncoding.EncodeToString(token)+`"`)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// heapInuse is the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// ticker tells what a long step has done so far, every period, until the
// returned stop is called (stopping twice is harmless).
func ticker(began time.Time, period time.Duration, what func() string) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				progress(began, "%s", what())
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

func host(name, rg string) *authnv1alpha1.AzureHost {
	return &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: authnv1alpha1.AzureHostSpec{SubscriptionID: subscription, ResourceGroup: rg}}
}

func readyHosts(ctx context.Context, c client.Reader) int {
	var list authnv1alpha1.AzureHostList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
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

// trace is a line of where the hosts phase is, from this process's cache
// and metrics (no request to the API server): hosts created, in the
// replica's cache (the watch can fall behind the writes) and Ready there,
// status reconciles by result and their mean time, the work queue's
// depth, and this process's API requests by method (creates and Events
// are POSTs, status writes PATCHes).
func trace(ctx context.Context, a *replica, created int64) string {
	var list authnv1alpha1.AzureHostList
	ready := 0
	if err := a.Manager.GetCache().List(ctx, &list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err == nil {
		for _, h := range list.Items {
			if c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
				ready++
			}
		}
	}
	reqs := map[string]float64{}
	depth, results, rsum, rcount := 0.0, map[string]float64{}, 0.0, uint64(0)
	families, _ := ctrlmetrics.Registry.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			lbl := map[string]string{}
			for _, l := range m.GetLabel() {
				lbl[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "rest_client_requests_total":
				reqs[lbl["method"]] += m.GetCounter().GetValue()
			case "controller_runtime_reconcile_total":
				if lbl["controller"] == "azurehost-status" {
					results[lbl["result"]] += m.GetCounter().GetValue()
				}
			case "controller_runtime_reconcile_time_seconds":
				if lbl["controller"] == "azurehost-status" {
					rsum, rcount = m.GetHistogram().GetSampleSum(), m.GetHistogram().GetSampleCount()
				}
			case "workqueue_depth":
				if lbl["name"] == "azurehost-status" {
					depth = m.GetGauge().GetValue()
				}
			}
		}
	}
	return fmt.Sprintf("created %d, cached %d ready %d, reconciles %v (%.1f ms mean), queue %.0f, requests %v",
		created, len(list.Items), ready, results, 1e3*rsum/float64(max(rcount, 1)), depth, reqs)
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
