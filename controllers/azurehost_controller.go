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

// Package controllers turns AzureHost, AzureAuthenticator and Namespace
// objects into the policy index that the HTTPS authenticator reads, and
// reports on each object in its status.
//
// The status reconcilers run on the elected leader only and write each
// object's status and events; they never touch the index, which
// internal/feed keeps on every replica. Both compile objects with
// internal/compile and decide admission with policy.Authenticator.Admits,
// so status and index cannot disagree about what an object means.
//
// It imports the API, the domain packages and internal/feed (for the
// Namespace object both watch), never the HTTP side.
package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
	"github.com/azure-authenticator/azure-authenticator/internal/feed"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// maxConditionMessage keeps condition messages well under the API's limit.
const maxConditionMessage = 2048

// AzureHostReconciler writes each AzureHost's status: its host id, the
// authenticators that admit it, and whether it is Ready.
type AzureHostReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// SecretNamespaces are the namespaces whose Secrets are served; empty
	// means all.
	SecretNamespaces []string
	// SecretsHealth, when set, decides SecretsServable; nil leaves the
	// condition alone (see Options.SecretsHealth).
	SecretsHealth SecretsHealth
}

// SecretsHealth is this manager's view of whether it can serve each
// namespace's exposed Secrets (internal/secrets.Store implements it). The
// leader's view is reported: every replica has the same permissions.
type SecretsHealth interface {
	// Servable reports whether the exposed Secrets of namespace are served
	// now and, when not, why; known is false while the first list is still
	// loading without error.
	Servable(namespace string) (ok, known bool, reason string)
	// OnChange calls fn with a namespace ("" for all of them) whenever its
	// answer may have changed, until cancel is called; fn must not block.
	OnChange(fn func(namespace string)) (cancel func())
}

// Each verb is needed; test/install shows it against the chart's RBAC,
// which these markers mirror for config/rbac.
// +kubebuilder:rbac:groups=authn.dap.io,resources=azurehosts,verbs=list;watch
// +kubebuilder:rbac:groups=authn.dap.io,resources=azurehosts/status,verbs=patch
// +kubebuilder:rbac:groups=authn.dap.io,resources=azureauthenticators,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile computes the AzureHost's status and writes it when it changed.
func (r *AzureHostReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	host := &authnv1alpha1.AzureHost{}
	if err := r.Client.Get(ctx, req.NamespacedName, host); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	status, err := r.desiredStatus(ctx, host)
	if err != nil {
		return ctrl.Result{}, err
	}
	if equality.Semantic.DeepEqual(host.Status, status) {
		return ctrl.Result{}, nil
	}
	before := slices.Clone(host.Status.Conditions)
	written, err := patchStatus(ctx, r.Client, "AzureHost", host, func() { host.Status = status })
	if written {
		// Only a transition written is news: a write that lost to a newer
		// version is decided again from it, and must not be told twice.
		r.recordTransitions(host, before, &status)
	}
	return ctrl.Result{}, err
}

func (r *AzureHostReconciler) desiredStatus(ctx context.Context, host *authnv1alpha1.AzureHost) (authnv1alpha1.AzureHostStatus, error) {
	status := *host.Status.DeepCopy()
	status.ObservedGeneration = host.Generation
	status.HostID = policy.HostID{Namespace: host.Namespace, Name: host.Name}.String()
	status.Identity = compile.Identity(&host.Spec)
	ready := metav1.Condition{Type: authnv1alpha1.ConditionReady, ObservedGeneration: host.Generation}

	compiled, err := compile.Host(host)
	if err != nil {
		status.Authenticators = nil
		ready.Status, ready.Reason = metav1.ConditionFalse, authnv1alpha1.ReasonInvalidSpec
		ready.Message = truncate("The spec is invalid, so the host is not indexed: " + err.Error())
	} else {
		admitting, err := r.admittingAuthenticators(ctx, compiled)
		if err != nil {
			return status, err
		}
		status.Authenticators = admitting
		if len(admitting) > 0 {
			ready.Status, ready.Reason = metav1.ConditionTrue, authnv1alpha1.ReasonAdmitted
			ready.Message = truncate("Indexed; admitted by AzureAuthenticator " + strings.Join(admitting, ", "))
		} else {
			ready.Status, ready.Reason = metav1.ConditionFalse, authnv1alpha1.ReasonNoAuthenticator
			ready.Message = "Indexed, but no enabled AzureAuthenticator admits this host: check the authenticators' spec.allowedHosts selectors against this namespace's and this host's labels"
		}
	}
	meta.SetStatusCondition(&status.Conditions, ready)
	meta.SetStatusCondition(&status.Conditions, sharedIdentityCondition(host))
	if c, ok := r.secretsServableCondition(host); ok {
		meta.SetStatusCondition(&status.Conditions, c)
	}
	return status, nil
}

