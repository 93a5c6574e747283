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

// Package app assembles the manager: the one place where the controllers,
// the feeders, the stores, the HTTP handler and its listener are built and
// wired together. main.go parses flags into Options and calls New; every
// test suite that runs the product in process calls New as well, changing
// only the knobs in Testing.
//
// It is the top of the import graph below main: nothing but main and tests
// import it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/authn/server"
	"github.com/azure-authenticator/azure-authenticator/controllers"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/feed"
	"github.com/azure-authenticator/azure-authenticator/internal/health"
	"github.com/azure-authenticator/azure-authenticator/internal/managerns"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
	"github.com/azure-authenticator/azure-authenticator/internal/signingkeys"
)

// Defaults are main.go's flag defaults: what the manager runs with when no
// flag says otherwise. Test suites start from them too, so that they run
// the product as shipped.
func Defaults() Options {
	return Options{
		MetricsAddr: ":8443", SecureMetrics: true, ProbeAddr: ":8081",
		LeaderElectionID: "azure-authenticator", AuthnAddr: ":9443",
		TLSSecret: "azure-authenticator-tls", TLSSANs: []string{"localhost", "127.0.0.1"},
		Account: "default", SigningKeySecret: "azure-authenticator-signing-keys",
		MaxInFlight: authn.DefaultMaxInFlight, MaxConnections: server.DefaultMaxConnections,
		ProviderKeyRefresh: 5 * time.Minute, VerifiedTokenCache: 10000,
		// controller-runtime's own defaults (pkg/manager/internal.go).
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
	}
}

// Options are the manager's settings, one field per flag of main.go.
type Options struct {
	MetricsAddr   string // "0": no metrics endpoint
	SecureMetrics bool
	ProbeAddr     string // "0": no probe endpoint
	EnableHTTP2   bool

	LeaderElection   bool
	LeaderElectionID string
	// Lease timings of leader election: a standby takes over within about
	// LeaseDuration after the leader stops renewing; the leader gives up
	// after failing to renew for RenewDeadline; both sides retry every
	// RetryPeriod. Zero (in an Options literal): controller-runtime's.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Namespace is the manager's own (the Lease; Secrets named without
	// one); "" when unknown.
	Namespace string

	AuthnAddr string
	// TLS: certificate files (reloaded when they change), or else a
	// serving certificate and its CA kept in TLSSecret ([namespace/]name)
	// for TLSSANs, the CA also published to TLSCAConfigMap when set.
	TLSCertFile, TLSKeyFile string
	TLSSecret               string
	TLSSANs                 []string
	TLSCAConfigMap          string

	Account          string
	SigningKeySecret string // [namespace/]name
	TrustedProxies   []netip.Prefix
	Audit            io.Writer // nil: standard output
	MaxInFlight      int
	MaxConnections   int
	// ProviderKeyRefresh is how often provider keys are refreshed [>= 1m].
	ProviderKeyRefresh time.Duration
	// SecretNamespaces limits the exposed Secrets served (all when empty).
	SecretNamespaces []string
	// MaxStaleness: 503 once the view is older (0: never).
	MaxStaleness time.Duration
	// VerifiedTokenCache: accepted Azure tokens remembered (0: none).
	VerifiedTokenCache int

	// Testing holds the only knobs a test may turn.
	Testing Testing
}

// Testing are the knobs a test may turn; main.go leaves them zero. A test
// that needs anything else shows that the assembly is wrong.
type Testing struct {
	// Clock is the clock the server decides with: token expiry,
	// access-token lifetimes, signing-key and certificate ages, audit
	// times, API contact (provider key refresh keeps real time).
	Clock clock.Clock
	// Listener replaces AuthnAddr (a listener on 127.0.0.1:0).
	Listener net.Listener
	// DialContext dials providers (the loopback-only dialer).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ProviderRetryInterval and ProviderHTTPTimeout tune provider fetches.
	ProviderRetryInterval, ProviderHTTPTimeout time.Duration
	// SeveralManagers lets more than one manager run in one process
	// (controller names are otherwise unique per process).
	SeveralManagers bool
}

