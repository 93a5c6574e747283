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

// Health metrics. Label values are fixed by the code and the flags: the
// resources this manager watches and the --secret-namespaces it serves
// ("*" for all), never request text.
var (
	informerStaleness = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "azure_authenticator_informer_staleness_seconds",
		Help: "Seconds since the informer's list/watch first failed without recovering; 0 while its watch is established, even when no events arrive. " +
			"informer is the resource (azurehosts, azureauthenticators, namespaces) or secrets/<namespace> (secrets: all namespaces).",
	}, []string{"informer"})

	secretsServable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "azure_authenticator_secrets_servable",
		Help: "1 when the exposed Secrets of the namespace (* for all namespaces) are served, 0 while they are not (not synced yet, or cannot be listed): their secret requests get 503.",
	}, []string{"namespace"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(informerStaleness, secretsServable)
}
