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

// Package servingcert provides the authenticator's TLS certificate when no
// certificate files are given: a self-signed certificate kept in a Secret,
// so every replica serves the same one and clients can pin it. It is
// regenerated when the configured names change or expiry nears.
package servingcert

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Source keeps a self-signed serving certificate in a Secret.
type Source struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// SANs are DNS names and IP addresses the certificate is for.
	SANs []string
	// Validity [1 year] and RenewBefore [30 days] govern regeneration.
	Validity    time.Duration
	RenewBefore time.Duration
	// Every is how often the Secret is checked again [1m].
	Every time.Duration
	Now   func() time.Time
	Log   logr.Logger

	once sync.Once
	cert atomic.Pointer[tls.Certificate]
	pem  atomic.Pointer[[]byte]
}

// defaults fills unset tunables once; Start, Sync and RotateOnce may run
// concurrently.
func (s *Source) defaults() { s.once.Do(s.setDefaults) }

func (s *Source) setDefaults() {
	if s.Validity == 0 {
		s.Validity = 365 * 24 * time.Hour
	}
	if s.RenewBefore == 0 {
		s.RenewBefore = 30 * 24 * time.Hour
	}
	if s.Every == 0 {
		s.Every = time.Minute
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}

// NeedLeaderElection is false: every replica serves.
func (s *Source) NeedLeaderElection() bool { return false }

// GetCertificate is for tls.Config.
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := s.cert.Load()
	if c == nil {
		return nil, errors.New("serving certificate not loaded yet")
	}
	return c, nil
}

// Loaded reports whether a certificate is available.
func (s *Source) Loaded() bool { return s.cert.Load() != nil }

// CertificatePEM is the current certificate, for clients to trust.
func (s *Source) CertificatePEM() []byte {
	if p := s.pem.Load(); p != nil {
		return *p
	}
	return nil
}

// Start syncs the Secret now and every Every until ctx ends.
func (s *Source) Start(ctx context.Context) error {
	s.defaults()
	if err := s.Sync(ctx); err != nil {
		return err
	}
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Sync(ctx); err != nil {
				s.Log.Error(err, "Failed to check the serving certificate; keeping the current one")
			}
		}
	}
}

// Sync loads the certificate from the Secret, creating or replacing it when
// it is missing, unusable, for other names, or close to expiry.
func (s *Source) Sync(ctx context.Context) error {
	s.defaults()
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	sec, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		sec = nil
	case err != nil:
		return fmt.Errorf("failed to read the serving-certificate Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if sec != nil {
		if reason := s.unusable(sec); reason == "" {
			return s.load(sec)
		} else {
			s.Log.Info("Regenerating the serving certificate", "reason", reason)
		}
	}
	certPEM, keyPEM, err := s.generate()
	if err != nil {
		return err
	}
	if sec == nil {
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "azure-authenticator"}},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
		}
		sec, err = secrets.Create(ctx, sec, metav1.CreateOptions{})
	} else {
		sec.Data = map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}
		sec, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		// Another replica wrote first: serve what it wrote.
		sec, err = secrets.Get(ctx, s.Name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("failed to write the serving-certificate Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return s.load(sec)
}

func (s *Source) load(sec *corev1.Secret) error {
	cert, err := tls.X509KeyPair(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return fmt.Errorf("serving-certificate Secret %s/%s is unusable: %w", s.Namespace, s.Name, err)
	}
	if cur := s.CertificatePEM(); !bytes.Equal(cur, sec.Data[corev1.TLSCertKey]) {
		p := slices.Clone(sec.Data[corev1.TLSCertKey])
		s.pem.Store(&p)
		s.cert.Store(&cert)
	}
	return nil
}

// unusable says why the stored certificate must be replaced, or "".
func (s *Source) unusable(sec *corev1.Secret) string {
	block, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if block == nil {
		return "no certificate"
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "unparseable certificate"
	}
	if _, err := tls.X509KeyPair(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]); err != nil {
		return "key does not match"
	}
	if s.Now().Add(s.RenewBefore).After(cert.NotAfter) {
		return "expiry near"
	}
	dns, ips := splitSANs(s.SANs)
	have := make([]string, 0, len(cert.IPAddresses))
	for _, ip := range cert.IPAddresses {
		have = append(have, ip.String())
	}
	want := make([]string, 0, len(ips))
	for _, ip := range ips {
		want = append(want, ip.String())
	}
	slices.Sort(have)
	slices.Sort(want)
	gotDNS := slices.Clone(cert.DNSNames)
	slices.Sort(gotDNS)
	slices.Sort(dns)
	if !slices.Equal(have, want) || !slices.Equal(gotDNS, dns) {
		return "names changed"
	}
	return ""
}

func splitSANs(sans []string) (dns []string, ips []net.IP) {
	for _, n := range sans {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else if n != "" {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

func (s *Source) generate() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := s.Now()
	dns, ips := splitSANs(s.SANs)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "azure-authenticator"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(s.Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: clients trust it as its own root
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