// sharedIdentityCondition warns about hosts that every pod of an AKS
// cluster can log in as: on an AKS node resource group (MC_*), a host that
// accepts the whole resource group, or the kubelet identity
// (<cluster>-agentpool), accepts tokens that any pod can get from the
// nodes' IMDS.
func sharedIdentityCondition(host *authnv1alpha1.AzureHost) metav1.Condition {
	c := metav1.Condition{
		Type:               authnv1alpha1.ConditionSharedIdentity,
		Status:             metav1.ConditionFalse,
		Reason:             authnv1alpha1.ReasonNarrowIdentity,
		Message:            "The host does not accept an AKS node identity that every pod shares",
		ObservedGeneration: host.Generation,
	}
	s := &host.Spec
	onNodeRG := len(s.ResourceGroup) >= 3 && strings.EqualFold(s.ResourceGroup[:3], "MC_")
	rgWide := s.UserAssignedIdentity == "" && s.SystemAssignedIdentity == ""
	kubelet := strings.HasSuffix(strings.ToLower(s.UserAssignedIdentity), "-agentpool")
	if onNodeRG && (rgWide || kubelet) {
		accepts := "the kubelet identity"
		if rgWide {
			accepts = "any identity in it"
		}
		c.Status, c.Reason = metav1.ConditionTrue, authnv1alpha1.ReasonAKSNodeResourceGroup
		c.Message = "resourceGroup looks like an AKS node resource group and the host accepts " + accepts +
			": every pod of that cluster can obtain such a token from the nodes' IMDS and log in as this host; " +
			"accept a user-assigned identity that only your workload's nodes carry instead"
	}
	return c
}

// secretsServableCondition says whether this manager serves the exposed
// Secrets of the host's namespace now: outside --secret-namespaces never,
// inside while it can list them. ok is false when the condition is to be
// left as it is: without SecretsHealth, and while the namespace's first
// list is still loading (so a leader's start does not flip every host to
// False and back).
func (r *AzureHostReconciler) secretsServableCondition(host *authnv1alpha1.AzureHost) (c metav1.Condition, ok bool) {
	if r.SecretsHealth == nil {
		return c, false
	}
	c = metav1.Condition{Type: authnv1alpha1.ConditionSecretsServable, ObservedGeneration: host.Generation,
		Status: metav1.ConditionTrue, Reason: authnv1alpha1.ReasonNamespaceServed,
		Message: "Exposed Secrets in this namespace can be read by this host"}
	if len(r.SecretNamespaces) > 0 && !slices.Contains(r.SecretNamespaces, host.Namespace) {
		c.Status, c.Reason = metav1.ConditionFalse, authnv1alpha1.ReasonNamespaceNotServed
		c.Message = "The manager serves Secrets only from namespaces " + strings.Join(r.SecretNamespaces, ", ") + " (--secret-namespaces): this host can authenticate but cannot read Secrets"
		return c, true
	}
	servable, known, reason := r.SecretsHealth.Servable(host.Namespace)
	switch {
	case !known:
		return c, false
	case !servable:
		c.Status, c.Reason = metav1.ConditionFalse, authnv1alpha1.ReasonSecretsUnavailable
		c.Message = truncate("The manager cannot serve the exposed Secrets of this namespace now (" + reason + "): " +
			"this host can authenticate, but its secret requests get 503 until the manager may get, list and watch Secrets in this namespace again")
	}
	return c, true
}

// authenticatorSpecChanged passes an AzureAuthenticator's creation,
// deletion and spec changes; compile.Authenticator reads its name and spec
// only, and the API server raises the generation on every spec change.
var authenticatorSpecChanged = predicate.GenerationChangedPredicate{}

func (r *AzureHostReconciler) admittingAuthenticators(ctx context.Context, host *policy.Host) ([]string, error) {
	var auths authnv1alpha1.AzureAuthenticatorList
	if err := r.Client.List(ctx, &auths); err != nil {
		return nil, fmt.Errorf("failed to list AzureAuthenticators: %w", err)
	}
	ns, err := namespaceOf(ctx, r.Client, host.ID.Namespace)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range auths.Items {
		compiled, err := compile.Authenticator(&auths.Items[i])
		if err != nil {
			continue // invalid authenticators admit nothing
		}
		if compiled.Admits(ns, host) {
			out = append(out, compiled.ServiceID)
		}
	}
	return out, nil // List returns items sorted by name
}

