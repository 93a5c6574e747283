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

package servingcert_test

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
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
)

const (
	ns      = "authn"
	secName = "authn-tls"
	day     = 24 * time.Hour
	// claimExpiry is the default ClaimExpiry.
	claimExpiry = 15 * time.Minute
)

func newSource(cs *fake.Clientset, clock *clocktesting.FakeClock, sans ...string) *servingcert.Source {
	return &servingcert.Source{Client: cs, Namespace: ns, Name: secName, SANs: sans, Clock: clock, Log: logr.Discard()}
}

func mustSync(t *testing.T, s *servingcert.Source) {
	t.Helper()
	if err := s.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func getSecret(t *testing.T, cs *fake.Clientset) *corev1.Secret {
	t.Helper()
	sec, err := cs.CoreV1().Secrets(ns).Get(context.Background(), secName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func parseCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no certificate in PEM")
	}
	return out
}

func parseKey(t *testing.T, data []byte) *ecdsa.PrivateKey {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no key PEM")
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pool(t *testing.T, caPEM []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate")
	}
	return p
}

func servedLeaf(t *testing.T, s *servingcert.Source) *x509.Certificate {
	t.Helper()
	c, err := s.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func verify(leaf *x509.Certificate, roots *x509.CertPool, name string, at time.Time, inter ...*x509.Certificate) error {
	ip := x509.NewCertPool()
	for _, c := range inter {
		ip.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: ip, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// mint signs tmpl with a (leaked) CA key, as an attacker would.
func mint(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func leafTemplate(now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{CommonName: "x"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * day),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
}

// withHost adds host to tmpl as an IP address or DNS name SAN.
func withHost(tmpl *x509.Certificate, host string) *x509.Certificate {
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	return tmpl
}

func prefixes(nets []*net.IPNet) []string {
	out := []string{}
	for _, n := range nets {
		out = append(out, n.String())
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = append([]string{}, s...)
	slices.Sort(s)
	return s
}

var cases = []struct {
	sans                 []string
	dns, permIPs, exclIP []string // expected CA name constraints
	hosts                []string // names the served leaf must verify for
}{
	{[]string{"localhost", "127.0.0.1"}, []string{"localhost"}, []string{"127.0.0.1/32"}, []string{"::/0"}, []string{"localhost", "127.0.0.1"}},
	{[]string{"Authn.Example.Internal", "::1"}, []string{"authn.example.internal"}, []string{"::1/128"}, []string{"0.0.0.0/0"}, []string{"authn.example.internal", "::1"}},
	{[]string{"127.0.0.1"}, []string{"invalid"}, []string{"127.0.0.1/32"}, []string{"::/0"}, []string{"127.0.0.1"}},
	{[]string{"a.example", "b.example"}, []string{"a.example", "b.example"}, []string{}, []string{"0.0.0.0/0", "::/0"}, []string{"a.example", "b.example"}},
	{[]string{"x.example", "10.0.0.1", "::1", "10.0.0.1"}, []string{"x.example"}, []string{"10.0.0.1/32", "::1/128"}, []string{}, []string{"x.example", "10.0.0.1", "::1"}},
}

// (1) The CA is confined to exactly the configured names and cannot sign
// sub-CAs; the leaf is not a CA; the Secret has the documented shape.
func TestCAIsConfinedToExactlyTheConfiguredNames(t *testing.T) {
	for _, tc := range cases {
		t.Run(strings.Join(tc.sans, ","), func(t *testing.T) {
			cs := fake.NewClientset()
			clock := clocktesting.NewFakeClock(time.Now())
			s := newSource(cs, clock, tc.sans...)
			mustSync(t, s)
			sec := getSecret(t, cs)
			if sec.Type != corev1.SecretTypeTLS {
				t.Errorf("type %q", sec.Type)
			}
			var keys []string
			for k := range sec.Data {
				keys = append(keys, k)
			}
			if want := []string{"ca.crt", "ca.key", "tls.crt", "tls.key"}; !slices.Equal(sorted(keys), want) {
				t.Errorf("keys %v, want %v", sorted(keys), want)
			}
			if !bytes.Equal(s.CAPEM(), sec.Data["ca.crt"]) || !bytes.Equal(s.CertificatePEM(), sec.Data["ca.crt"]) {
				t.Error("CAPEM/CertificatePEM is not the Secret's ca.crt")
			}

			ca := parseCerts(t, sec.Data["ca.crt"])
			if len(ca) != 1 {
				t.Fatalf("ca.crt holds %d certificates", len(ca))
			}
			c := ca[0]
			if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("CA basic constraints: IsCA=%v valid=%v MaxPathLen=%d zero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
			}
			if c.KeyUsage != x509.KeyUsageCertSign || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("CA usages %v %v", c.KeyUsage, c.ExtKeyUsage)
			}
			if !c.PermittedDNSDomainsCritical {
				t.Error("name constraints not critical")
			}
			if got := sorted(c.PermittedDNSDomains); !slices.Equal(got, tc.dns) {
				t.Errorf("permitted DNS %v, want %v", got, tc.dns)
			}
			if got := prefixes(c.PermittedIPRanges); !slices.Equal(got, tc.permIPs) {
				t.Errorf("permitted IPs %v, want %v", got, tc.permIPs)
			}
			if got := prefixes(c.ExcludedIPRanges); !slices.Equal(got, tc.exclIP) {
				t.Errorf("excluded IPs %v, want %v", got, tc.exclIP)
			}
			if !slices.Equal(c.PermittedEmailAddresses, []string{"invalid"}) || !slices.Equal(c.PermittedURIDomains, []string{"invalid"}) {
				t.Errorf("e-mail/URI constraints %v %v", c.PermittedEmailAddresses, c.PermittedURIDomains)
			}
			if len(c.ExcludedDNSDomains)+len(c.ExcludedEmailAddresses)+len(c.ExcludedURIDomains)+len(c.DNSNames)+len(c.IPAddresses) != 0 {
				t.Error("unexpected names on the CA")
			}
			if life := c.NotAfter.Sub(clock.Now()); life < 3649*day || life > 3651*day {
				t.Errorf("CA life %v", life)
			}

			chain := parseCerts(t, sec.Data["tls.crt"])
			if len(chain) != 2 || !bytes.Equal(chain[1].Raw, c.Raw) {
				t.Fatalf("tls.crt is not [leaf, CA]")
			}
			leaf := chain[0]
			if served := servedLeaf(t, s); !bytes.Equal(served.Raw, leaf.Raw) {
				t.Error("the served leaf is not tls.crt's")
			}
			if got, _ := s.GetCertificate(nil); len(got.Certificate) != 2 || !bytes.Equal(got.Certificate[1], c.Raw) {
				t.Error("the served chain is not [leaf, CA]")
			}
			if leaf.IsCA || !leaf.BasicConstraintsValid || leaf.KeyUsage != x509.KeyUsageDigitalSignature ||
				!slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("leaf: IsCA=%v usages %v %v", leaf.IsCA, leaf.KeyUsage, leaf.ExtKeyUsage)
			}
			if life := leaf.NotAfter.Sub(clock.Now()); life <= 90*day-time.Second || life > 90*day { // X.509 times are in seconds
				t.Errorf("leaf life %v", life)
			}
			var sans []string
			for _, ip := range leaf.IPAddresses {
				sans = append(sans, ip.String())
			}
			sans = append(sans, leaf.DNSNames...)
			if !slices.Equal(sorted(sans), sorted(tc.hosts)) || len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
				t.Errorf("leaf SANs %v, want %v", sans, tc.hosts)
			}
			for _, h := range tc.hosts {
				if err := verify(leaf, pool(t, sec.Data["ca.crt"]), h, clock.Now()); err != nil {
					t.Errorf("leaf for %s: %v", h, err)
				}
			}
			if !parseKey(t, sec.Data["tls.key"]).PublicKey.Equal(leaf.PublicKey) {
				t.Error("tls.key is not the leaf's key")
			}
		})
	}
}

// (2) Whoever reads the Secret holds the CA key: whatever they mint for
// other names, or as a sub-CA, fails verification against the CA, while
// the served leaf verifies for every configured name.
func TestLeakedCAKeyCannotMintForOtherNames(t *testing.T) {
	for _, tc := range cases {
		t.Run(strings.Join(tc.sans, ","), func(t *testing.T) {
			cs := fake.NewClientset()
			now := time.Now()
			s := newSource(cs, clocktesting.NewFakeClock(now), tc.sans...)
			mustSync(t, s)
			sec := getSecret(t, cs)
			ca := parseCerts(t, sec.Data["ca.crt"])[0]
			caKey := parseKey(t, sec.Data["ca.key"])
			roots := pool(t, s.CAPEM()) // the CA is the only root

			for _, h := range tc.hosts {
				if err := verify(servedLeaf(t, s), roots, h, now); err != nil {
					t.Errorf("served leaf for %s: %v", h, err)
				}
				// Control: the attack helper itself produces valid
				// certificates where the CA may sign, so the refusals below
				// come from the constraints.
				if c, _ := mint(t, withHost(leafTemplate(now), h), ca, caKey); verify(c, roots, h, now) != nil {
					t.Errorf("control: a leaf minted for configured %s does not verify", h)
				}
			}

			notAuthorized := func(what, host string, err error) {
				t.Helper()
				var inv x509.CertificateInvalidError
				if err == nil {
					t.Errorf("%s for %s verified", what, host)
				} else if !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
					t.Errorf("%s for %s: want a name-constraint violation, got %v", what, host, err)
				}
			}
			for _, host := range []string{"login.microsoftonline.com", "kubernetes.default.svc", "localhost.evil.example", "example", "invalid.example"} {
				tmpl := leafTemplate(now)
				tmpl.DNSNames = []string{host}
				c, _ := mint(t, tmpl, ca, caKey)
				notAuthorized("a leaf", host, verify(c, roots, host, now))
				// Also smuggled next to a configured name.
				tmpl = leafTemplate(now)
				tmpl.DNSNames, tmpl.IPAddresses = []string{host, "localhost"}, []net.IP{net.ParseIP("127.0.0.1")}
				c, _ = mint(t, tmpl, ca, caKey)
				notAuthorized("a mixed leaf", host, verify(c, roots, host, now))
			}
			tmpl := leafTemplate(now)
			tmpl.DNSNames = []string{"*.microsoftonline.com"}
			c, _ := mint(t, tmpl, ca, caKey)
			notAuthorized("a wildcard leaf", "login.microsoftonline.com", verify(c, roots, "login.microsoftonline.com", now))
			for _, ip := range []string{"20.190.128.1", "127.0.0.2", "10.0.0.2", "::2", "2001:db8::1", "169.254.169.254"} {
				tmpl := leafTemplate(now)
				tmpl.IPAddresses = []net.IP{net.ParseIP(ip)}
				c, _ := mint(t, tmpl, ca, caKey)
				notAuthorized("a leaf", ip, verify(c, roots, ip, now))
			}
			// E-mail and URI names are confined too.
			tmpl = withHost(leafTemplate(now), tc.hosts[0])
			tmpl.EmailAddresses = []string{"admin@example.com"}
			c, _ = mint(t, tmpl, ca, caKey)
			notAuthorized("an e-mail leaf", tc.hosts[0], verify(c, roots, tc.hosts[0], now))
			u, _ := url.Parse("spiffe://example.com/admin")
			tmpl = withHost(leafTemplate(now), tc.hosts[0])
			tmpl.URIs = []*url.URL{u}
			c, _ = mint(t, tmpl, ca, caKey)
			notAuthorized("a URI leaf", tc.hosts[0], verify(c, roots, tc.hosts[0], now))

			// A sub-CA (which could otherwise claim constraints of its own)
			// is refused even for a configured name: path length 0.
			sub := leafTemplate(now)
			sub.IsCA, sub.KeyUsage, sub.MaxPathLenZero = true, x509.KeyUsageCertSign, true
			subCA, subKey := mint(t, sub, ca, caKey)
			c, _ = mint(t, withHost(leafTemplate(now), tc.hosts[0]), subCA, subKey)
			var inv x509.CertificateInvalidError
			if err := verify(c, roots, tc.hosts[0], now, subCA); !errors.As(err, &inv) || inv.Reason != x509.TooManyIntermediates {
				t.Errorf("a leaf from a minted sub-CA: want TooManyIntermediates, got %v", err)
			}
			// Client authentication is not among the CA's usages.
			tmpl = withHost(leafTemplate(now), tc.hosts[0])
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			c, _ = mint(t, tmpl, ca, caKey)
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("a minted client certificate verified")
			}
		})
	}
}

// oldStyle is what earlier versions stored: a self-signed certificate with
// the CA bit and no name constraints, and no ca.crt.
func oldStyle(t *testing.T, now time.Time, sans ...string) map[string][]byte {
	t.Helper()
	tmpl := leafTemplate(now)
	tmpl.NotAfter = now.Add(365 * day)
	tmpl.IsCA, tmpl.KeyUsage = true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
	for _, n := range sans {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(1)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return map[string][]byte{
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}),
	}
}

