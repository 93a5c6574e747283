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

// AzureHostSpec says which Azure workloads may log in as this host.
//
// The layered model: subscriptionID + resourceGroup alone admit every
// workload whose token names that resource group; userAssignedIdentity or
// systemAssignedIdentity narrow it to one managed identity; tenantID,
// resourceID and allowedCIDRs pin it further.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.userAssignedIdentity) && has(self.systemAssignedIdentity))",message="set at most one of userAssignedIdentity and systemAssignedIdentity"
// +kubebuilder:validation:XValidation:rule="has(self.userAssignedIdentity) || !has(self.resourceID) || self.resourceID.lowerAscii().startsWith('/subscriptions/' + self.subscriptionID.lowerAscii() + '/resourcegroups/' + self.resourceGroup.lowerAscii() + '/')",message="resourceID must lie in subscriptionID and resourceGroup unless userAssignedIdentity is set: without a user-assigned identity the token names the compute resource itself"
type AzureHostSpec struct {
	// subscriptionID is the Azure subscription (a GUID) that the token's
	// xms_mirid must name. For a user-assigned identity this is the
	// subscription of the identity resource, not of the compute resource.
	// +required
	// +kubebuilder:validation:MinLength=36
	// +kubebuilder:validation:MaxLength=36
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	SubscriptionID string `json:"subscriptionID"`

	// resourceGroup is the resource group that the token's xms_mirid must
	// name: 1 to 90 Unicode letters, digits and -_.(), not ending in '.'.
	// For a user-assigned identity this is the resource group of the
	// identity resource, not of the compute resource.
	// Compared case-insensitively for ASCII letters, exactly otherwise.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=90
	// +kubebuilder:validation:Pattern=`^[\p{L}\p{Nd}._()-]*[\p{L}\p{Nd}_()-]$`
	ResourceGroup string `json:"resourceGroup"`

	// userAssignedIdentity narrows the host to the user-assigned managed
	// identity with this resource name (3 to 128 letters, digits, '-' and
	// '_', starting with a letter or digit), in subscriptionID and
	// resourceGroup. Every compute resource the identity is attached to may
	// log in; pin one with resourceID.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_-]*$`
	UserAssignedIdentity string `json:"userAssignedIdentity,omitempty"`

	// systemAssignedIdentity narrows the host to the system-assigned managed
	// identity whose principal (object) id is this GUID: the token must not
	// come from a user-assigned identity and its oid must equal this value.
	// +optional
	// +kubebuilder:validation:MinLength=36
	// +kubebuilder:validation:MaxLength=36
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	SystemAssignedIdentity string `json:"systemAssignedIdentity,omitempty"`

	// tenantID, when set, must equal the token's tid.
	// +optional
	// +kubebuilder:validation:MinLength=36
	// +kubebuilder:validation:MaxLength=36
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	TenantID string `json:"tenantID,omitempty"`

	// resourceID, when set, is the full ARM ID of the one compute resource
	// the token must come from, e.g.
	// /subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/vm-1.
	// It is compared segment by segment with the token's xms_az_rid when
	// present, else with xms_mirid.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii().matches('^/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/resourcegroups/[^/[:cntrl:]]+/providers/[^/[:cntrl:]]+(/[^/[:cntrl:]]+/[^/[:cntrl:]]+)+$')",message="must be a full ARM resource ID: /subscriptions/<guid>/resourceGroups/<name>/providers/<namespace>/<type>/<name>[/<type>/<name>...], without control characters"
	// +kubebuilder:validation:XValidation:rule="bytes(self).size() <= 1024",message="must be at most 1024 bytes in UTF-8"
	ResourceID string `json:"resourceID,omitempty"`

	// allowedCIDRs, when set, lists the client addresses (IP addresses or
	// CIDRs such as 10.0.0.0/16) allowed to act as this host, like Conjur's
	// restricted_to. Empty or absent: any address.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) ? cidr(self) == cidr(self).masked() : isIP(self)",message="must be an IP address or a CIDR with no bits set after the prefix length, e.g. 10.0.0.0/16"
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`
}

// AzureHostStatus is what the controller last observed of an AzureHost.
type AzureHostStatus struct {
	// observedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// hostID is the host's id, <namespace>/<name>; it logs in as host/<hostID>.
	// +optional
	HostID string `json:"hostID,omitempty"`

	// identity summarises which identity the host accepts: "user-assigned/<name>",
	// "system-assigned/<principal id>" or "resource-group" (any identity in it).
	// +optional
	Identity string `json:"identity,omitempty"`

	// authenticators lists the service ids of the AzureAuthenticators that
	// currently admit this host.
	// +optional
	// +listType=set
	Authenticators []string `json:"authenticators,omitempty"`

	// conditions: Ready says whether the host can authenticate;
	// SharedIdentity warns when many workloads share the identity it accepts.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AzureHost lets Azure workloads log in as host/<namespace>/<name>.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=azh,categories=authn
// +kubebuilder:printcolumn:name="Subscription",type=string,JSONPath=`.spec.subscriptionID`
// +kubebuilder:printcolumn:name="Resource Group",type=string,JSONPath=`.spec.resourceGroup`
// +kubebuilder:printcolumn:name="Identity",type=string,JSONPath=`.status.identity`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AzureHost struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec AzureHostSpec `json:"spec"`

	// +optional
	Status AzureHostStatus `json:"status,omitempty"`
}

// AzureHostList is a list of AzureHosts.
//
// +kubebuilder:object:root=true
type AzureHostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AzureHost `json:"items"`
}
