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
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
	"github.com/azure-authenticator/azure-authenticator/internal/signingkeys"
)

// Options assemble the authenticator inside a manager.
type Options struct {
	Addr     string
	Listener net.Listener // tests: a listener on 127.0.0.1:0
	Account  string
	Index    *policy.Index

	// TLS: certificate files (reloaded when they change), or else a
	// self-signed certificate kept in TLSSecret for TLSSANs.
	TLSCertFile, TLSKeyFile string
	TLSSecretNamespace      string
	TLSSecretName           string
	// TLSCAConfigMap, if set, receives the managed CA (ca.crt) for clients.
	TLSCAConfigMap string
	TLSSANs        []string
	EnableHTTP2    bool

	SigningKeyNamespace string
	SigningKeyName      string
	// SigningKeyPropagation and SigningKeyRotation tune rotation [2m, 24h].
	SigningKeyPropagation time.Duration
	SigningKeyRotation    time.Duration

	TrustedProxies []netip.Prefix
	MaxInFlight    int
	// MaxConnections caps open connections [DefaultMaxConnections].
	MaxConnections int
	// SecretNamespaces limits the exposed Secrets served (all when empty);
	// each listed namespace has its own informer and health.
	SecretNamespaces []string
	// MaxStaleness: answer 503 once the view is older than that: the API
	// server not reached, or an index informer failing, for that long (0:
	// serve the last state however old).
	MaxStaleness time.Duration
	// WatchHealth tracks the manager cache's informers: build the manager's
	// cache options with its CacheOptions so that the index's informers
	// count towards MaxStaleness. Nil: a tracker of the Secret informers
	// only, and the view's staleness is the API contact alone.
	WatchHealth *WatchHealth
	Audit       io.Writer
	// KeySets tunes provider key fetching (tests: a loopback dialer).
	KeySets azuread.Options
	Now     func() time.Time
}

// Components are the pieces Setup added, for readiness and status.
type Components struct {
	Server      *Server
	Keys        *azuread.KeySets
	SigningKeys *signingkeys.Store
	ServingCert *servingcert.Source // nil with certificate files
	Secrets     *secrets.Store
	Contact     *ContactTracker
	Health      *WatchHealth
}

// Setup adds the authenticator to the manager: the HTTPS server, provider
// key sets, signing keys, serving certificate, exposed-Secret feed and API
// contact tracker on every replica, and the signing-key rotator on the
// leader.
func Setup(mgr ctrl.Manager, o Options) (*Components, error) {
	log := ctrl.Log.WithName("authn")
	if o.Now == nil {
		o.Now = time.Now
	}
	clientset, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("failed to build a Kubernetes client: %w", err)
	}
	c := &Components{}

	ks := o.KeySets
	ks.Log = log.WithName("providers")
	ks.OnRefresh = RecordJWKSRefresh
	if ks.Now == nil {
		ks.Now = o.Now
	}
	c.Keys = azuread.NewKeySets(ks)

	c.SigningKeys = &signingkeys.Store{
		Client: clientset, Namespace: o.SigningKeyNamespace, Name: o.SigningKeyName,
		Propagation: o.SigningKeyPropagation, RotateAfter: o.SigningKeyRotation,
		Now: o.Now, Log: log.WithName("signing-keys"), OnLoad: RecordSigningKeys,
	}

	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	var certLoaded func() bool
	if o.TLSCertFile != "" || o.TLSKeyFile != "" {
		if o.TLSCertFile == "" || o.TLSKeyFile == "" {
			return nil, fmt.Errorf("--tls-cert-file and --tls-key-file go together")
		}
		w, err := certwatcher.New(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("failed to load the TLS certificate: %w", err)
		}
		if err := mgr.Add(w); err != nil {
			return nil, err
		}
		getCert = w.GetCertificate
	} else {
		c.ServingCert = &servingcert.Source{
			Client: clientset, Namespace: o.TLSSecretNamespace, Name: o.TLSSecretName, SANs: o.TLSSANs, CAConfigMap: o.TLSCAConfigMap,
			Now: o.Now, Log: log.WithName("serving-cert"),
		}
		getCert, certLoaded = c.ServingCert.GetCertificate, c.ServingCert.Loaded
	}

	c.Health = o.WatchHealth
	if c.Health == nil {
		c.Health = NewWatchHealth(log.WithName("watch-health"), nil)
	}
	c.Secrets = secrets.NewStore(o.SecretNamespaces...)
	c.Contact = &ContactTracker{Discovery: clientset.Discovery(), Now: o.Now, Log: log.WithName("api-contact"), Informers: c.Health}

	c.Server, err = NewServer(Config{
		Addr: o.Addr, Listener: o.Listener, GetCertificate: getCert, CertificateLoaded: certLoaded, EnableHTTP2: o.EnableHTTP2,
		Account: o.Account, TrustedProxies: o.TrustedProxies, Index: o.Index, Keys: c.Keys,
		Signing: c.SigningKeys, Secrets: c.Secrets, Auditor: NewAuditor(o.Audit, o.Now), Log: log, Now: o.Now, MaxInFlight: o.MaxInFlight, MaxConnections: o.MaxConnections,
		Staleness: c.Contact.Staleness, MaxStaleness: o.MaxStaleness,
	})
	if err != nil {
		return nil, err
	}

	runnables := []manager.Runnable{c.SigningKeys, &signingkeys.Rotator{Store: c.SigningKeys}, &ProviderSync{Index: o.Index, Keys: c.Keys},
		&SecretFeeder{Client: clientset, Store: c.Secrets, Health: c.Health, Log: log.WithName("secrets")}, c.Contact}
	if c.ServingCert != nil {
		// The certificate must exist before the server accepts connections.
		runnables = append(runnables, c.ServingCert)
	}
	runnables = append(runnables, c.Server)
	for _, r := range runnables {
		if err := mgr.Add(r); err != nil {
			return nil, fmt.Errorf("failed to add %T to the manager: %w", r, err)
		}
	}
	return c, nil
}