// (3) A Secret from an earlier version (CA bit, no constraints), or one
// whose CA is unconstrained or may sign sub-CAs, is replaced.
func TestOldStyleSecretIsReplaced(t *testing.T) {
	now := time.Now()
	sans := []string{"localhost", "127.0.0.1"}
	old := oldStyle(t, now, sans...)

	// A CA stored in the new layout with a valid leaf: with exactly the
	// constraints this version writes, then with one property weakened.
	stored := func(mutate func(*x509.Certificate)) map[string][]byte {
		ca := leafTemplate(now)
		ca.NotAfter = now.Add(3650 * day)
		ca.IsCA, ca.KeyUsage, ca.MaxPathLenZero = true, x509.KeyUsageCertSign, true
		ca.PermittedDNSDomainsCritical, ca.PermittedDNSDomains = true, []string{"localhost"}
		ca.PermittedIPRanges = []*net.IPNet{{IP: net.IPv4(127, 0, 0, 1).To4(), Mask: net.CIDRMask(32, 32)}}
		ca.ExcludedIPRanges = []*net.IPNet{{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}
		ca.PermittedEmailAddresses, ca.PermittedURIDomains = []string{"invalid"}, []string{"invalid"}
		mutate(ca)
		caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ca.SerialNumber = big.NewInt(2)
		der, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		caCert, _ := x509.ParseCertificate(der)
		tmpl := withHost(withHost(leafTemplate(now), "localhost"), "127.0.0.1")
		tmpl.NotAfter = now.Add(90 * day)
		leaf, key := mint(t, tmpl, caCert, caKey)
		caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		kd, _ := x509.MarshalECPrivateKey(key)
		ckd, _ := x509.MarshalECPrivateKey(caKey)
		return map[string][]byte{
			"tls.crt": append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), caPEM...),
			"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}),
			"ca.crt":  caPEM,
			"ca.key":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ckd}),
		}
	}
	for _, tc := range []struct {
		name string
		data map[string][]byte
		keep bool
	}{
		{"control: as this version writes it", stored(func(*x509.Certificate) {}), true},
		{"old self-signed CA, no ca.crt", old, false},
		{"unconstrained CA", stored(func(c *x509.Certificate) {
			c.PermittedDNSDomainsCritical, c.PermittedDNSDomains, c.PermittedIPRanges, c.ExcludedIPRanges = false, nil, nil, nil
			c.PermittedEmailAddresses, c.PermittedURIDomains = nil, nil
		}), false},
		{"CA may sign sub-CAs", stored(func(c *x509.Certificate) { c.MaxPathLenZero, c.MaxPathLen = false, -1 }), false},
		{"CA permits another domain", stored(func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"localhost", "com"} }), false},
		{"CA permits an IP range", stored(func(c *x509.Certificate) { c.PermittedIPRanges[0].Mask = net.CIDRMask(8, 32) }), false},
		{"CA does not exclude IPv6", stored(func(c *x509.Certificate) { c.ExcludedIPRanges = nil }), false},
		{"CA permits e-mail", stored(func(c *x509.Certificate) { c.PermittedEmailAddresses = nil }), false},
		{"constraints not critical", stored(func(c *x509.Certificate) { c.PermittedDNSDomainsCritical = false }), false},
		{"CA for client auth too", stored(func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			cs := fake.NewClientset(&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: secName, Namespace: ns}, Type: corev1.SecretTypeTLS, Data: data,
			})
			s := newSource(cs, clocktesting.NewFakeClock(now), sans...)
			mustSync(t, s)
			sec := getSecret(t, cs)
			oldCert, _ := tls.X509KeyPair(data["tls.crt"], data["tls.key"])
			got, _ := s.GetCertificate(nil)
			if tc.keep {
				if !bytes.Equal(sec.Data["ca.crt"], data["ca.crt"]) || !bytes.Equal(s.CAPEM(), data["ca.crt"]) || !bytes.Equal(got.Certificate[0], oldCert.Certificate[0]) {
					t.Fatal("a good Secret was replaced")
				}
				return
			}
			if bytes.Equal(sec.Data["tls.crt"], data["tls.crt"]) || data["ca.crt"] != nil && bytes.Contains(sec.Data["tls.crt"], data["ca.crt"]) {
				t.Fatal("the old certificate was kept")
			}
			if bytes.Equal(s.CAPEM(), data["tls.crt"]) || bytes.Equal(s.CAPEM(), data["ca.crt"]) {
				t.Fatal("clients are still told to trust the old certificate")
			}
			c := parseCerts(t, s.CAPEM())[0]
			if !c.PermittedDNSDomainsCritical || !c.MaxPathLenZero || !slices.Equal(c.PermittedDNSDomains, []string{"localhost"}) {
				t.Fatal("the replacement CA is not constrained")
			}
			if bytes.Equal(got.Certificate[0], oldCert.Certificate[0]) {
				t.Fatal("still serving the old certificate")
			}
		})
	}
}

