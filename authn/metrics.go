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
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
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
)

func init() {
	ctrlmetrics.Registry.MustRegister(authentications, authenticationDuration, jwksRefreshes, indexHosts, secretFetches, viewStaleness,
		rejectedRequests, openConnections, connectionsRejected)
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
