{{/*
The chart name, or nameOverride.
*/}}
{{- define "azure-authenticator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name F: fullnameOverride, else the release name if it contains the
chart name, else <release>-<chart name>; at most 63 characters. Every object,
the Lease and the manager's own Secrets are named after it.
*/}}
{{- define "azure-authenticator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
<name>-<version> for the helm.sh/chart label.
*/}}
{{- define "azure-authenticator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The selector labels: name and instance. Never change them: a Deployment's
selector is immutable.
*/}}
{{- define "azure-authenticator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "azure-authenticator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The labels of every object: commonLabels, then the standard labels (which win
on conflict). Call with (dict "ctx" $ "component" "<component>").
*/}}
{{- define "azure-authenticator.labels" -}}
{{- $ctx := .ctx }}
{{- $labels := dict
  "helm.sh/chart" (include "azure-authenticator.chart" $ctx)
  "app.kubernetes.io/name" (include "azure-authenticator.name" $ctx)
  "app.kubernetes.io/instance" $ctx.Release.Name
  "app.kubernetes.io/version" (include "azure-authenticator.version" $ctx)
  "app.kubernetes.io/managed-by" $ctx.Release.Service
}}
{{- with .component }}
{{- $_ := set $labels "app.kubernetes.io/component" . }}
{{- end }}
{{- toYaml (merge $labels ($ctx.Values.commonLabels | default dict)) }}
{{- end }}

{{/*
The labels of the CRD templates (hack/chart-crds.sh writes the CRDs with it).
*/}}
{{- define "azure-authenticator.crdLabels" -}}
{{- include "azure-authenticator.labels" (dict "ctx" . "component" "crds") }}
{{- end }}

{{/*
The version label: the image tag, else appVersion; a label value (no digest).
*/}}
{{- define "azure-authenticator.version" -}}
{{- .Values.image.tag | default .Chart.AppVersion | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The manager's image: repository@digest, else repository:tag (tag defaults to
appVersion).
*/}}
{{- define "azure-authenticator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount's name.
*/}}
{{- define "azure-authenticator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "azure-authenticator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The names of the manager's own Secrets and Service.
*/}}
{{- define "azure-authenticator.tlsSecretName" -}}
{{- printf "%s-tls" (include "azure-authenticator.fullname" .) }}
{{- end }}
{{- define "azure-authenticator.caConfigMapName" -}}
{{- printf "%s-ca" (include "azure-authenticator.fullname" .) }}
{{- end }}
{{- define "azure-authenticator.signingKeySecretName" -}}
{{- printf "%s-signing-keys" (include "azure-authenticator.fullname" .) }}
{{- end }}
{{- define "azure-authenticator.certManagerSecretName" -}}
{{- printf "%s-cert" (include "azure-authenticator.fullname" .) }}
{{- end }}

{{/*
The metrics Service: <fullname>-metrics, the full name shortened so that the
Service name stays a 63-character DNS label.
*/}}
{{- define "azure-authenticator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "azure-authenticator.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
The in-cluster DNS names of the authenticator Service.
*/}}
{{- define "azure-authenticator.serviceDNSNames" -}}
{{- $f := include "azure-authenticator.fullname" . }}
{{- printf "%s.%s.svc" $f .Release.Namespace }},{{ printf "%s.%s.svc.cluster.local" $f .Release.Namespace }}
{{- end }}

{{/*
The in-cluster URL of the authenticator.
*/}}
{{- define "azure-authenticator.inClusterURL" -}}
{{- $port := int .Values.authenticator.service.port }}
{{- printf "https://%s.%s.svc" (include "azure-authenticator.fullname" .) .Release.Namespace }}
{{- if ne $port 443 }}:{{ $port }}{{ end }}
{{- end }}

{{/*
True (non-empty) when a value is set: not null and not "".
*/}}
{{- define "azure-authenticator.isSet" -}}
{{- if not (or (kindIs "invalid" .) (and (kindIs "string" .) (eq . ""))) }}true{{ end }}
{{- end }}