// (4a) The leaf is renewed 30 days before expiry from the same CA: clients
// pinning ca.crt keep working. Another replica picks the renewal up.
func TestLeafRenewalKeepsTheCA(t *testing.T) {
	cs := fake.NewClientset()
	start := time.Now()
	clock := clocktesting.NewFakeClock(start)
	a := newSource(cs, clock, "localhost", "127.0.0.1")
	b := newSource(cs, clock, "127.0.0.1", "localhost") // another replica
	mustSync(t, a)
	mustSync(t, b)
	caPEM, caKey := a.CAPEM(), getSecret(t, cs).Data["ca.key"]
	first := servedLeaf(t, a)
	if !bytes.Equal(b.CAPEM(), caPEM) || !bytes.Equal(servedLeaf(t, b).Raw, first.Raw) {
		t.Fatal("replicas serve different certificates")
	}
	clientPool := pool(t, caPEM) // as a client fetched it on day 0

	clock.Step(59 * day) // outside the renewal window: nothing changes
	mustSync(t, a)
	if !bytes.Equal(servedLeaf(t, a).Raw, first.Raw) {
		t.Fatal("renewed 31 days before expiry")
	}

	clock.Step(2 * day) // 29 days left
	mustSync(t, a)
	renewed := servedLeaf(t, a)
	if bytes.Equal(renewed.Raw, first.Raw) {
		t.Fatal("leaf not renewed 29 days before expiry")
	}
	if !bytes.Equal(a.CAPEM(), caPEM) || !bytes.Equal(getSecret(t, cs).Data["ca.key"], caKey) || !bytes.Equal(getSecret(t, cs).Data["ca.crt"], caPEM) {
		t.Fatal("leaf renewal changed the CA")
	}
	for _, h := range []string{"localhost", "127.0.0.1"} {
		if err := verify(renewed, clientPool, h, clock.Now()); err != nil {
			t.Fatalf("a client pinning the day-0 ca.crt rejects the renewed leaf for %s: %v", h, err)
		}
	}
	if err := verify(first, clientPool, "localhost", clock.Now().Add(30*day)); err == nil {
		t.Fatal("control: the first leaf should have expired by now")
	}
	mustSync(t, b)
	if !bytes.Equal(servedLeaf(t, b).Raw, renewed.Raw) {
		t.Fatal("the other replica did not reload the renewed leaf")
	}
}

