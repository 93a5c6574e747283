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

// Package feed keeps this replica's in-memory views equal to the API
// server, on every replica: IndexFeeder compiles AzureHosts,
// AzureAuthenticators and Namespaces from the manager's informer cache
// into the policy index; SecretFeeder keeps the exposed Secrets from
// label-selected informers of its own. Both turn "store this object" and
// "forget this key" into an informer event handler (Handler), so adds,
// updates, deletes and missed-delete tombstones are handled the same way.
//
// It never writes to the API server and never imports the controllers or
// the HTTP side.
package feed

import (
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Handler calls put for every added or updated object of type T and
// remove with the key of every deleted one, also when the informer missed
// the delete and hands over a tombstone. An object marked for deletion
// (deletionTimestamp set, held by a finalizer) counts as deleted: after
// `kubectl delete` it must stop granting anything, whoever still holds it.
// Objects of other types are ignored.
func Handler[T client.Object](put func(T), remove func(client.ObjectKey)) toolscache.ResourceEventHandler {
	store := func(obj any) {
		o, ok := obj.(T)
		switch {
		case !ok:
		case o.GetDeletionTimestamp() != nil:
			remove(client.ObjectKeyFromObject(o))
		default:
			put(o)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    store,
		UpdateFunc: func(_, obj any) { store(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				if ns, name, err := toolscache.SplitMetaNamespaceKey(t.Key); err == nil {
					remove(client.ObjectKey{Namespace: ns, Name: name})
				}
				return
			}
			if o, ok := obj.(client.Object); ok {
				remove(client.ObjectKeyFromObject(o))
			}
		},
	}
}
