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
	"fmt"
	"maps"

	"github.com/prometheus/client_golang/prometheus"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// IndexFeeder keeps a policy.Index equal to the informer cache: every
// AzureHost, AzureAuthenticator and Namespace event is compiled and written
// to the index as it arrives.
//
// It runs on every replica (NeedLeaderElection is false), so a standby
// replica's index is as current as the leader's. It feeds the index from
// informer event handlers rather than a reconcile queue because a handler
// sees each object's events in order and reports, through its registration,
// when it has received the whole initial list: that is when the index is
// marked synced.
type IndexFeeder struct {
	Cache cache.Cache
	Index *policy.Index
}

// NeedLeaderElection is false: every replica serves, so every replica
// keeps its own index.
func (f *IndexFeeder) NeedLeaderElection() bool { return false }

// Start registers the handlers, marks the index synced once they have
// received the initial lists, and returns when ctx ends.
func (f *IndexFeeder) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("index")
	feeds := []struct {
		obj     client.Object
		handler toolscache.ResourceEventHandler
	}{
		{&authnv1alpha1.AzureHost{}, f.hostHandler(log)},
		{&authnv1alpha1.AzureAuthenticator{}, f.authenticatorHandler(log)},
		{NamespaceMetadata(), f.namespaceHandler()},
	}
	var synced []toolscache.InformerSynced
	for _, feed := range feeds {
		inf, err := f.Cache.GetInformer(ctx, feed.obj)
		if err != nil {
			return fmt.Errorf("failed to get informer for %T: %w", feed.obj, err)
		}
		reg, err := inf.AddEventHandler(feed.handler)
		if err != nil {
			return fmt.Errorf("failed to add index handler for %T: %w", feed.obj, err)
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
		synced = append(synced, reg.HasSynced)
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil // ctx ended first
	}
	f.Index.MarkSynced()
	stats := f.Index.Stats()
	log.Info("Policy index synced", "hosts", stats.Hosts, "authenticators", stats.Authenticators, "namespaces", stats.Namespaces)
	<-ctx.Done()
	return nil
}

// NamespaceMetadata is the object used to watch Namespaces: only their
// metadata (labels) is needed, so the cache holds nothing else.
func NamespaceMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return m
}

type logger interface {
	Info(msg string, keysAndValues ...any)
}

func (f *IndexFeeder) hostHandler(log logger) toolscache.ResourceEventHandler {
	return Handler(func(host *authnv1alpha1.AzureHost) {
		compiled, err := compile.Host(host)
		if err != nil {
			// Never index an invalid host; the status controller says why.
			f.Index.DeleteHost(policy.HostID{Namespace: host.Namespace, Name: host.Name})
			f.countHosts()
			log.Info("AzureHost not indexed: invalid spec", "azurehost", client.ObjectKeyFromObject(host), "error", err.Error())
			return
		}
		f.Index.PutHost(compiled)
		f.countHosts()
	}, func(key client.ObjectKey) {
		f.Index.DeleteHost(policy.HostID{Namespace: key.Namespace, Name: key.Name})
		f.countHosts()
	})
}

// countHosts publishes the index's host count after each host change.
func (f *IndexFeeder) countHosts() { indexHosts.Set(float64(f.Index.Stats().Hosts)) }

var indexHosts = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "azure_authenticator_index_hosts",
	Help: "AzureHosts in this replica's policy index.",
})

func (f *IndexFeeder) authenticatorHandler(log logger) toolscache.ResourceEventHandler {
	return Handler(func(auth *authnv1alpha1.AzureAuthenticator) {
		compiled, err := compile.Authenticator(auth)
		if err != nil {
			f.Index.DeleteAuthenticator(auth.Name)
			log.Info("AzureAuthenticator not indexed: invalid spec", "azureauthenticator", auth.Name, "error", err.Error())
			return
		}
		f.Index.PutAuthenticator(compiled)
	}, func(key client.ObjectKey) { f.Index.DeleteAuthenticator(key.Name) })
}

func (f *IndexFeeder) namespaceHandler() toolscache.ResourceEventHandler {
	return Handler(func(ns *metav1.PartialObjectMetadata) {
		// Copy: the cache's label map must stay the cache's.
		f.Index.PutNamespace(ns.GetName(), labels.Set(maps.Clone(ns.GetLabels())))
	}, func(key client.ObjectKey) { f.Index.DeleteNamespace(key.Name) })
}