// (4b) The CA is replaced when the names change or its own expiry nears;
// a client pinning the old CA then rejects the new leaf.
func TestCAReplacedOnNameChangeAndNearExpiry(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	mustSync(t, newSource(cs, clock, "localhost", "127.0.0.1"))
	oldCA := getSecret(t, cs).Data["ca.crt"]

	c := newSource(cs, clock, "authn.example.internal", "::1")
	mustSync(t, c)
	if bytes.Equal(c.CAPEM(), oldCA) {
		t.Fatal("a name change kept the CA")
	}
	ca := parseCerts(t, c.CAPEM())[0]
	if !slices.Equal(ca.PermittedDNSDomains, []string{"authn.example.internal"}) || !slices.Equal(prefixes(ca.PermittedIPRanges), []string{"::1/128"}) {
		t.Fatalf("new CA constraints %v %v", ca.PermittedDNSDomains, ca.PermittedIPRanges)
	}
	leaf := servedLeaf(t, c)
	if !slices.Equal(leaf.DNSNames, []string{"authn.example.internal"}) || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "::1" {
		t.Fatalf("new leaf SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if err := verify(leaf, pool(t, oldCA), "authn.example.internal", clock.Now()); err == nil {
		t.Fatal("the old CA accepts the leaf for the new names")
	}
	if err := verify(leaf, pool(t, c.CAPEM()), "authn.example.internal", clock.Now()); err != nil {
		t.Fatal(err)
	}

	// Same names in another order or case: nothing changes.
	same := newSource(cs, clock, "::1", "AUTHN.example.internal")
	mustSync(t, same)
	if !bytes.Equal(same.CAPEM(), c.CAPEM()) || !bytes.Equal(servedLeaf(t, same).Raw, leaf.Raw) {
		t.Fatal("reordered names replaced the certificate")
	}

	// 100 days before the CA expires: kept (the leaf is renewed on its own
	// schedule); 89 days before: replaced.
	caPEM := c.CAPEM()
	clock.Step(ca.NotAfter.Sub(clock.Now()) - 100*day)
	mustSync(t, c)
	if !bytes.Equal(c.CAPEM(), caPEM) {
		t.Fatal("CA replaced 100 days before expiry")
	}
	if l := servedLeaf(t, c); l.NotAfter.After(ca.NotAfter) {
		t.Fatal("a leaf outlives its CA")
	}
	clock.Step(11 * day)
	mustSync(t, c)
	if bytes.Equal(c.CAPEM(), caPEM) {
		t.Fatal("CA kept 89 days before expiry")
	}
}

// (5) A real TLS handshake on loopback, the client trusting only ca.crt,
// also after a leaf renewal, and never with another deployment's CA.
func TestTLSHandshakeTrustingOnlyCACrt(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	s := newSource(cs, clock, "127.0.0.1", "localhost")
	mustSync(t, s)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		TLSConfig:         &tls.Config{GetCertificate: s.GetCertificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the refused handshakes below
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	caCrt := getSecret(t, cs).Data["ca.crt"] // as `kubectl get secret` would give it
	get := func(roots *x509.CertPool) (*tls.ConnectionState, error) {
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, Time: clock.Now},
			DisableKeepAlives: true,
			Proxy:             nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", ln.Addr().String())
			},
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			return nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "ok" {
			return nil, errors.New("unexpected body " + string(body))
		}
		return resp.TLS, nil
	}
	st, err := get(pool(t, caCrt))
	if err != nil {
		t.Fatalf("handshake trusting ca.crt: %v", err)
	}
	if len(st.PeerCertificates) != 2 || !bytes.Equal(st.PeerCertificates[1].Raw, parseCerts(t, caCrt)[0].Raw) {
		t.Fatal("the server does not send [leaf, CA]")
	}
	first := st.PeerCertificates[0].SerialNumber

	other := newSource(fake.NewClientset(), clock, "127.0.0.1", "localhost")
	mustSync(t, other)
	if _, err := get(pool(t, other.CAPEM())); err == nil {
		t.Fatal("a client trusting another CA completed the handshake")
	}
	if _, err := get(x509.NewCertPool()); err == nil {
		t.Fatal("a client trusting nothing completed the handshake")
	}

	clock.Step(61 * day)
	mustSync(t, s)
	st, err = get(pool(t, caCrt))
	if err != nil {
		t.Fatalf("handshake after leaf renewal, trusting the day-0 ca.crt: %v", err)
	}
	if st.PeerCertificates[0].SerialNumber.Cmp(first) == 0 {
		t.Fatal("the renewed leaf is not served")
	}
}

