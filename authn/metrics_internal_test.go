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
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
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

// Per issuer, the oldest successful fetch (0: never); a provider no longer
// configured loses its series, but only the ProviderSync that published it
// removes it.
func TestMetricProviderKeysLastRefreshFollowsTheProviders(t *testing.T) {
	at := time.Unix(1_700_000_000, 500_000_000)
	a1 := policy.Provider{Issuer: "https://metric-test-a/", CABundle: []byte("1")}
	a2 := policy.Provider{Issuer: "https://metric-test-a/", CABundle: []byte("2")}
	b := policy.Provider{Issuer: "https://metric-test-b/"}
	c := policy.Provider{Issuer: "https://metric-test-c/"}
	health := map[string]policy.ProviderHealth{
		string(a1.CABundle): {LastRefresh: at},
		string(a2.CABundle): {LastRefresh: at.Add(-time.Minute)},
		"":                  {},
	}
	of := func(p policy.Provider) policy.ProviderHealth { return health[string(p.CABundle)] }
	value := func(issuer string) float64 {
		return testutil.ToFloat64(providerKeysLastRefresh.WithLabelValues(issuer))
	}
	series := func() int { return testutil.CollectAndCount(providerKeysLastRefresh) }
	before := series()

	var g, other providerKeysGauge
	g.update([]policy.Provider{a1, a2, b}, of)
	other.update([]policy.Provider{c}, of)
	if got, want := value(a1.Issuer), float64(at.Add(-time.Minute).UnixMilli())/1e3; got != want {
		t.Fatalf("issuer with two providers: %v, want the older fetch %v", got, want)
	}
	if got := value(b.Issuer); got != 0 {
		t.Fatalf("never fetched: %v, want 0", got)
	}
	if got := series() - before; got != 3 {
		t.Fatalf("%d new series, want 3", got)
	}
	g.update([]policy.Provider{b}, of)
	if got := series() - before; got != 2 {
		t.Fatalf("%d series after a provider went, want 2", got)
	}
	g.update(nil, nil)
	if got := series() - before; got != 1 {
		t.Fatalf("%d series after the ProviderSync stopped, want only the other's", got)
	}
	other.update(nil, nil)
	if got := series(); got != before {
		t.Fatalf("%d series, want %d", got, before)
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
