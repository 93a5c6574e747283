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

package authn

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
)

func TestMetricSigningKeysCountsTheRing(t *testing.T) {
	// The suite's manager set it; it reloads only when its Secret changes.
	before := testutil.ToFloat64(signingKeys)
	t.Cleanup(func() { signingKeys.Set(before) })
	var keys []*accesstoken.SigningKey
	for range 2 {
		k, err := accesstoken.NewSigningKey(time.Now(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	RecordSigningKeys(accesstoken.NewRing(keys))
	if got := testutil.ToFloat64(signingKeys); got != 2 {
		t.Fatalf("signing keys %v, want 2", got)
	}
	RecordSigningKeys(nil)
	if got := testutil.ToFloat64(signingKeys); got != 0 {
		t.Fatalf("signing keys %v without a ring, want 0", got)
	}
}

// Alerts take the rate of refusals by reason: every reason is exported
// before the first refusal.
func TestMetricRejectReasonsAreExportedFromTheStart(t *testing.T) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "azure_authenticator_rejected_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	for _, reason := range rejectReasons {
		if !seen[reason] {
			t.Errorf("rejected_requests_total{reason=%q} not exported", reason)
		}
	}
}