// Replicas racing to create the Secret all serve the winner's certificate.
func TestCreateRaceServesTheWinner(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Now())
	winnerCS := fake.NewClientset()
	winner := newSource(winnerCS, clock, "localhost", "127.0.0.1")
	mustSync(t, winner)
	written := getSecret(t, winnerCS)

	cs := fake.NewClientset()
	raced := false
	cs.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if raced {
			return false, nil, nil
		}
		raced = true
		if err := cs.Tracker().Add(written.DeepCopy()); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, secName)
	})
	loser := newSource(cs, clock, "127.0.0.1", "localhost")
	mustSync(t, loser)
	if !raced {
		t.Fatal("no race happened")
	}
	if !bytes.Equal(loser.CAPEM(), winner.CAPEM()) || !bytes.Equal(servedLeaf(t, loser).Raw, servedLeaf(t, winner).Raw) {
		t.Fatal("the loser serves its own certificate")
	}
	if !bytes.Equal(getSecret(t, cs).Data["ca.crt"], written.Data["ca.crt"]) {
		t.Fatal("the loser overwrote the winner")
	}
}

// Configuration that would widen or break the constraints is refused, and
// nothing is written.
func TestRefusesUnsafeConfiguration(t *testing.T) {
	for name, s := range map[string]*servingcert.Source{
		"no names":      {SANs: []string{"", " "}},
		"wildcard":      {SANs: []string{"*.example.com"}},
		"leading dot":   {SANs: []string{".example.com"}},
		"trailing dot":  {SANs: []string{"example.com."}},
		"IP zone":       {SANs: []string{"fe80::1%eth0"}},
		"CIDR":          {SANs: []string{"10.0.0.0/8"}},
		"URI":           {SANs: []string{"https://example.com"}},
		"renew > life":  {SANs: []string{"localhost"}, LeafValidity: 10 * day, LeafRenewBefore: 20 * day},
		"leaf > CA":     {SANs: []string{"localhost"}, LeafValidity: 400 * day, CAValidity: 365 * day},
		"negative time": {SANs: []string{"localhost"}, CARenewBefore: -time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			cs := fake.NewClientset()
			s.Client, s.Namespace, s.Name, s.Log = cs, ns, secName, logr.Discard()
			if err := s.Sync(context.Background()); err == nil {
				t.Fatal("accepted")
			}
			if _, err := cs.CoreV1().Secrets(ns).Get(context.Background(), secName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatal("a Secret was written")
			}
			if s.Loaded() {
				t.Fatal("a certificate was loaded")
			}
		})
	}
}

