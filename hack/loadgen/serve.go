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

package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/authn/server"
	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Server modes, each a process of its own so that its CPU time is its own.
const (
	modeProduct       = "product"        // authn.Handler behind authn/server, verified-token cache off
	modeProductCached = "product-cached" // the same with the cache on
	modeBare          = "bare"           // TLS, form, go-jose RS256 parse+verify, one Ed25519 signature, JSON
	modeNull          = "null"           // TLS and an empty 200
)

// ready is what a server tells the load tool on its first line of output.
type ready struct {
	URL    string   `json:"url"`
	Path   string   `json:"path"`
	CAPEM  string   `json:"ca"`
	Tokens []string `json:"tokens"`
}

const (
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
	authPath     = "/authn-azure/prod/default/host%2Fapps%2Fapp/authenticate"
)

// serve runs one server until its standard input closes (the load tool
// went away), after printing a ready line with identities tokens. Its
// standard input also carries commands, a line each, answered on standard
// output by "ok" or an error: profile-start and profile-stop bracket a CPU
// profile written to profile, so that it holds the measured rounds and not
// the start-up's key generation and token signing.
func serve(mode string, identities int, profile string) error {
	azure := azuretest.NewServer()
	defer azure.Close()
	tokens := make([]string, identities)
	for i := range tokens {
		tokens[i] = azure.Token(azuretest.VM(tenant, subscription, "rg-apps", fmt.Sprintf("vm-%d", i)), azuretest.TokenOptions{})
	}
	var handler http.Handler
	switch mode {
	case modeProduct, modeProductCached:
		h, err := productHandler(azure, mode == modeProductCached)
		if err != nil {
			return err
		}
		handler = h
	case modeBare:
		handler = bareHandler(&azure.SigningKey().Private.PublicKey)
	case modeNull:
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	cert, caPEM, err := selfSigned()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &server.Server{Handler: handler, Listener: ln, Log: logr.Discard(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	line, _ := json.Marshal(ready{URL: "https://" + ln.Addr().String(), Path: authPath, CAPEM: string(caPEM), Tokens: tokens})
	fmt.Println(string(line))
	go func() { // the load tool closes our standard input when it is done
		p := &profiler{path: profile}
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var err error
			switch sc.Text() {
			case "profile-start":
				err = p.start()
			case "profile-stop":
				err = p.stop()
			default:
				err = fmt.Errorf("unknown command %q", sc.Text())
			}
			if err != nil {
				fmt.Println("error:", err)
			} else {
				fmt.Println("ok")
			}
		}
		// Before the server returns and the process exits: a profile
		// left running would be lost.
		_ = p.stop()
		cancel()
	}()
	return srv.Start(ctx)
}

// profiler is one CPU profile of this process at a time.
type profiler struct {
	path string
	f    *os.File
}

func (p *profiler) start() error {
	if p.path == "" {
		return errors.New("this server was started without a profile file")
	}
	if p.f != nil {
		return errors.New("the profile is already running")
	}
	f, err := os.Create(p.path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	p.f = f
	return nil
}

// stop writes the profile out; StopCPUProfile returns once it is written.
func (p *profiler) stop() error {
	if p.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.f.Close()
	p.f = nil
	return err
}

// productHandler is the authenticator with a hand-filled index: one
// authenticator, one resource-group-wide host every identity matches.
func productHandler(azure *azuretest.Server, cache bool) (http.Handler, error) {
	ix := policy.NewIndex()
	ix.PutNamespace("apps", labels.Set{})
	ix.PutAuthenticator(&policy.Authenticator{ServiceID: "prod", Enabled: true, TokenTTL: 8 * time.Minute, ClockSkew: time.Minute,
		Audiences: []string{"https://management.azure.com/"}, NamespaceSelector: labels.Everything(), HostSelector: labels.Everything(),
		Providers: []policy.Provider{{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}}})
	ix.PutHost(&policy.Host{ID: policy.HostID{Namespace: "apps", Name: "app"}, UID: "uid", Generation: 1,
		SubscriptionID: armid.FoldASCII(subscription), ResourceGroup: armid.FoldASCII("rg-apps")})
	ix.MarkSynced()
	key, err := accesstoken.NewSigningKey(time.Now().Add(-time.Minute), time.Now().Add(-time.Minute))
	if err != nil {
		return nil, err
	}
	n := 0
	if cache {
		n = 10000
	}
	return authn.New(authn.Config{Account: "default", Index: ix, Signing: ring{accesstoken.NewRing([]*accesstoken.SigningKey{key})},
		Keys: azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext}), Audit: io.Discard, VerifiedTokenCache: n})
}

type ring struct{ r *accesstoken.Ring }

func (r ring) Ring() *accesstoken.Ring { return r.r }

// bareHandler is what any authenticator must do and nothing else: read the
// form, parse and verify the RS256 token with go-jose, sign an Ed25519
// token, answer JSON.
func bareHandler(pub *rsa.PublicKey) http.Handler {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		jws, err := jose.ParseSignedCompact(r.PostForm.Get("jwt"), []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		payload, err := jws.Verify(pub)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		sig := ed25519.Sign(priv, payload)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"payload": base64.RawURLEncoding.EncodeToString(payload), "signature": base64.RawURLEncoding.EncodeToString(sig)})
	})
}

func selfSigned() (*tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgen"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if der == nil {
		return nil, nil, errors.New("no certificate")
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
