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

package feed

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azure-authenticator/azure-authenticator/internal/health"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

// SecretFeeder keeps a secrets.Store equal to the exposed Secrets, on every
// replica, with one informer per source of the store: one per namespace
// listed in --secret-namespaces, so that each syncs and fails on its own
// (a namespace whose Role is missing never holds the others back), or one
// cluster-wide informer when all namespaces are served (then they fail
// together: one permission covers them all). Only Secrets labelled
// authn.dap.io/expose=true are listed, so the manager never holds other
// Secrets in memory; it still needs list/watch on Secrets in those
// namespaces, since RBAC cannot be narrowed by label.
//
// Nothing waits for it: authentication and readiness never depend on
// Secrets. Each source's state goes to the store (its secret requests get
// 503 until it has synced and while it fails), to the metric
// azure_authenticator_secrets_servable and to the log.
type SecretFeeder struct {
	Client kubernetes.Interface
	Store  *secrets.Store
	Health *health.Informers
	Log    logr.Logger

	mu         sync.Mutex
	unservable map[string]string // last logged Unservable, per source
}

// NeedLeaderElection is false: every replica serves secrets.
func (f *SecretFeeder) NeedLeaderElection() bool { return false }

// Start feeds the store until ctx ends.
func (f *SecretFeeder) Start(ctx context.Context) error {
	f.unservable = map[string]string{}
	var wg sync.WaitGroup
	for _, src := range f.Store.Sources() {
		f.report(src)
		inf := f.informer(src)
		reg, err := inf.AddEventHandler(Handler(func(s *corev1.Secret) {
			f.Store.Put(s.Namespace, s.Name, secrets.Compile(s.Namespace, s.Name, s.Labels, s.Annotations, s.Data))
		}, func(key client.ObjectKey) { f.Store.Put(key.Namespace, key.Name, nil) }))
		if err != nil {
			return err // cannot happen: the informer has not started
		}
		wg.Go(func() { inf.RunWithContext(ctx) })
		wg.Go(func() {
			if toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
				f.Store.SetSynced(src)
				f.report(src)
			}
		})
	}
	wg.Wait()
	return nil
}

// informer lists and watches the exposed Secrets of one source, reporting
// its list/watch health to the store (and the metric of its informer).
func (f *SecretFeeder) informer(src string) toolscache.SharedIndexInformer {
	api := f.Client.CoreV1().Secrets(src) // AllNamespaces is "": every namespace
	selector := labels.SelectorFromSet(labels.Set{secrets.ExposeLabel: "true"}).String()
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return api.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return api.Watch(ctx, o)
		},
	}
	name := secretInformerName(src)
	tracked := f.Health.Informer(name, false, func(reason string) {
		f.Store.SetFailing(src, reason)
		f.report(src)
	})
	return tracked.Instrument(toolscache.ToListWatcherWithWatchListSemantics(lw, f.Client), nil,
		func(lw toolscache.ListerWatcher) toolscache.SharedIndexInformer {
			return toolscache.NewSharedIndexInformerWithOptions(lw, &corev1.Secret{},
				toolscache.SharedIndexInformerOptions{ObjectDescription: name}) // names it in client-go's logs
		})
}

// report publishes a source's servability and logs when it changes: this
// replica keeps authenticating whatever it says, so it is a metric and a
// log line, not a readiness gate.
func (f *SecretFeeder) report(src string) {
	label := src
	if src == secrets.AllNamespaces {
		label = "*"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	reason := f.Store.Unservable(src) // with all namespaces, any name asks the one source
	before, seen := f.unservable[src]
	f.unservable[src] = reason
	servable := 0.0
	if reason == "" {
		servable = 1
	}
	secretsServable.WithLabelValues(label).Set(servable)
	switch {
	case seen && before == reason:
	case reason == "":
		f.Log.Info("Serving the exposed Secrets of namespace", "namespace", label, "secrets", f.count(src))
	case reason == "not synced yet" && !seen:
	default:
		f.Log.Info("Cannot serve the exposed Secrets of namespace: its secret requests get 503, authentication is unaffected",
			"namespace", label, "reason", reason)
	}
}

func (f *SecretFeeder) count(src string) int {
	if src == secrets.AllNamespaces {
		return f.Store.Len()
	}
	return f.Store.LenIn(src)
}

// secretInformerName is the informer label of a source's informer.
func secretInformerName(src string) string {
	if src == secrets.AllNamespaces {
		return "secrets"
	}
	return "secrets/" + src
}

// secretsServable's label values are fixed by the flags (the
// --secret-namespaces served, "*" for all), never request text.
var secretsServable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "azure_authenticator_secrets_servable",
	Help: "1 when the exposed Secrets of the namespace (* for all namespaces) are served, 0 while they are not (not synced yet, or cannot be listed): their secret requests get 503.",
}, []string{"namespace"})

func init() {
	ctrlmetrics.Registry.MustRegister(indexHosts, secretsServable)
}
