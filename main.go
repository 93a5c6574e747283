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

// Command azure-authenticator is the manager: it compiles AzureHost and
// AzureAuthenticator resources into an in-memory policy index on every
// replica, serves the HTTPS authenticator from it on every replica and, on
// the elected leader, reports status and rotates signing keys.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	// Trust roots for reaching Entra ID when the system has none (the
	// image is FROM scratch); system roots, and SSL_CERT_FILE, win when
	// present.
	_ "golang.org/x/crypto/x509roots/fallback"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/managerns"
)

// version is stamped at build time (-ldflags "-X main.version=v1.2.3");
// otherwise it is the module version the Go toolchain recorded, if any.
var version = ""

// versionString is this build's version.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// RBAC for config/rbac, mirroring the chart's (whose every verb test/install
// shows is needed); the names are the flags' defaults.
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=system,resources=leases,verbs=get;update,resourceNames=azure-authenticator
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=system,resources=leases,verbs=create
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=get;list;watch;update,resourceNames=azure-authenticator-signing-keys;azure-authenticator-tls
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=create
// +kubebuilder:rbac:groups="",namespace=system,resources=configmaps,verbs=get;update,resourceNames=azure-authenticator-ca
// +kubebuilder:rbac:groups="",resources=secrets,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	o := app.Defaults()
	var (
		leaderElectionNS, tlsSANs, trustedProxies, auditLog string
		secretNamespaces                                    string
	)
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", o.MetricsAddr,
		"The address the metrics endpoint binds to (HTTPS with --metrics-secure). Use 0 to disable it.")
	flag.StringVar(&o.ProbeAddr, "health-probe-bind-address", o.ProbeAddr, "The address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&o.SecureMetrics, "metrics-secure", o.SecureMetrics,
		"Serve metrics over HTTPS and require a bearer token allowed to get /metrics.")
	flag.BoolVar(&o.EnableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server and the authenticator. Off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false,
		"Elect a leader among replicas; only the leader writes status. Every replica serves and keeps its own index.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"The namespace of the manager's own objects (the leader-election Lease). Default: POD_NAMESPACE, then the in-cluster service-account namespace.")
	flag.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID,
		"The name of the leader-election Lease; installations sharing a namespace need different ones.")
	flag.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", o.LeaseDuration,
		"How long a standby waits, after it last saw the leader renew the Lease, before taking over status writes and key rotation; whole seconds. "+
			"Shorter fails over faster, at the cost of more Lease writes and of leadership lost to brief API-server hiccups.")
	flag.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", o.RenewDeadline,
		"How long the leader keeps retrying a failed Lease renewal before it stops leading (and the process exits to restart); shorter than --leader-election-lease-duration.")
	flag.DurationVar(&o.RetryPeriod, "leader-election-retry-period", o.RetryPeriod,
		"How often the leader renews the Lease and standbys try to acquire it; renew deadline must exceed 1.2 times it. "+
			"Shorter fails over faster, at the cost of more API writes.")
	flag.StringVar(&o.AuthnAddr, "authn-bind-address", o.AuthnAddr, "The address the HTTPS authenticator (Conjur authn-azure routes) binds to.")
	flag.StringVar(&o.TLSCertFile, "tls-cert-file", "", "PEM certificate for the authenticator, reloaded when it changes. With --tls-key-file; without both, a serving certificate and the name-constrained CA that signs it are kept in --tls-secret.")
	flag.StringVar(&o.TLSKeyFile, "tls-key-file", "", "PEM private key for --tls-cert-file.")
	flag.StringVar(&o.TLSSecret, "tls-secret", o.TLSSecret, "Secret ([namespace/]name; default namespace: the manager's) holding the serving certificate shared by all replicas and its CA (ca.crt: what clients trust).")
	flag.StringVar(&tlsSANs, "tls-sans", strings.Join(o.TLSSANs, ","), "Comma-separated DNS names and IP addresses of the serving certificate; its CA may sign for these names only and is replaced (clients re-fetch ca.crt) when they change.")
	flag.StringVar(&o.TLSCAConfigMap, "tls-ca-configmap", "", "A ConfigMap in --tls-secret's namespace, created beforehand, into which the serving CA (key ca.crt) is published for clients, who then need no access to the Secret and its private keys. Default: none.")
	flag.StringVar(&o.Account, "account", o.Account, "The Conjur account served: letters, digits, '.', '_' and '-'.")
	flag.StringVar(&o.SigningKeySecret, "signing-key-secret", o.SigningKeySecret, "Secret ([namespace/]name; default namespace: the manager's) holding the access-token signing keys.")
	flag.StringVar(&trustedProxies, "trusted-proxies", "", "Comma-separated CIDRs of proxies whose X-Forwarded-For is believed. Default none: the client address is the peer address.")
	flag.StringVar(&auditLog, "audit-log", "-", "Where the audit log (one JSON line per attempt) goes: - for standard output, or a file path (appended).")
	flag.IntVar(&o.MaxInFlight, "max-in-flight", o.MaxInFlight, "Requests the authenticator serves at once; more get 503 with Retry-After. A request takes its slot only once its body (at most 64 KiB, within 2s) has arrived.")
	flag.IntVar(&o.MaxConnections, "max-connections", o.MaxConnections, "Connections the authenticator keeps open at once; at the cap a new connection evicts the longest-idle keep-alive one, or is closed at once when none is idle.")
	flag.DurationVar(&o.ProviderKeyRefresh, "provider-key-refresh", o.ProviderKeyRefresh, "How often each provider's signing keys are refreshed (conditional GETs keep it cheap). A key withdrawn by the provider is refused within this plus 3m.")
	flag.StringVar(&secretNamespaces, "secret-namespaces", "", "Comma-separated namespaces whose exposed Secrets are served (the Secret cache is limited to them). Default: all namespaces.")
	flag.DurationVar(&o.MaxStaleness, "max-staleness", 0, "Answer 503 once this replica's view is older than this: the API server not reached, or an AzureHost/AzureAuthenticator/Namespace watch failing, for that long (e.g. 5m). Default 0: keep serving the last known state.")
	flag.IntVar(&o.VerifiedTokenCache, "verified-token-cache", o.VerifiedTokenCache, "How many accepted Azure tokens (about 1 KiB each) are remembered so that a workload presenting the same token again costs no signature verification; expiry, the host, admission and the client address are still checked on every request, and a key leaving the provider's JWKS ends its tokens. 0 turns it off.")
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println("azure-authenticator", versionString())
		return nil
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	namespace, err := managerns.Resolve(leaderElectionNS)
	if err != nil && !errors.Is(err, managerns.ErrUnknown) {
		return err
	}
	o.Namespace = namespace
	o.TLSSANs, o.SecretNamespaces = app.SplitList(tlsSANs), app.SplitList(secretNamespaces)
	if o.TrustedProxies, err = app.ParseCIDRs(trustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Audit, err = openAuditLog(auditLog); err != nil {
		return fmt.Errorf("--audit-log: %w", err)
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("failed to load a kubeconfig: %w", err)
	}
	a, err := app.New(cfg, o)
	if err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting the manager", "version", versionString(), "namespace", namespace, "leaderElection", o.LeaderElection)
	if err := a.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("manager stopped: %w", err)
	}
	return nil
}

func openAuditLog(path string) (io.Writer, error) {
	if path == "-" || path == "" {
		return os.Stdout, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return f, nil
}
