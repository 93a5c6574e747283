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

	secretFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_secret_fetches_total",
		Help: "Secret fetches (per variable) by result: success, unauthorized, forbidden, not_found, not_acceptable, service_unavailable.",
	}, []string{"result"})

	rejectedRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azure_authenticator_rejected_requests_total",
		Help: "Requests refused before or around their route, by reason: overloaded (--max-in-flight reached, 503) or panic (recovered, 500).",
	}, []string{"reason"})

	requestsInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_requests_in_flight",
		Help: "Requests holding one of the --max-in-flight slots (a request waiting on a provider key fetch holds none).",
	})
)

// rejectReasons are the reasons of rejectedRequests, exported at zero from
// the start so that alerts on their rate work before the first refusal.
var rejectReasons = []string{"overloaded", "panic"}

func init() {
	ctrlmetrics.Registry.MustRegister(authentications, authenticationDuration, secretFetches, rejectedRequests, requestsInFlight)
	for _, reason := range rejectReasons {
		rejectedRequests.WithLabelValues(reason)
	}
}