// caWrites counts the writes to the Secret that change its CA (renewals of
// the claim write annotations only).
func caWrites(cs *fake.Clientset) *int {
	n := new(int)
	cs.PrependReactor("*", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		var sec *corev1.Secret
		if w, ok := a.(interface{ GetObject() runtime.Object }); ok && (a.GetVerb() == "create" || a.GetVerb() == "update") {
			sec, _ = w.GetObject().(*corev1.Secret)
		}
		if sec == nil {
			return false, nil, nil
		}
		old, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("secrets"), sec.Namespace, sec.Name)
		if err != nil || !bytes.Equal(old.(*corev1.Secret).Data["ca.crt"], sec.Data["ca.crt"]) {
			*n++
		}
		return false, nil, nil
	})
	return n
}

// A rollout that changes the names runs old and new replicas side by side:
// the newest claim wins once, the old replicas serve its certificate, and
// nobody replaces the CA again, however often they sync.
func TestRolloutOfNewNamesWinsOnceWithoutALoop(t *testing.T) {
	cs := fake.NewClientset()
	writes := caWrites(cs)
	clock := clocktesting.NewFakeClock(time.Now())
	old := newSource(cs, clock, "authn.old.example")
	mustSync(t, old)
	clock.Step(time.Minute)
	updated := newSource(cs, clock, "authn.new.example", "10.0.0.7")
	mustSync(t, updated)
	if *writes != 2 {
		t.Fatalf("%d CA writes to set up, want 2 (create, then the new names)", *writes)
	}
	if got := getSecret(t, cs).Annotations[servingcert.NamesAnnotation]; got == "" {
		t.Fatal("the Secret does not record whose names it holds")
	}

	for range 60 {
		clock.Step(time.Minute)
		mustSync(t, old)
		mustSync(t, updated)
	}
	if *writes != 2 {
		t.Fatalf("old and new replicas replaced the CA %d times during the rollout", *writes-2)
	}
	if !bytes.Equal(old.CAPEM(), updated.CAPEM()) {
		t.Fatal("the old replica does not serve the newest claim's certificate")
	}
	if leaf := servedLeaf(t, old); !slices.Equal(leaf.DNSNames, []string{"authn.new.example"}) {
		t.Fatalf("the old replica serves %v", leaf.DNSNames)
	}

	// A replica with the new names started later agrees.
	clock.Step(time.Minute)
	late := newSource(cs, clock, "10.0.0.7", "AUTHN.new.example")
	mustSync(t, late)
	if *writes != 2 || !bytes.Equal(late.CAPEM(), updated.CAPEM()) {
		t.Fatalf("a later replica with the same names replaced the CA (%d writes)", *writes)
	}
}

