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
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"time"

	// Trust roots for reaching Entra ID when the system has none (the
	// image is FROM scratch); system roots, and SSL_CERT_FILE, win when
	// present.
	_ "golang.org/x/crypto/x509roots/fallback"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/controllers"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/managerns"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
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

// defaultLeaderElectionID names the Lease the replicas compete for.
const defaultLeaderElectionID = "azure-authenticator"

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
	var (
		metricsAddr          string
		probeAddr            string
		secureMetrics        bool
		enableHTTP2          bool
		enableLeaderElection bool
		leaderElectionNS     string
		leaderElectionID     string
		authnAddr            string
		tlsCertFile          string
		tlsKeyFile           string
		tlsSecret            string
		tlsSANs              string
		tlsCAConfigMap       string
		account              string
		signingKeySecret     string
		trustedProxies       string
		auditLog             string
		maxInFlight          int
		maxConnections       int
		keyRefresh           time.Duration
		secretNamespaces     string
		maxStaleness         time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443",
		"The address the metrics endpoint binds to (HTTPS with --metrics-secure). Use 0 to disable it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS and require a bearer token allowed to get /metrics.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server and the authenticator. Off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Elect a leader among replicas; only the leader writes status. Every replica serves and keeps its own index.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"The namespace of the manager's own objects (the leader-election Lease). Default: POD_NAMESPACE, then the in-cluster service-account namespace.")
	flag.StringVar(&leaderElectionID, "leader-election-id", defaultLeaderElectionID,
		"The name of the leader-election Lease; installations sharing a namespace need different ones.")
	flag.StringVar(&authnAddr, "authn-bind-address", ":9443", "The address the HTTPS authenticator (Conjur authn-azure routes) binds to.")
	flag.StringVar(&tlsCertFile, "tls-cert-file", "", "PEM certificate for the authenticator, reloaded when it changes. With --tls-key-file; without both, a serving certificate and the name-constrained CA that signs it are kept in --tls-secret.")
	flag.StringVar(&tlsKeyFile, "tls-key-file", "", "PEM private key for --tls-cert-file.")
	flag.StringVar(&tlsSecret, "tls-secret", "azure-authenticator-tls", "Secret ([namespace/]name; default namespace: the manager's) holding the serving certificate shared by all replicas and its CA (ca.crt: what clients trust).")
	flag.StringVar(&tlsSANs, "tls-sans", "localhost,127.0.0.1", "Comma-separated DNS names and IP addresses of the serving certificate; its CA may sign for these names only and is replaced (clients re-fetch ca.crt) when they change.")
	flag.StringVar(&tlsCAConfigMap, "tls-ca-configmap", "", "A ConfigMap in --tls-secret's namespace, created beforehand, into which the serving CA (key ca.crt) is published for clients, who then need no access to the Secret and its private keys. Default: none.")
	flag.StringVar(&account, "account", "default", "The Conjur account served: letters, digits, '.', '_' and '-'.")
	flag.StringVar(&signingKeySecret, "signing-key-secret", "azure-authenticator-signing-keys", "Secret ([namespace/]name; default namespace: the manager's) holding the access-token signing keys.")
	flag.StringVar(&trustedProxies, "trusted-proxies", "", "Comma-separated CIDRs of proxies whose X-Forwarded-For is believed. Default none: the client address is the peer address.")
	flag.StringVar(&auditLog, "audit-log", "-", "Where the audit log (one JSON line per attempt) goes: - for standard output, or a file path (appended).")
	flag.IntVar(&maxInFlight, "max-in-flight", authn.DefaultMaxInFlight, "Requests the authenticator serves at once; more get 503 with Retry-After. A request takes its slot only once its body (at most 64 KiB, within 2s) has arrived.")
	flag.IntVar(&maxConnections, "max-connections", authn.DefaultMaxConnections, "Connections the authenticator keeps open at once; at the cap a new connection evicts the longest-idle keep-alive one, or is closed at once when none is idle.")
	flag.DurationVar(&keyRefresh, "provider-key-refresh", 5*time.Minute, "How often each provider's signing keys are refreshed (conditional GETs keep it cheap). A key withdrawn by the provider is refused within this plus 3m.")
	flag.StringVar(&secretNamespaces, "secret-namespaces", "", "Comma-separated namespaces whose exposed Secrets are served (the Secret cache is limited to them). Default: all namespaces.")
	flag.DurationVar(&maxStaleness, "max-staleness", 0, "Answer 503 once this replica's view is older than this: the API server not reached, or an AzureHost/AzureAuthenticator/Namespace watch failing, for that long (e.g. 5m). Default 0: keep serving the last known state.")
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println("azure-authenticator", versionString())
		return nil
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(authnv1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	namespace, err := managerns.Resolve(leaderElectionNS)
	if err != nil && enableLeaderElection {
		return fmt.Errorf("--leader-elect needs a namespace for its Lease: %w", err)
	}
	if err != nil && !errors.Is(err, managerns.ErrUnknown) {
		return err
	}
	signingNS, signingName, err := secretRef(signingKeySecret, namespace)
	if err != nil {
		return fmt.Errorf("--signing-key-secret: %w", err)
	}
	tlsNS, tlsName, err := secretRef(tlsSecret, namespace)
	if err != nil && tlsCertFile == "" {
		return fmt.Errorf("--tls-secret: %w", err)
	}
	if maxInFlight < 1 || maxConnections < 1 {
		return fmt.Errorf("--max-in-flight and --max-connections must be at least 1")
	}
	if keyRefresh < time.Minute {
		return fmt.Errorf("--provider-key-refresh must be at least 1m, not %s", keyRefresh)
	}
	if err := authn.ValidateAccount(account); err != nil {
		return fmt.Errorf("--account: %w", err)
	}
	proxies, err := parseCIDRs(trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	audit, err := openAuditLog(auditLog)
	if err != nil {
		return fmt.Errorf("--audit-log: %w", err)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("failed to load a kubeconfig: %w", err)
	}
	// Every informer's list/watch errors are tracked: the index's count
	// towards --max-staleness, the Secrets' towards their namespace only.
	watchHealth := authn.NewWatchHealth(ctrl.Log.WithName("watch-health"), nil)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                enableLeaderElection,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       namespace,
		LeaderElectionReleaseOnCancel: true, // safe: the process exits right after Start returns
		// Reading a type nobody watches must fail loudly, not start a
		// cluster-wide informer behind our back.
		Cache: watchHealth.CacheOptions(cache.Options{ReaderFailOnMissingInformer: true}),
	})
	if err != nil {
		return fmt.Errorf("failed to create the manager: %w", err)
	}

	index := policy.NewIndex()
	authnParts, err := authn.Setup(mgr, authn.Options{
		Addr: authnAddr, Account: account, Index: index,
		TLSCertFile: tlsCertFile, TLSKeyFile: tlsKeyFile, TLSSecretNamespace: tlsNS, TLSSecretName: tlsName,
		TLSSANs: splitList(tlsSANs), TLSCAConfigMap: tlsCAConfigMap, EnableHTTP2: enableHTTP2,
		SigningKeyNamespace: signingNS, SigningKeyName: signingName,
		TrustedProxies: proxies, MaxInFlight: maxInFlight, MaxConnections: maxConnections, Audit: audit,
		KeySets:          azuread.Options{RefreshInterval: keyRefresh},
		SecretNamespaces: splitList(secretNamespaces), MaxStaleness: maxStaleness,
	})
	if err != nil {
		return err
	}
	if err := controllers.SetupWithManager(mgr, index, controllers.Options{
		ProviderHealth: authnParts.Keys.Health, SecretNamespaces: splitList(secretNamespaces), SecretsHealth: authnParts.Secrets,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("failed to add the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("policy-index", indexSynced(index)); err != nil {
		return fmt.Errorf("failed to add the readiness check: %w", err)
	}
	if err := mgr.AddReadyzCheck("authenticator", authnParts.Server.ReadyCheck); err != nil {
		return fmt.Errorf("failed to add the readiness check: %w", err)
	}

	log.Info("Starting the manager", "version", versionString(), "namespace", namespace, "leaderElection", enableLeaderElection)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fmt.Errorf("manager stopped: %w", err)
	}
	return nil
}

// secretRef parses [namespace/]name; a bare name lives in the manager's
// namespace, which must then be known.
func secretRef(ref, managerNamespace string) (string, string, error) {
	ns, name, found := strings.Cut(ref, "/")
	if !found {
		ns, name = managerNamespace, ref
		if ns == "" {
			return "", "", fmt.Errorf("%q has no namespace and %w", ref, managerns.ErrUnknown)
		}
	}
	if len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", fmt.Errorf("%q is not a valid namespace/name", ref)
	}
	return ns, name, nil
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func parseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range splitList(s) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", item)
		}
		if p.Addr().Is4In6() {
			// Peers are compared unmapped: such a range would match no
			// proxy, and the proxy's own address would become the client's.
			return nil, fmt.Errorf("%q is an IPv4-mapped IPv6 range; write it as IPv4", item)
		}
		out = append(out, p.Masked())
	}
	return out, nil
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

// indexSynced is ready once the policy index holds the initial lists.
func indexSynced(index *policy.Index) healthz.Checker {
	return func(_ *http.Request) error {
		if !index.Synced() {
			return errors.New("policy index has not synced yet")
		}
		return nil
	}
}
