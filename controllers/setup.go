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

package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// eventReporter is the name our events carry as their reporting controller.
const eventReporter = "azure-authenticator"

// Options are what the status reconcilers learn from the rest of the
// manager.
type Options struct {
	// ProviderHealth, when set, reports provider key health into the
	// AzureAuthenticators' status.
	ProviderHealth func(policy.Provider) policy.ProviderHealth
	// SecretNamespaces are the namespaces whose exposed Secrets are served
	// (all when empty); hosts elsewhere get SecretsServable=False.
	SecretNamespaces []string
	// SecretsHealth says whether this manager can serve a namespace's
	// exposed Secrets now; hosts of a namespace it cannot serve get
	// SecretsServable=False with the reason. Nil: this manager serves no
	// Secrets and leaves SecretsServable alone.
	SecretsHealth SecretsHealth
}

// SetupWithManager adds the status reconcilers (leader only) to the
// manager.
func SetupWithManager(mgr ctrl.Manager, o Options) error {
	recorder := mgr.GetEventRecorder(eventReporter)
	if err := (&AzureHostReconciler{Client: mgr.GetClient(), Recorder: recorder,
		SecretNamespaces: o.SecretNamespaces, SecretsHealth: o.SecretsHealth}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the AzureHost status controller: %w", err)
	}
	if err := (&AzureAuthenticatorReconciler{Client: mgr.GetClient(), Recorder: recorder, Health: o.ProviderHealth}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the AzureAuthenticator status controller: %w", err)
	}
	return nil
}

// patchStatus writes obj's status as set changes it, under optimistic
// locking, and says whether it was written. A conflict is no error: the
// cached copy was stale, and the newer version's event is already on its
// way to reconcile again; nor is an object deleted meanwhile: it has no
// status left to write.
func patchStatus(ctx context.Context, c client.Client, kind string, obj client.Object, set func()) (bool, error) {
	patch := client.MergeFromWithOptions(obj.DeepCopyObject().(client.Object), client.MergeFromWithOptimisticLock{})
	set()
	if err := c.Status().Patch(ctx, obj, patch); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("failed to patch %s status: %w", kind, err)
	}
	return true, nil
}
