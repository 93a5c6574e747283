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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Metrics on the manager's metrics endpoint. Label values come only from
// known service ids, the fixed code table and configured providers, never
// from raw request text.
var (
	authentications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_authentications_total",
		Help: "Authentication attempts by service id (unknown for service ids not configured), result and audit code.",
	}, []string{"service", "result", "code"})

	authenticationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "azure_authenticator_authentication_duration_seconds",
		Help:    "Time to answer an authentication request, by result.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"result"})

	jwksRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_jwks_refreshes_total",
		Help: "Provider key refreshes by provider issuer and result.",
	}, []string{"provider", "result"})

	secretFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_secret_fetches_total",
		Help: "Secret fetches (per variable) by result: success, unauthorized, forbidden, not_found, not_acceptable, service_unavailable.",
	}, []string{"result"})

	viewStaleness = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_view_staleness_seconds",
		Help: "How old this replica's view may be: the larger of the time since it last reached the API server and the staleness of the index's informers.",
	})

	rejectedRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_rejected_requests_total",
		Help: "Requests refused before or around their route, by reason: overloaded (--max-in-flight reached, 503) or panic (recovered, 500).",
	}, []string{"reason"})

	requestsInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_requests_in_flight",
		Help: "Requests holding one of the --max-in-flight slots (a request waiting on a provider key fetch holds none).",
	})

	openConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_open_connections",
		Help: "Connections open to the authenticator.",
	})

	connectionsRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "azure_authenticator_connections_rejected_total",
		Help: "Connections closed at accept because --max-connections were open.",
	})

	indexHosts = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_index_hosts",
		Help: "AzureHosts in this replica's policy index.",
	})

	signingKeys = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_signing_keys",
		Help: "Access-token signing keys this replica holds. 0 while it holds none (not loaded yet, or the signing-key Secret deleted or unusable): it then neither issues nor accepts access tokens.",
	})

	providerKeysLastRefresh = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "azure_authenticator_provider_keys_last_refresh_timestamp_seconds",
		Help: "Unix time of the last successful key fetch of each configured provider, by issuer (the oldest when providers share an issuer); 0 before the first. " +
			"The series goes when no authenticator lists the provider any more.",
	}, []string{"provider"})
)

// rejectReasons are the reasons of rejectedRequests, exported at zero from
// the start so that alerts on their rate work before the first refusal.
var rejectReasons = []string{"overloaded", "panic"}

func init() {
	ctrlmetrics.Registry.MustRegister(authentications, authenticationDuration, jwksRefreshes, indexHosts, secretFetches, viewStaleness,
		rejectedRequests, requestsInFlight, openConnections, connectionsRejected, signingKeys, providerKeysLastRefresh)
	for _, reason := range rejectReasons {
		rejectedRequests.WithLabelValues(reason)
	}
}

// RecordJWKSRefresh counts one provider key refresh; pass it as
// azuread.Options.OnRefresh.
func RecordJWKSRefresh(issuer string, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	jwksRefreshes.WithLabelValues(issuer, result).Inc()
}

// RecordSigningKeys sets the signing-key gauge from the ring a store holds
// (nil: none); pass it as signingkeys.Store.OnLoad.
func RecordSigningKeys(r *accesstoken.Ring) {
	n := 0
	if r != nil {
		n = len(r.Keys())
	}
	signingKeys.Set(float64(n))
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
