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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Provider key metrics. Label values are configured provider issuers only.
var (
	jwksRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_jwks_refreshes_total",
		Help: "Provider key refreshes by provider issuer and result.",
	}, []string{"provider", "result"})

	providerKeysLastRefresh = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "azure_authenticator_provider_keys_last_refresh_timestamp_seconds",
		Help: "Unix time of the last successful key fetch of each configured provider, by issuer (the oldest when providers share an issuer); 0 before the first. " +
			"The series goes when no authenticator lists the provider any more.",
	}, []string{"provider"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(jwksRefreshes, providerKeysLastRefresh)
}

// countRefresh counts one provider key fetch attempt.
func countRefresh(issuer string, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	jwksRefreshes.WithLabelValues(issuer, result).Inc()
}

// providerKeysGauge publishes the last successful key fetch of the
// providers one ProviderSync keeps, and removes the series of the
// providers it published before and no longer keeps.
type providerKeysGauge struct {
	published map[string]bool
}

func (g *providerKeysGauge) update(providers []policy.Provider, health func(policy.Provider) policy.ProviderHealth) {
	last := map[string]time.Time{}
	for _, p := range providers {
		t := health(p).LastRefresh
		if prev, seen := last[p.Issuer]; !seen || t.Before(prev) {
			last[p.Issuer] = t
		}
	}
	for issuer := range g.published {
		if _, ok := last[issuer]; !ok {
			providerKeysLastRefresh.DeleteLabelValues(issuer)
		}
	}
	g.published = map[string]bool{}
	for issuer, t := range last {
		v := 0.0
		if !t.IsZero() {
			v = float64(t.UnixMilli()) / 1e3
		}
		providerKeysLastRefresh.WithLabelValues(issuer).Set(v)
		g.published[issuer] = true
	}
}
