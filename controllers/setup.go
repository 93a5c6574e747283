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
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/azure-authenticator/azure-authenticator/authn/policy"
)

// eventReporter is the name our events carry as their reporting controller.
const eventReporter = "azure-authenticator"

// SetupWithManager adds everything this package runs to the manager: the
// index feeder (every replica) and the status reconcilers (leader only).
// health, when not nil, reports provider key health into the
// AzureAuthenticators' status.
func SetupWithManager(mgr ctrl.Manager, index *policy.Index, health func(policy.Provider) policy.ProviderHealth) error {
	if err := mgr.Add(&IndexFeeder{Cache: mgr.GetCache(), Index: index}); err != nil {
		return fmt.Errorf("failed to add the index feeder: %w", err)
	}
	recorder := mgr.GetEventRecorder(eventReporter)
	if err := (&AzureHostReconciler{Client: mgr.GetClient(), Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the AzureHost status controller: %w", err)
	}
	if err := (&AzureAuthenticatorReconciler{Client: mgr.GetClient(), Recorder: recorder, Health: health}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the AzureAuthenticator status controller: %w", err)
	}
	return nil
}