// An old replica restarted after the new ones holds a newer claim: the new
// replicas serve its names while it lives (no loop), and take the Secret
// over once its claim is no longer renewed.
func TestExpiredClaimIsTakenOverOnce(t *testing.T) {
	cs := fake.NewClientset()
	writes := caWrites(cs)
	clock := clocktesting.NewFakeClock(time.Now())
	updated := newSource(cs, clock, "authn.new.example")
	mustSync(t, updated)
	clock.Step(time.Minute)
	restartedOld := newSource(cs, clock, "authn.old.example")
	mustSync(t, restartedOld) // the newer claim takes the Secret
	for range 60 {
		clock.Step(time.Minute)
		mustSync(t, updated)
		mustSync(t, restartedOld)
	}
	if *writes != 2 {
		t.Fatalf("%d CA writes while both lived, want none", *writes-2)
	}
	if leaf := servedLeaf(t, updated); !slices.Equal(leaf.DNSNames, []string{"authn.old.example"}) {
		t.Fatalf("the new replica serves %v while the newer claim lives", leaf.DNSNames)
	}

	// The restarted old replica is gone: its claim expires.
	for range claimExpiry / time.Minute {
		clock.Step(time.Minute)
		mustSync(t, updated)
	}
	if *writes != 3 {
		t.Fatalf("%d CA writes after the claim expired, want 1", *writes-2)
	}
	if leaf := servedLeaf(t, updated); !slices.Equal(leaf.DNSNames, []string{"authn.new.example"}) {
		t.Fatalf("the new replica serves %v after taking over", leaf.DNSNames)
	}
	// Were it to come back, the old replica's claim is now the older one.
	for range 30 {
		clock.Step(time.Minute)
		mustSync(t, restartedOld)
		mustSync(t, updated)
	}
	if *writes != 3 {
		t.Fatalf("the Secret changed hands %d more times", *writes-3)
	}
}

