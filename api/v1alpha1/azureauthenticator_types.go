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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AzureAuthenticatorSpec configures one authn-azure service: which token
// issuers it trusts, which audiences it accepts, how long its access tokens
// live, and which AzureHosts may use it.
type AzureAuthenticatorSpec struct {
	// providers are the trusted token issuers. Several providers mean
	// several tenants, or the v1 and v2 issuers of one tenant.
	// +required
	// +listType=map
	// +listMapKey=uri
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Providers []Provider `json:"providers"`

	// audiences are the accepted values of the token's aud claim. Azure puts
	// xms_mirid only into tokens for first-party resources such as ARM,
	// hence the default; see docs/security.md for the replay risk this implies.
	// +optional
	// +listType=set
	// +kubebuilder:default={"https://management.azure.com/","https://management.azure.com"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	Audiences []string `json:"audiences,omitempty"`

	// tokenTTL is the lifetime of the access tokens this authenticator
	// issues, between 1m and 1h. An access token never outlives the Azure
	// token it was issued for.
	// +optional
	// +kubebuilder:default="8m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('1h')",message="must be a duration between 1m and 1h, e.g. 8m"
	TokenTTL *metav1.Duration `json:"tokenTTL,omitempty"`

	// clockSkew is the leeway allowed when checking the Azure token's exp,
	// nbf and iat, between 0s and 5m.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('5m')",message="must be a duration between 0s and 5m, e.g. 60s"
	ClockSkew *metav1.Duration `json:"clockSkew,omitempty"`

	// enabled turns the authenticator on or off; a disabled authenticator
	// refuses every login as if it did not exist.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// allowedHosts says which AzureHosts may use this authenticator, like
	// Conjur's authenticate privilege. Absent: no host may.
	// +optional
	AllowedHosts *AllowedHosts `json:"allowedHosts,omitempty"`
}

// Provider is one trusted token issuer.
type Provider struct {
	// uri is the issuer exactly as it appears in the token's iss claim, e.g.
	// https://sts.windows.net/<tenant-id>/ (v1) or
	// https://login.microsoftonline.com/<tenant-id>/v2.0 (v2). Its OIDC
	// discovery document is read from <uri>/.well-known/openid-configuration.
	// The tenant id in its path is the tenant whose tokens it vouches for:
	// a token's tid must equal it.
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != '' && !self.contains('?') && !self.contains('#')",message="must be an https URL without query or fragment, e.g. https://sts.windows.net/<tenant-id>/"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^/]*//[^/]*@')",message="must not contain user info (user@ before the host)"
	// +kubebuilder:validation:XValidation:rule="self.matches('/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(/v2[.]0)?/?$')",message="must end with the tenant id: .../<tenant-id>/ (v1) or .../<tenant-id>/v2.0 (v2)"
	URI string `json:"uri"`

	// caBundle is PEM text with extra root certificates for reaching this
	// provider (private identity providers, the local emulator). The system
	// roots are trusted as well.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:XValidation:rule="bytes(self).size() <= 65536",message="must be at most 64 KiB (65536 bytes)"
	// +kubebuilder:validation:XValidation:rule="self == '' || (self.contains('-----BEGIN CERTIFICATE-----') && self.contains('-----END CERTIFICATE-----'))",message="must be PEM text with at least one certificate: -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----"
	CABundle string `json:"caBundle,omitempty"`
}

// AllowedHosts selects AzureHosts by namespace and labels.
//
// The namespace selector is the boundary between teams: whoever may edit
// AzureHosts in a namespace can set any labels on them, so hostSelector
// only narrows the choice within namespaces already trusted.
type AllowedHosts struct {
	// namespaceSelector selects the namespaces whose AzureHosts may use this
	// authenticator; {} selects every namespace. A namespace the controller
	// has not seen never matches, not even NotIn or DoesNotExist.
	// +required
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="matchExpressions[].operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn'] ? has(e.values) && e.values.size() > 0 : !has(e.values) || e.values.size() == 0)",message="matchExpressions[]: In and NotIn need at least one value, Exists and DoesNotExist take none"
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector"`

	// hostSelector, when set, narrows the choice to AzureHosts with matching
	// labels. Absent: every AzureHost in the selected namespaces.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="matchExpressions[].operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn'] ? has(e.values) && e.values.size() > 0 : !has(e.values) || e.values.size() == 0)",message="matchExpressions[]: In and NotIn need at least one value, Exists and DoesNotExist take none"
	HostSelector *metav1.LabelSelector `json:"hostSelector,omitempty"`
}

// ProviderStatus is the observed health of one provider's signing keys.
type ProviderStatus struct {
	// uri is the provider's issuer URI.
	URI string `json:"uri"`

	// keys is the number of usable signing keys currently cached.
	// +optional
	Keys int32 `json:"keys"`

	// lastRefreshTime is when the keys were last fetched successfully.
	// +optional
	LastRefreshTime *metav1.Time `json:"lastRefreshTime,omitempty"`

	// error is the last refresh error, empty when the last refresh succeeded.
	// +optional
	Error string `json:"error,omitempty"`
}

// AzureAuthenticatorStatus is what the controller last observed of an
// AzureAuthenticator.
type AzureAuthenticatorStatus struct {
	// observedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// providers reports each provider's signing keys.
	// +optional
	// +listType=map
	// +listMapKey=uri
	Providers []ProviderStatus `json:"providers,omitempty"`

	// conditions: Ready says whether the authenticator can verify tokens.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AzureAuthenticator is one Conjur-style authn-azure service; its name is the
// service id in /authn-azure/<service-id>/<account>/<login>/authenticate.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=azauth,categories=authn
// +kubebuilder:printcolumn:name="Enabled",type=boolean,JSONPath=`.spec.enabled`
// +kubebuilder:printcolumn:name="TTL",type=string,JSONPath=`.spec.tokenTTL`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AzureAuthenticator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec AzureAuthenticatorSpec `json:"spec"`

	// +optional
	Status AzureAuthenticatorStatus `json:"status,omitempty"`
}

// AzureAuthenticatorList is a list of AzureAuthenticators.
//
// +kubebuilder:object:root=true
type AzureAuthenticatorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AzureAuthenticator `json:"items"`
}
