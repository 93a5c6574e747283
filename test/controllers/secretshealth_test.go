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

package controllerstest

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
)

func secretsServableIs(want, inMessage string) func(*authnv1alpha1.AzureHost) error {
	return func(h *authnv1alpha1.AzureHost) error {
		c := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionSecretsServable)
		if c == nil {
			return fmt.Errorf("no SecretsServable condition")
		}
		if got := string(c.Status) + "/" + c.Reason; got != want || !strings.Contains(c.Message, inMessage) {
			return fmt.Errorf("SecretsServable = %s %q, want %s containing %q", got, c.Message, want, inMessage)
		}
		return nil
	}
}

// Whether a namespace's Secrets can be listed changes without any object
// changing: the status controller hears it from the Secret health and
// rewrites the hosts of that namespace, and only those.
func TestHostStatusFollowsSecretHealthChanges(t *testing.T) {
	ns := testNamespace(t, nil)
	other := testNamespace(t, nil)
	create(t, newHost(ns, "app"))
	create(t, newHost(other, "app"))
	hostStatus(t, ns, "app", secretsServableIs("True/"+authnv1alpha1.ReasonNamespaceServed, ""))
	hostStatus(t, other, "app", secretsServableIs("True/"+authnv1alpha1.ReasonNamespaceServed, ""))

	secretsHealth.Set(ns, true, "cannot list Secrets: forbidden")
	t.Cleanup(func() { secretsHealth.Set(ns, true, "") })
	h := hostStatus(t, ns, "app", secretsServableIs("False/"+authnv1alpha1.ReasonSecretsUnavailable, "cannot list Secrets: forbidden"))
	if got := readyOf(h.Status.Conditions); got != "False/"+authnv1alpha1.ReasonNoAuthenticator {
		t.Errorf("Ready = %s: Secret health must not change it", got)
	}
	hostStatus(t, other, "app", secretsServableIs("True/"+authnv1alpha1.ReasonNamespaceServed, ""))

	secretsHealth.Set(ns, true, "")
	hostStatus(t, ns, "app", secretsServableIs("True/"+authnv1alpha1.ReasonNamespaceServed, ""))
}