// A claim renewed far in the future (a writer's clock, or a hand-written
// annotation) is not believed: it would never expire.
func TestClaimFromTheFutureIsTakenOver(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	mustSync(t, newSource(cs, clock, "authn.other.example"))
	sec := getSecret(t, cs)
	future := clock.Now().Add(365 * day).UTC().Format(time.RFC3339Nano)
	sec.Annotations[servingcert.ClaimedAnnotation] = future
	sec.Annotations[servingcert.RenewedAnnotation] = future
	if _, err := cs.CoreV1().Secrets(ns).Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := newSource(cs, clock, "authn.mine.example")
	mustSync(t, s)
	if leaf := servedLeaf(t, s); !slices.Equal(leaf.DNSNames, []string{"authn.mine.example"}) {
		t.Fatalf("serves %v: deferred to a claim from the future", leaf.DNSNames)
	}
}

// The CA served is published to a ConfigMap, so that distributing it needs
// no access to the Secret and its private keys; it follows a CA change.
func TestCAIsPublishedToItsConfigMap(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	s := newSource(cs, clock, "authn.example.internal")
	s.CAConfigMap = "authn-ca"
	err := s.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "authn-ca") {
		t.Fatalf("Sync without the ConfigMap: %v, want an error naming it", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "authn-ca", Namespace: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, s)
	published := func() string {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "authn-ca", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data["ca.crt"]
	}
	if got := published(); got != string(s.CAPEM()) || got == "" {
		t.Fatalf("ConfigMap ca.crt %q, want the CA served", got)
	}
	if strings.Contains(published(), "PRIVATE") {
		t.Fatal("a private key was published")
	}
	s.SANs = []string{"authn.renamed.example"}
	mustSync(t, s)
	if got := published(); got != string(s.CAPEM()) {
		t.Fatal("the ConfigMap did not follow the new CA")
	}
}

// A leaf its writer dated far in the future (a clock hours ahead) is not
// served: clients would refuse it.
func TestLeafNotValidYetIsReissued(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	ahead := clocktesting.NewFakeClock(clock.Now().Add(3 * time.Hour))
	mustSync(t, newSource(cs, ahead, "authn.example.internal"))
	s := newSource(cs, clock, "authn.example.internal")
	mustSync(t, s)
	if leaf := servedLeaf(t, s); leaf.NotBefore.After(clock.Now()) {
		t.Fatalf("serves a leaf valid from %v at %v", leaf.NotBefore, clock.Now())
	}
}
