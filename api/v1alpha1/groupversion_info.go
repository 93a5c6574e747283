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

// Package v1alpha1 holds the authn.dap.io/v1alpha1 API: AzureAuthenticator
// (which token issuers a Conjur-style authn-azure service trusts and which
// hosts may use it) and AzureHost (which Azure workloads may log in as a host).
//
// The types carry every rule the API server can enforce (OpenAPI and CEL), so
// a bad object is refused at `kubectl apply`; they hold no behaviour.
//
// +kubebuilder:object:generate=true
// +groupName=authn.dap.io
//
// It imports nothing of ours.
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of these objects.
	GroupVersion = schema.GroupVersion{Group: "authn.dap.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this group version.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &AzureHost{}, &AzureHostList{}, &AzureAuthenticator{}, &AzureAuthenticatorList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
