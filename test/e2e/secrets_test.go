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

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
	"github.com/azure-authenticator/azure-authenticator/internal/signingkeys"
)

func clientset(t *testing.T) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Rotation: a new key is verifiable Propagation before anyone signs with
// it, and a retired key stays verifiable for Retain after its successor
// starts signing.
func TestSigningKeyRotationPublishesBeforeSigningAndRetiresLate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := clocktesting.NewFakeClock(time.Now())
	name := fmt.Sprintf("rotation-%d", seq.Add(1))
	store := &signingkeys.Store{Client: clientset(t), Namespace: "default", Name: name, Clock: c, Log: logr.Discard(),
		Propagation: 2 * time.Minute, RotateAfter: 24 * time.Hour, Retain: 70 * time.Minute}
	go func() { _ = store.Start(ctx) }()
	t.Cleanup(func() {
		_ = clientset(t).CoreV1().Secrets("default").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	eventually(t, "keys loaded", func() error {
		if store.Ring() == nil {
			return errorf("no ring")
		}
		return nil
	})
	first := store.Ring().Signer(c.Now())

	c.Step(25 * time.Hour)
	if err := store.RotateOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var second *accesstoken.SigningKey
	eventually(t, "the new key reaches this replica through the watch", func() error {
		keys := store.Ring().Keys()
		if len(keys) != 2 {
			return errorf("%d keys", len(keys))
		}
		second = keys[1]
		return nil
	})
	if got := store.Ring().Signer(c.Now()); got.ID != first.ID {
		t.Fatal("the new key signs before its propagation interval has passed")
	}
	c.Step(2 * time.Minute)
	if got := store.Ring().Signer(c.Now()); got.ID != second.ID {
		t.Fatal("the new key does not sign after its propagation interval")
	}
	c.Step(69 * time.Minute)
	_ = store.RotateOnce(ctx)
	if _, ok := store.Ring().Verifiers()[first.ID]; !ok {
		t.Fatal("the retired key was dropped before Retain")
	}
	c.Step(2 * time.Minute)
	if err := store.RotateOnce(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the retired key is dropped after Retain", func() error {
		if _, ok := store.Ring().Verifiers()[first.ID]; ok {
			return errorf("still there")
		}
		return nil
	})
}

