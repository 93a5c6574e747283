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

package v1alpha1

// Condition types and reasons. Reasons are reused as event reasons.
const (
	// ConditionReady is True when the object is in effect: an AzureHost that
	// is indexed and admitted by at least one authenticator, or an
	// AzureAuthenticator that can verify tokens.
	ConditionReady = "Ready"

	// ConditionSharedIdentity is True when an AzureHost accepts an identity
	// that many unrelated workloads share, such as every node of an AKS
	// cluster.
	ConditionSharedIdentity = "SharedIdentity"

	// ConditionSecretsServable is True when the manager serves exposed
	// Secrets in the AzureHost's namespace (see --secret-namespaces).
	ConditionSecretsServable = "SecretsServable"

	// ReasonAdmitted: the host is indexed and at least one authenticator admits it.
	ReasonAdmitted = "Admitted"
	// ReasonNoAuthenticator: the host is valid but no enabled authenticator admits it.
	ReasonNoAuthenticator = "NoAuthenticator"
	// ReasonInvalidSpec: the spec breaks a rule; the object is not indexed.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonAKSNodeResourceGroup: a resource-group-wide host on an AKS node
	// resource group (MC_*), whose node identity every pod of the cluster can use.
	ReasonAKSNodeResourceGroup = "AKSNodeResourceGroup"
	// ReasonNarrowIdentity: the host accepts one identity, or a resource group
	// that is not an AKS node resource group.
	ReasonNarrowIdentity = "NarrowIdentity"
	// ReasonAccepted: an authenticator's spec is valid and indexed; key
	// health is not known (no HTTPS authenticator reports it).
	ReasonAccepted = "Accepted"
	// ReasonKeysAvailable: enabled, and every provider's signing keys are cached.
	ReasonKeysAvailable = "KeysAvailable"
	// ReasonProviderUnavailable: some provider's keys could not be fetched.
	ReasonProviderUnavailable = "ProviderUnavailable"
	// ReasonDisabled: spec.enabled is false.
	ReasonDisabled = "Disabled"
	// ReasonNamespaceServed: exposed Secrets of the host's namespace are served.
	ReasonNamespaceServed = "NamespaceServed"
	// ReasonNamespaceNotServed: the host's namespace is outside --secret-namespaces.
	ReasonNamespaceNotServed = "NamespaceNotServed"
	// ReasonSecretsUnavailable: the host's namespace is served, but the
	// manager cannot list its Secrets now (a missing Role, an API error);
	// secret requests from the namespace get 503 until it can.
	ReasonSecretsUnavailable = "SecretsUnavailable"
)

// Labels and annotations read by the controller.
const (
	// HostIDPrefix is the Conjur login prefix of hosts: host/<namespace>/<name>.
	HostIDPrefix = "host/"
)
