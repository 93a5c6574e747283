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

package authn

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azure-authenticator/azure-authenticator/authn/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/feed"
)

// SecretCacheOptions scope the Secret cache: only Secrets labelled
// authn.dap.io/expose=true, and only in namespaces (all when empty). The
// manager still needs get/list/watch on Secrets in those namespaces:
// Kubernetes RBAC cannot be narrowed by label.
func SecretCacheOptions(namespaces []string) cache.Options {
	o := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{secrets.ExposeLabel: "true"})},
		},
	}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// SecretFeeder keeps a secrets.Store equal to the exposed Secrets in its
// cache, on every replica, and marks it synced after the initial list.
type SecretFeeder struct {
	Cache cache.Cache
	Store *secrets.Store
}

// NeedLeaderElection is false: every replica serves secrets.
func (f *SecretFeeder) NeedLeaderElection() bool { return false }

// Start feeds the store until ctx ends.
func (f *SecretFeeder) Start(ctx context.Context) error {
	inf, err := f.Cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("failed to get the Secret informer: %w", err)
	}
	reg, err := inf.AddEventHandler(feed.Handler(func(s *corev1.Secret) {
		f.Store.Put(s.Namespace, s.Name, secrets.Compile(s.Namespace, s.Name, s.Labels, s.Annotations, s.Data))
	}, func(key client.ObjectKey) { f.Store.Put(key.Namespace, key.Name, nil) }))
	if err != nil {
		return fmt.Errorf("failed to watch Secrets: %w", err)
	}
	defer func() { _ = inf.RemoveEventHandler(reg) }()
	if !toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
		return nil
	}
	f.Store.MarkSynced()
	<-ctx.Done()
	return nil
}