// The key-compromise procedure: delete the Secret. Every replica stops
// accepting the old keys at once and a fresh key is created.
func TestDeletingTheSigningKeySecretReplacesEveryKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	name := fmt.Sprintf("compromise-%d", seq.Add(1))
	cs := clientset(t)
	stores := []*signingkeys.Store{
		{Client: cs, Namespace: "default", Name: name, Log: logr.Discard()},
		{Client: cs, Namespace: "default", Name: name, Log: logr.Discard()},
	}
	for _, s := range stores { // two replicas racing to create it
		go func() { _ = s.Start(ctx) }()
	}
	t.Cleanup(func() { _ = cs.CoreV1().Secrets("default").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	var old string
	eventually(t, "both replicas share one key", func() error {
		a, b := stores[0].Ring(), stores[1].Ring()
		if a == nil || b == nil || a.Signer(time.Now()).ID != b.Signer(time.Now()).ID {
			return errorf("not yet")
		}
		old = a.Signer(time.Now()).ID
		return nil
	})
	if err := cs.CoreV1().Secrets("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both replicas drop the old key and agree on a new one", func() error {
		a, b := stores[0].Ring(), stores[1].Ring()
		if a == nil || b == nil {
			return errorf("not reloaded")
		}
		if _, ok := a.Verifiers()[old]; ok {
			return errorf("old key still accepted")
		}
		if a.Signer(time.Now()).ID != b.Signer(time.Now()).ID {
			return errorf("replicas disagree")
		}
		return nil
	})
}

// The serving certificate is a leaf signed by a CA confined to the
// configured names; clients trust the CA (ca.crt, CertificatePEM), which
// survives leaf renewals and is replaced only when the names change or it
// nears expiry. Against a real API server: the Secret's shape, sharing
// between replicas and the create race.
func TestServingCertificateFollowsTheConfiguredNames(t *testing.T) {
	ctx := context.Background()
	cs := clientset(t)
	name := fmt.Sprintf("tls-%d", seq.Add(1))
	t.Cleanup(func() { _ = cs.CoreV1().Secrets("default").Delete(context.Background(), name, metav1.DeleteOptions{}) })
	// Two replicas racing to create it serve the same CA and leaf.
	a := &servingcert.Source{Client: cs, Namespace: "default", Name: name, SANs: []string{"localhost", "127.0.0.1"}, Log: logr.Discard()}
	b := &servingcert.Source{Client: cs, Namespace: "default", Name: name, SANs: []string{"127.0.0.1", "localhost"}, Log: logr.Discard()}
	errs := make(chan error, 2)
	for _, s := range []*servingcert.Source{a, b} {
		go func() { errs <- s.Sync(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if string(a.CertificatePEM()) != string(b.CertificatePEM()) || string(servedLeaf(t, a).Raw) != string(servedLeaf(t, b).Raw) {
		t.Fatal("two replicas with the same names serve different certificates")
	}
	sec, err := cs.CoreV1().Secrets("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Type != "kubernetes.io/tls" || len(sec.Data) != 4 || string(sec.Data["ca.crt"]) != string(a.CertificatePEM()) ||
		len(sec.Data["ca.key"]) == 0 || len(sec.Data["tls.key"]) == 0 || !strings.HasSuffix(string(sec.Data["tls.crt"]), string(sec.Data["ca.crt"])) {
		t.Fatalf("Secret shape: type %q, %d keys", sec.Type, len(sec.Data))
	}
	ca := parseCert(t, a.CertificatePEM())
	if !ca.IsCA || !ca.MaxPathLenZero || !ca.PermittedDNSDomainsCritical || len(ca.PermittedDNSDomains) != 1 || ca.PermittedDNSDomains[0] != "localhost" ||
		len(ca.PermittedIPRanges) != 1 || ca.PermittedIPRanges[0].String() != "127.0.0.1/32" {
		t.Fatalf("CA constraints: %v %v", ca.PermittedDNSDomains, ca.PermittedIPRanges)
	}
	leaf := servedLeaf(t, a)
	if leaf.IsCA || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.1" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" {
		t.Fatalf("leaf: IsCA %v, SANs %v %v", leaf.IsCA, leaf.DNSNames, leaf.IPAddresses)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: roots}); err != nil {
		t.Fatal(err)
	}
	// Leaf near expiry: renewed from the same CA.
	d := &servingcert.Source{Client: cs, Namespace: "default", Name: name, SANs: []string{"localhost", "127.0.0.1"}, Log: logr.Discard(),
		Clock: clocktesting.NewFakeClock(time.Now().Add(65 * 24 * time.Hour))}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if string(servedLeaf(t, d).Raw) == string(leaf.Raw) {
		t.Fatal("a leaf 25 days from expiry was kept")
	}
	if string(d.CertificatePEM()) != string(a.CertificatePEM()) {
		t.Fatal("renewing the leaf replaced the CA")
	}
	// The other replica, at that time too, reloads the renewal (at its
	// own, earlier time the renewed leaf is not valid yet and is not served).
	a.Clock = d.Clock
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if string(servedLeaf(t, a).Raw) != string(servedLeaf(t, d).Raw) {
		t.Fatal("a replica did not reload the renewed leaf")
	}
	// New names: a new CA, confined to them.
	c := &servingcert.Source{Client: cs, Namespace: "default", Name: name, SANs: []string{"authn.example.internal", "::1"}, Log: logr.Discard()}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if string(c.CertificatePEM()) == string(a.CertificatePEM()) {
		t.Fatal("a name change kept the CA")
	}
	if got := parseCert(t, c.CertificatePEM()); len(got.PermittedDNSDomains) != 1 || got.PermittedDNSDomains[0] != "authn.example.internal" ||
		len(got.PermittedIPRanges) != 1 || got.PermittedIPRanges[0].String() != "::1/128" {
		t.Fatalf("after a name change: %v %v", got.PermittedDNSDomains, got.PermittedIPRanges)
	}
	if got := servedLeaf(t, c); len(got.DNSNames) != 1 || got.DNSNames[0] != "authn.example.internal" || len(got.IPAddresses) != 1 || got.IPAddresses[0].String() != "::1" {
		t.Fatalf("leaf after a name change: %v %v", got.DNSNames, got.IPAddresses)
	}
	if _, err := cs.CoreV1().Secrets("default").Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Fatal("secret missing")
	}
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

func parseCert(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(p)
	if block == nil {
		t.Fatal("no PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
