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
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// AzureAuthenticatorReconciler writes each AzureAuthenticator's status:
// whether its spec is valid and, when Health is set, whether this replica
// holds usable signing keys for every provider.
type AzureAuthenticatorReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// Health reports a provider's cached key state (the HTTPS
	// authenticator's key sets); nil when no authenticator runs.
	Health func(policy.Provider) policy.ProviderHealth
}

// Key health is polled: soon while a provider is unavailable, rarely once
// all are healthy.
const (
	recheckUnhealthy = 5 * time.Second
	recheckHealthy   = time.Minute
)

// +kubebuilder:rbac:groups=authn.dap.io,resources=azureauthenticators/status,verbs=patch

// Reconcile validates the AzureAuthenticator and writes its status when it changed.
func (r *AzureAuthenticatorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	auth := &authnv1alpha1.AzureAuthenticator{}
	if err := r.Client.Get(ctx, req.NamespacedName, auth); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status := r.desiredStatus(auth)
	result := ctrl.Result{}
	if r.Health != nil {
		result.RequeueAfter = recheckHealthy
		if c := meta.FindStatusCondition(status.Conditions, authnv1alpha1.ConditionReady); c.Reason == authnv1alpha1.ReasonProviderUnavailable {
			result.RequeueAfter = recheckUnhealthy
		}
	}
	if equality.Semantic.DeepEqual(auth.Status, status) {
		return result, nil
	}
	before := meta.FindStatusCondition(auth.Status.Conditions, authnv1alpha1.ConditionReady).DeepCopy()
	if written, err := patchStatus(ctx, r.Client, "AzureAuthenticator", auth, func() { auth.Status = status }); !written {
		return ctrl.Result{}, err
	}
	// Only a transition written is news (see the AzureHost reconciler).
	if after := meta.FindStatusCondition(status.Conditions, authnv1alpha1.ConditionReady); r.Recorder != nil &&
		(before == nil || before.Reason != after.Reason) {
		eventType := corev1.EventTypeNormal
		if after.Status == metav1.ConditionFalse {
			eventType = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(auth, nil, eventType, after.Reason, "Reconcile", "%s", after.Message)
	}
	return result, nil
}

func (r *AzureAuthenticatorReconciler) desiredStatus(auth *authnv1alpha1.AzureAuthenticator) authnv1alpha1.AzureAuthenticatorStatus {
	status := *auth.Status.DeepCopy()
	status.ObservedGeneration = auth.Generation
	ready := metav1.Condition{Type: authnv1alpha1.ConditionReady, ObservedGeneration: auth.Generation}
	compiled, err := compile.Authenticator(auth)
	switch {
	case err != nil:
		status.Providers = nil
		ready.Status, ready.Reason = metav1.ConditionFalse, authnv1alpha1.ReasonInvalidSpec
		ready.Message = truncate("The spec is invalid, so the authenticator is not indexed and admits no host: " + err.Error())
	case r.Health == nil:
		ready.Status, ready.Reason = metav1.ConditionUnknown, authnv1alpha1.ReasonAccepted
		ready.Message = "The spec is valid and indexed; provider keys have not been checked"
	default:
		status.Providers = nil
		var unhealthy []string
		for _, p := range compiled.Providers {
			h := r.Health(p)
			ps := authnv1alpha1.ProviderStatus{URI: p.Issuer, Keys: int32(min(h.Keys, 1<<30)), Error: h.Err} //nolint:gosec // G115: clamped just before
			if !h.LastRefresh.IsZero() {
				// Second precision, as stored: otherwise every reconcile
				// would see a difference and rewrite the status.
				t := metav1.NewTime(h.LastRefresh.Truncate(time.Second))
				ps.LastRefreshTime = &t
			}
			status.Providers = append(status.Providers, ps)
			if h.Keys == 0 {
				unhealthy = append(unhealthy, p.Issuer)
			}
		}
		switch {
		case !compiled.Enabled:
			ready.Status, ready.Reason = metav1.ConditionFalse, authnv1alpha1.ReasonDisabled
			ready.Message = "spec.enabled is false: every login is refused"
		case len(unhealthy) > 0:
			ready.Status, ready.Reason = metav1.ConditionFalse, authnv1alpha1.ReasonProviderUnavailable
			ready.Message = truncate("No usable signing keys for provider(s) " + strings.Join(unhealthy, ", ") + "; see status.providers")
		default:
			ready.Status, ready.Reason = metav1.ConditionTrue, authnv1alpha1.ReasonKeysAvailable
			ready.Message = "Enabled, and every provider's signing keys are cached"
		}
	}
	meta.SetStatusCondition(&status.Conditions, ready)
	return status
}

// SetupWithManager registers the controller; it runs on the leader only.
func (r *AzureAuthenticatorReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("azureauthenticator-status").
		// Only the spec decides validity; status-only updates need no work.
		For(&authnv1alpha1.AzureAuthenticator{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}
