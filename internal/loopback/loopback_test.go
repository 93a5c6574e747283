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

package loopback

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDialRefusesEveryNonLoopbackAddress(t *testing.T) {
	// Check refuses before any packet is sent; these are never dialled.
	for _, addr := range []string{"169.254.169.254:80", "10.0.0.1:443", "192.168.1.1:443", "8.8.8.8:53", "[2001:db8::1]:443", "[fe80::1]:80", "0.0.0.0:80"} {
		if err := Check(addr); err == nil || !strings.Contains(err.Error(), "non-loopback") {
			t.Errorf("Check(%s) = %v, want a refusal", addr, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := DialContext(ctx, "tcp", "169.254.169.254:80"); err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("dialing IMDS = %v, want a refusal", err)
	}
}

func TestDialReachesLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	// A name that resolves to loopback is fine: the check runs on the
	// resolved address.
	for _, addr := range []string{ln.Addr().String(), "localhost:" + portOf(t, ln.Addr())} {
		c, err := DialContext(context.Background(), "tcp4", addr)
		if err != nil {
			t.Fatalf("dialing %s: %v", addr, err)
		}
		_ = c.Close()
	}
	if err := Check("[::1]:1"); err != nil {
		t.Errorf("Check(::1) = %v, want nil", err)
	}
}

func portOf(t *testing.T, a net.Addr) string {
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A transport trusting a CA reaches a server whose certificate that CA
// signed, and one trusting nothing refuses it.
func TestTransportTrustingTrustsOnlyItsCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for _, tc := range []struct {
		name  string
		pem   []byte
		trust bool
	}{{"its CA", caPEM, true}, {"no certificate", []byte("not PEM"), false}} {
		tr, err := TransportTrusting(tc.pem)
		if (err == nil) != tc.trust || tr == nil {
			t.Fatalf("%s: transport %v, error %v", tc.name, tr, err)
		}
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err == nil {
			_ = resp.Body.Close()
		}
		if (err == nil) != tc.trust {
			t.Fatalf("%s: GET = %v", tc.name, err)
		}
	}
}