// namespaceOf reads a namespace's labels from the cache; a namespace the
// cache has not seen is reported as unknown, which admits nothing.
func namespaceOf(ctx context.Context, c client.Reader, name string) (policy.Namespace, error) {
	ns := feed.NamespaceMetadata() // the feeder's type: one informer for both
	if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return policy.Namespace{}, nil
		}
		return policy.Namespace{}, fmt.Errorf("failed to get Namespace %s: %w", name, err)
	}
	return policy.Namespace{Known: true, Labels: labels.Set(ns.GetLabels())}, nil
}

// recordTransitions emits an event when Ready or SharedIdentity changes.
func (r *AzureHostReconciler) recordTransitions(host *authnv1alpha1.AzureHost, before []metav1.Condition, next *authnv1alpha1.AzureHostStatus) {
	if r.Recorder == nil {
		return
	}
	for _, t := range []string{authnv1alpha1.ConditionReady, authnv1alpha1.ConditionSharedIdentity} {
		was := meta.FindStatusCondition(before, t)
		after := meta.FindStatusCondition(next.Conditions, t)
		if after == nil || (was != nil && was.Status == after.Status && was.Reason == after.Reason) {
			continue
		}
		if t == authnv1alpha1.ConditionSharedIdentity && after.Status != metav1.ConditionTrue {
			continue // only the warning is news
		}
		eventType := corev1.EventTypeNormal
		if after.Reason != authnv1alpha1.ReasonAdmitted {
			eventType = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(host, nil, eventType, after.Reason, "Reconcile", "%s", after.Message)
	}
}

// hostStatusWorkers is how many hosts' status is reconciled at once. More
// is not faster on a busy API server: with 32, hack/scalebench's 10,000
// hosts got Ready later (58 s, not 48 to 49 s, on 2 cores), the API
// server's watch falling thousands of objects behind its writes, and a
// host is reconciled only once its watch event arrives.
const hostStatusWorkers = 8

// SetupWithManager registers the controller; it runs on the leader only.
func (r *AzureHostReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("azurehost-status").
		// Each reconcile waits on one status patch: several at once keep
		// a mass creation from queueing behind one round trip at a time
		// (a key is never reconciled twice at once).
		WithOptions(controller.Options{MaxConcurrentReconciles: hostStatusWorkers}).
		// Every change to a host, labels included, can change which
		// authenticators admit it; the status write it causes comes back as
		// an update that finds nothing to do.
		For(&authnv1alpha1.AzureHost{}).
		// An authenticator's selectors, enabled flag or validity decide
		// which hosts it admits: re-check every host, but only when its
		// spec changed (or it came or went). Its own status writes (key
		// loads and refreshes) changed nothing a host's status reads, and
		// re-checked every host each time.
		Watches(&authnv1alpha1.AzureAuthenticator{}, handler.EnqueueRequestsFromMapFunc(r.allHosts),
			builder.WithPredicates(authenticatorSpecChanged)).
		// A namespace's labels decide which namespace selectors match its
		// hosts; only label changes (and creation/deletion) matter.
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.hostsInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{}))
	if r.SecretsHealth != nil {
		// Whether a namespace's Secrets can be listed changes without any
		// object changing: re-check its hosts when it does.
		b = b.WatchesRawSource(source.Func(r.watchSecretsHealth))
	}
	return b.Complete(r)
}

// watchSecretsHealth enqueues the hosts of every namespace whose Secrets
// health changes, until ctx ends.
func (r *AzureHostReconciler) watchSecretsHealth(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	cancel := r.SecretsHealth.OnChange(func(namespace string) {
		var opts []client.ListOption
		if namespace != "" {
			opts = append(opts, client.InNamespace(namespace))
		}
		for _, req := range r.hostRequests(ctx, opts...) {
			q.Add(req)
		}
	})
	context.AfterFunc(ctx, cancel)
	return nil
}

func (r *AzureHostReconciler) allHosts(ctx context.Context, _ client.Object) []reconcile.Request {
	return r.hostRequests(ctx)
}

func (r *AzureHostReconciler) hostsInNamespace(ctx context.Context, ns client.Object) []reconcile.Request {
	return r.hostRequests(ctx, client.InNamespace(ns.GetName()))
}

func (r *AzureHostReconciler) hostRequests(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var hosts authnv1alpha1.AzureHostList
	if err := r.Client.List(ctx, &hosts, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list AzureHosts to re-check their status")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(hosts.Items))
	for i := range hosts.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&hosts.Items[i])})
	}
	return reqs
}

func truncate(s string) string {
	if len(s) <= maxConditionMessage {
		return s
	}
	return s[:maxConditionMessage-3] + "..."
}