{{/*
Render-time checks of combinations the schema cannot express. Included by the
Deployment, so that every render runs them.
*/}}
{{- define "azure-authenticator.validate" -}}
{{- $tls := .Values.authenticator.tls }}
{{- if and (eq $tls.mode "certManager") (not $tls.certManager.issuerRef.name) }}
{{- fail "authenticator.tls.mode=certManager needs authenticator.tls.certManager.issuerRef.name (an Issuer in the release namespace, or a ClusterIssuer with issuerRef.kind=ClusterIssuer)" }}
{{- end }}
{{- if and (eq $tls.mode "certManager") (not $tls.certManager.includeServiceDNSNames) (not $tls.certManager.dnsNames) (not $tls.certManager.ipAddresses) }}
{{- fail "authenticator.tls.certManager: with includeServiceDNSNames=false, set dnsNames or ipAddresses (the certificate needs at least one name)" }}
{{- end }}
{{- if and (eq $tls.mode "existingSecret") (not $tls.existingSecret) }}
{{- fail "authenticator.tls.mode=existingSecret needs authenticator.tls.existingSecret: the name of a kubernetes.io/tls Secret in the release namespace" }}
{{- end }}
{{- if and .Values.authenticator.ingress.enabled (not .Values.authenticator.ingress.host) }}
{{- fail "authenticator.ingress.enabled needs authenticator.ingress.host: the host name clients use" }}
{{- end }}
{{- $svc := .Values.authenticator.service }}
{{- if and (eq $svc.type "ClusterIP") (include "azure-authenticator.isSet" $svc.nodePort) }}
{{- fail "authenticator.service.nodePort is set but authenticator.service.type is ClusterIP: a node port needs type NodePort or LoadBalancer" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- $min := include "azure-authenticator.isSet" $pdb.minAvailable }}
{{- $max := include "azure-authenticator.isSet" $pdb.maxUnavailable }}
{{- if and $pdb.enabled $min $max }}
{{- fail "podDisruptionBudget: set only one of minAvailable and maxUnavailable (to use maxUnavailable, also set podDisruptionBudget.minAvailable=null)" }}
{{- end }}
{{- if and $pdb.enabled (gt (int .Values.replicaCount) 1) }}
{{- if and $min (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) (int .Values.replicaCount)) }}
{{- fail (printf "podDisruptionBudget.minAvailable=%v with replicaCount=%v would block every voluntary eviction (node drains would hang): lower minAvailable below replicaCount, or raise replicaCount" $pdb.minAvailable .Values.replicaCount) }}
{{- end }}
{{- if and $max (not (kindIs "string" $pdb.maxUnavailable)) (eq (int $pdb.maxUnavailable) 0) }}
{{- fail "podDisruptionBudget.maxUnavailable=0 would block every voluntary eviction (node drains would hang): use at least 1" }}
{{- end }}
{{- end }}
{{- $np := .Values.authenticator.networkPolicy }}
{{- if and .Values.authenticator.trustedProxies (not (and $np.enabled $np.authenticatorFrom)) }}
{{- fail (printf "authenticator.trustedProxies (%s) needs authenticator.networkPolicy.enabled=true and a non-empty authenticator.networkPolicy.authenticatorFrom: the authenticator believes X-Forwarded-For from those addresses, so any pod in them that reaches port 9443 directly (not through the proxy) could forge it and pass for any client address (AzureHosts' allowedCIDRs). Set authenticatorFrom to the proxy pods (podSelector/namespaceSelector, not broad ipBlock CIDRs), or empty trustedProxies" (join "," .Values.authenticator.trustedProxies)) }}
{{- end }}
{{- $delay := int .Values.terminationDelaySeconds }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- if lt $grace (add $delay 10) }}
{{- fail (printf "terminationGracePeriodSeconds=%d must be at least terminationDelaySeconds=%d + 10: the preStop sleep counts against the grace period, and the manager then takes up to 10s to finish the requests in flight before it would be killed. Raise terminationGracePeriodSeconds or lower terminationDelaySeconds" $grace $delay) }}
{{- end }}
{{- $ap := .Values.admissionPolicy }}
{{- if and $ap.enabled (not $ap.adminGroups) (not $ap.adminUsers) }}
{{- fail (printf "admissionPolicy: adminGroups and adminUsers are both empty, so nobody could set the %s annotation on a namespace: list the cluster administrators' groups (e.g. system:masters) or users" $ap.annotation) }}
{{- end }}
{{- include "azure-authenticator.validateLeaseTimings" . }}
{{- include "azure-authenticator.validateExtraArgs" . }}
{{- end }}

{{/*
A Go duration, as the schema admits it (h, m, s, ms, us, ns components,
with fractions), in nanoseconds as a float. Not a general parser: the
schema has refused every other form before templates run.
*/}}
{{- define "azure-authenticator.durationNanoseconds" -}}
{{- $unit := dict "h" 3600e9 "m" 60e9 "s" 1e9 "ms" 1e6 "us" 1e3 "µs" 1e3 "μs" 1e3 "ns" 1 }}
{{- $ns := 0.0 }}
{{- range regexFindAll "[0-9.]+[^0-9.]+" . -1 }}
{{- $n := regexFind "^[0-9.]+" . }}
{{- $ns = addf $ns (mulf $n (get $unit (trimPrefix $n .))) }}
{{- end }}
{{- $ns }}
{{- end }}

