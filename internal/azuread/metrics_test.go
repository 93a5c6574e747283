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

package azuread

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

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
