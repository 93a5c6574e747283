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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/app"
)

// startReplica starts a second manager with its own index and HTTPS
// server, sharing the API server, the signing keys and the serving
// certificate with the first, as a second pod would. It returns its URL.
func startReplica(t *testing.T) string {
	t.Helper()
	return startReplicaWith(t, func(*app.Options) {})
}

// startReplicaWith starts a replica whose options mutate may change.
func startReplicaWith(t *testing.T, mutate func(*app.Options)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := options(ln, &syncBuffer{})
	mutate(&opts)
	replica, err := app.New(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- replica.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("second replica stopped with: %v", err)
		}
	})
	eventually(t, "second replica ready", replica.Ready)
	return "https://" + ln.Addr().String()
}

// A token issued by one replica is accepted by another, and a revocation
// reaches both within the bound.
func TestEveryReplicaAcceptsTokensAndFollowsRevocations(t *testing.T) {
	second := startReplica(t)
	f := newFixture(t)
	f.host("app", rgSpec("rg-apps"))
	sec := f.exposedSecret("db", "app", map[string][]byte{"k": []byte("v")})
	tok := f.accessToken("app", f.vm("rg-apps", "vm-1"))
	id := f.ns + "/db/k"
	fetchAt := func(base string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/secrets/"+account+"/variable/"+urlEscape(id), nil)
		req.Header.Set("Authorization", authorization(tok))
		resp, err := https.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	eventually(t, "the second replica serves the first one's token", func() error {
		if s := fetchAt(second); s != http.StatusOK {
			return errorf("%d", s)
		}
		return nil
	})
	var lat []time.Duration
	for i := range 10 {
		allowed, want := "other", http.StatusForbidden
		if i%2 == 1 {
			allowed, want = "app", http.StatusOK
		}
		annotate(t, sec, allowed)
		start := time.Now()
		for _, base := range []string{baseURL, second} {
			for fetchAt(base) != want {
				if time.Since(start) > 5*time.Second {
					t.Fatalf("round %d: %s did not follow within 5 s", i, base)
				}
				time.Sleep(time.Millisecond)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("both replicas followed within: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
}

// With --tls-cert-file/--tls-key-file the server serves those files and
// picks up a new certificate when they change, without a restart.
func TestCertificateFilesAreReloadedWhenTheyChange(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writePair := func(cn string) {
		certPEM, keyPEM := selfSigned(t, cn)
		// Key first, then the certificate: the watcher reloads on either.
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePair("first")
	base := startReplicaWith(t, func(o *app.Options) { o.TLSCertFile, o.TLSKeyFile = certFile, keyFile })
	served := func() string {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the served certificate
		if err != nil {
			return "dial: " + err.Error()
		}
		defer func() { _ = conn.Close() }()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("serves %q, want the file's certificate", got)
	}
	writePair("second")
	eventually(t, "the new certificate is served", func() error {
		if got := served(); got != "second" {
			return errorf("still %q", got)
		}
		return nil
	})
}

func selfSigned(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