{{/*
The lease timings' rules the schema cannot express, as the manager checks
them at start (after client-go's NewLeaderElector): refused at helm
install/upgrade rather than by new Pods that crash-loop and stall the
rollout. Checked only with leader election: the flags are not rendered
without it.
*/}}
{{- define "azure-authenticator.validateLeaseTimings" -}}
{{- $le := .Values.leaderElection }}
{{- if $le.enabled }}
{{- $lease := float64 (include "azure-authenticator.durationNanoseconds" $le.leaseDuration) }}
{{- $renew := float64 (include "azure-authenticator.durationNanoseconds" $le.renewDeadline) }}
{{- $retry := float64 (include "azure-authenticator.durationNanoseconds" $le.retryPeriod) }}
{{- if ge $renew $lease }}
{{- fail (printf "leaderElection.renewDeadline (%s) must be shorter than leaderElection.leaseDuration (%s): a leader that cannot renew must stop leading before another replica may take over" $le.renewDeadline $le.leaseDuration) }}
{{- end }}
{{- if le $renew (mulf 1.2 $retry) }}
{{- fail (printf "leaderElection.renewDeadline (%s) must be longer than 1.2 x leaderElection.retryPeriod (%s): client-go's rule (the leader retries a failed renewal every retry period, with jitter, within the deadline)" $le.renewDeadline $le.retryPeriod) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The manager flags the chart sets itself, each with what to set instead.
extraArgs may not repeat them: the manager would take the last one, which
could defeat a check of the chart (e.g. --trusted-proxies without the
NetworkPolicy) or break what the chart built around the flag (ports, RBAC
limited to the Secrets and Lease named after the full name).
*/}}
{{- define "azure-authenticator.ownedFlags" -}}
leader-elect: set leaderElection.enabled instead
leader-election-lease-duration: set leaderElection.leaseDuration instead
leader-election-renew-deadline: set leaderElection.renewDeadline instead
leader-election-retry-period: set leaderElection.retryPeriod instead
leader-election-id: the Lease is named after the full name (the Role allows that one only); set fullnameOverride instead
health-probe-bind-address: the probes and the NetworkPolicy expect port 8081
metrics-bind-address: set metrics.enabled instead (the metrics Service and NetworkPolicy expect port 8443)
metrics-secure: set metrics.secure instead
authn-bind-address: the Service and the NetworkPolicy expect port 9443; set authenticator.service.port for the Service port
account: set authenticator.account instead
zap-log-level: set authenticator.logLevel instead
audit-log: set authenticator.auditLog instead
trusted-proxies: set authenticator.trustedProxies instead (with authenticator.networkPolicy.authenticatorFrom)
max-in-flight: set authenticator.maxInFlight instead
max-connections: set authenticator.maxConnections instead
max-staleness: set authenticator.maxStaleness instead
verified-token-cache: set authenticator.verifiedTokenCache instead
provider-key-refresh: set authenticator.providerKeyRefresh instead
secret-namespaces: set authenticator.secretNamespaces instead (the chart's Roles follow it)
signing-key-secret: the Secret is named after the full name (the Role allows that one only); set fullnameOverride instead
tls-secret: the Secret is named after the full name (the Role allows that one only); set authenticator.tls.mode and fullnameOverride instead
tls-sans: set authenticator.tls.sans instead
tls-ca-configmap: the ConfigMap is named after the full name (the Role allows that one only); set fullnameOverride instead
tls-cert-file: set authenticator.tls.mode=existingSecret or certManager instead
tls-key-file: set authenticator.tls.mode=existingSecret or certManager instead
{{- end }}

{{/*
Fails when an extraArgs entry sets a flag of azure-authenticator.ownedFlags,
in any form Go's flag package reads: --flag, --flag=value, -flag, -flag=value.
*/}}
{{- define "azure-authenticator.validateExtraArgs" -}}
{{- $owned := include "azure-authenticator.ownedFlags" . | fromYaml }}
{{- range $arg := .Values.extraArgs | default list }}
{{- if hasPrefix "-" $arg }}
{{- $name := first (splitList "=" (trimPrefix "-" (trimPrefix "-" $arg))) }}
{{- if hasKey $owned $name }}
{{- fail (printf "extraArgs entry %q sets --%s, which the chart sets itself: %s" $arg $name (get $owned $name)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