// Validate checks what flags alone can get wrong, before anything starts.
func (o *Options) Validate() error {
	var errs []error
	if o.LeaderElection && o.Namespace == "" {
		errs = append(errs, fmt.Errorf("--leader-elect needs a namespace for its Lease: %w", managerns.ErrUnknown))
	}
	if _, _, err := secretRef(o.SigningKeySecret, o.Namespace); err != nil {
		errs = append(errs, fmt.Errorf("--signing-key-secret: %w", err))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	if o.TLSCertFile == "" {
		if _, _, err := secretRef(o.TLSSecret, o.Namespace); err != nil {
			errs = append(errs, fmt.Errorf("--tls-secret: %w", err))
		}
	}
	if o.MaxInFlight < 1 || o.MaxConnections < 1 {
		errs = append(errs, errors.New("--max-in-flight and --max-connections must be at least 1"))
	}
	if o.ProviderKeyRefresh < time.Minute {
		errs = append(errs, fmt.Errorf("--provider-key-refresh must be at least 1m, not %s", o.ProviderKeyRefresh))
	}
	if err := authn.ValidateAccount(o.Account); err != nil {
		errs = append(errs, fmt.Errorf("--account: %w", err))
	}
	if o.VerifiedTokenCache < 0 {
		errs = append(errs, fmt.Errorf("--verified-token-cache must not be negative, not %d", o.VerifiedTokenCache))
	}
	if o.MaxStaleness < 0 {
		errs = append(errs, fmt.Errorf("--max-staleness must not be negative, not %s", o.MaxStaleness))
	}
	errs = append(errs, validateLeaseTimings(o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)...)
	return errors.Join(errs...)
}

// validateLeaseTimings mirrors the checks of client-go's NewLeaderElector,
// which would otherwise refuse the values only once the manager starts,
// after its listeners are up, with messages that name no flag. Checked
// with or without --leader-elect: a value that is wrong is wrong.
func validateLeaseTimings(lease, renew, retry time.Duration) []error {
	var errs []error
	for _, f := range []struct {
		flag string
		d    time.Duration
	}{
		{"--leader-election-lease-duration", lease},
		{"--leader-election-renew-deadline", renew},
		{"--leader-election-retry-period", retry},
	} {
		if f.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %s", f.flag, f.d))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	// The Lease records whole seconds (client-go truncates): 4.5s would be
	// 4s to the other replicas, who would take over while the leader still
	// counts on its renew deadline, and anything under 1s would be 0s, a
	// lease every replica believes expired: two leaders.
	if lease%time.Second != 0 {
		errs = append(errs, fmt.Errorf("--leader-election-lease-duration must be a whole number of seconds (the Lease records whole seconds), not %s", lease))
	}
	if renew >= lease {
		errs = append(errs, fmt.Errorf("--leader-election-renew-deadline (%s) must be shorter than --leader-election-lease-duration (%s): "+
			"a leader that cannot renew must stop leading before another replica may take over", renew, lease))
	}
	if jittered := time.Duration(leaderelection.JitterFactor * float64(retry)); renew <= jittered {
		errs = append(errs, fmt.Errorf("--leader-election-renew-deadline (%s) must be longer than %.1f x --leader-election-retry-period (%s), i.e. than %s: "+
			"client-go's rule (its JitterFactor): the leader retries a failed renewal every retry period within the deadline", renew, leaderelection.JitterFactor, retry, jittered))
	}
	return errs
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

// ParseCIDRs parses comma-separated CIDRs (--trusted-proxies), host bits
// cleared.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range SplitList(s) {
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

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// App is the assembled manager and the parts a probe or a test looks at.
type App struct {
	Manager     ctrl.Manager
	Index       *policy.Index
	Keys        *azuread.KeySets
	SigningKeys *signingkeys.Store
	ServingCert *servingcert.Source // nil with certificate files
	Secrets     *secrets.Store
	Contact     *health.Contact
	Informers   *health.Informers
	Handler     *authn.Handler
	Server      *server.Server
}

// Ready is the authenticator's readiness: listening with a certificate,
// and deciding requests.
func (a *App) Ready() error {
	if err := a.Server.Ready(); err != nil {
		return err
	}
	return a.Handler.Ready()
}

// Start runs the manager until ctx ends.
func (a *App) Start(ctx context.Context) error { return a.Manager.Start(ctx) }

// NewManager builds the controller-runtime manager alone, as New does: the
// scheme, the cache whose informers report their health to informers, the
// metrics and probe endpoints and leader election. New is built on it;
// the controllers' own API-server tests use it to run the reconcilers
// without the authenticator.
func NewManager(cfg *rest.Config, o Options, informers *health.Informers) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(authnv1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: o.SecureMetrics, TLSOpts: tlsOpts}
	if o.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	opts := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.Namespace,
		LeaderElectionReleaseOnCancel: true, // safe: the process exits right after Start returns
		// Every informer's list/watch errors are tracked: the index's
		// count towards --max-staleness. Reading a type nobody watches
		// must fail loudly, not start a cluster-wide informer behind our
		// back.
		Cache: informers.CacheOptions(cache.Options{ReaderFailOnMissingInformer: true}),
	}
	// Zero leaves controller-runtime's default in place.
	if lease := o.LeaseDuration; lease > 0 {
		opts.LeaseDuration = &lease
	}
	if renew := o.RenewDeadline; renew > 0 {
		opts.RenewDeadline = &renew
	}
	if retry := o.RetryPeriod; retry > 0 {
		opts.RetryPeriod = &retry
	}
	if o.Testing.SeveralManagers {
		skip := true
		opts.Controller = config.Controller{SkipNameValidation: &skip}
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("failed to create the manager: %w", err)
	}
	return mgr, nil
}

// New validates o and assembles the manager against the API server of
// cfg: on every replica the index feeder, the exposed-Secret feeder, the
// provider key sets, the signing keys, the serving certificate, the API
// contact tracker and the HTTPS authenticator; on the leader the status
// reconcilers and the signing-key rotator.
func New(cfg *rest.Config, o Options) (*App, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := ctrl.Log.WithName("authn")
	clk := o.Testing.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	if o.Audit == nil {
		o.Audit = stdout
	}
	a := &App{Index: policy.NewIndex(), Informers: health.NewInformers(ctrl.Log.WithName("watch-health"), clk)}
	var err error
	if a.Manager, err = NewManager(cfg, o, a.Informers); err != nil {
		return nil, err
	}
	clientset, err := kubernetes.NewForConfig(a.Manager.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("failed to build a Kubernetes client: %w", err)
	}

	a.Keys = azuread.NewKeySets(azuread.Options{
		RefreshInterval: o.ProviderKeyRefresh, RetryInterval: o.Testing.ProviderRetryInterval, HTTPTimeout: o.Testing.ProviderHTTPTimeout,
		DialContext: o.Testing.DialContext, Log: log.WithName("providers"),
	})

	signingNS, signingName, _ := secretRef(o.SigningKeySecret, o.Namespace)
	a.SigningKeys = &signingkeys.Store{
		Client: clientset, Namespace: signingNS, Name: signingName,
		Clock: clk, Log: log.WithName("signing-keys"),
	}

	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	var certLoaded func() bool
	var certRunnable manager.Runnable
	if o.TLSCertFile != "" {
		w, err := certwatcher.New(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("failed to load the TLS certificate: %w", err)
		}
		getCert, certRunnable = w.GetCertificate, w
	} else {
		tlsNS, tlsName, _ := secretRef(o.TLSSecret, o.Namespace)
		a.ServingCert = &servingcert.Source{
			Client: clientset, Namespace: tlsNS, Name: tlsName, SANs: o.TLSSANs, CAConfigMap: o.TLSCAConfigMap,
			Clock: clk, Log: log.WithName("serving-cert"),
		}
		getCert, certLoaded, certRunnable = a.ServingCert.GetCertificate, a.ServingCert.Loaded, a.ServingCert
	}

	a.Secrets = secrets.NewStore(o.SecretNamespaces...)
	a.Contact = &health.Contact{Discovery: clientset.Discovery(), Clock: clk, Log: log.WithName("api-contact"), Informers: a.Informers}
	if a.Handler, err = authn.New(authn.Config{
		Account: o.Account, TrustedProxies: o.TrustedProxies, Index: a.Index, Keys: a.Keys,
		Signing: a.SigningKeys, Secrets: a.Secrets, Audit: o.Audit, Log: log, Clock: clk,
		MaxInFlight: o.MaxInFlight, Staleness: a.Contact.Staleness, MaxStaleness: o.MaxStaleness, VerifiedTokenCache: o.VerifiedTokenCache,
	}); err != nil {
		return nil, err
	}
	a.Server = &server.Server{
		Handler: a.Handler, Addr: o.AuthnAddr, Listener: o.Testing.Listener,
		GetCertificate: getCert, CertificateLoaded: certLoaded, EnableHTTP2: o.EnableHTTP2,
		MaxConnections: o.MaxConnections, Log: log.WithValues("account", o.Account, "maxInFlight", o.MaxInFlight),
	}

	runnables := []manager.Runnable{
		&feed.IndexFeeder{Cache: a.Manager.GetCache(), Index: a.Index},
		&feed.SecretFeeder{Client: clientset, Store: a.Secrets, Health: a.Informers, Log: log.WithName("secrets")},
		a.SigningKeys, &signingkeys.Rotator{Store: a.SigningKeys},
		&azuread.ProviderSync{Index: a.Index, Keys: a.Keys},
		a.Contact,
		// The certificate must exist before the server accepts connections.
		certRunnable,
		a.Server,
	}
	for _, r := range runnables {
		if err := a.Manager.Add(r); err != nil {
			return nil, fmt.Errorf("failed to add %T to the manager: %w", r, err)
		}
	}
	if err := controllers.SetupWithManager(a.Manager, controllers.Options{
		ProviderHealth: a.Keys.Health, SecretNamespaces: o.SecretNamespaces, SecretsHealth: a.Secrets,
	}); err != nil {
		return nil, err
	}
	checks := []struct {
		name  string
		check healthz.Checker
		ready bool
	}{
		{"ping", healthz.Ping, false},
		{"policy-index", indexSynced(a.Index), true},
		{"authenticator", func(*http.Request) error { return a.Ready() }, true},
	}
	for _, c := range checks {
		add := a.Manager.AddHealthzCheck
		if c.ready {
			add = a.Manager.AddReadyzCheck
		}
		if err := add(c.name, c.check); err != nil {
			return nil, fmt.Errorf("failed to add the %s check: %w", c.name, err)
		}
	}
	return a, nil
}

// indexSynced is ready once the policy index holds the initial lists.
func indexSynced(index *policy.Index) healthz.Checker {
	return func(*http.Request) error {
		if !index.Synced() {
			return errors.New("policy index has not synced yet")
		}
		return nil
	}
}

// stdout is where the audit log goes by default.
var stdout io.Writer = os.Stdout
