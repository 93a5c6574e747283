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

// Package loopback provides a dialer that connects to loopback addresses
// only. Tests put it under every client they build, so no test request can
// leave the machine, whatever address a bug or a sample hands it.
//
// It imports nothing of ours.
package loopback

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Dialer connects only to 127.0.0.0/8 and ::1. The check runs on the
// resolved address just before connecting, so names that resolve elsewhere
// are refused too.
var Dialer = &net.Dialer{
	Timeout: 10 * time.Second,
	Control: func(_, address string, _ syscall.RawConn) error {
		return Check(address)
	},
}

// DialContext is Dialer.DialContext, for http.Transport and rest.Config.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return Dialer.DialContext(ctx, network, address)
}

// Check returns an error unless address (host:port with an IP host) is a
// loopback address.
func Check(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("loopback: refusing %q: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("loopback: refusing to dial non-loopback address %s", address)
	}
	return nil
}

// Transport returns a fresh http.Transport that dials loopback only.
func Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = DialContext
	return t
}

// TransportTrusting is Transport for HTTPS to a server whose certificate
// chains to the PEM certificates of caPEM (TLS 1.2 or later). The
// transport is returned even when caPEM holds no certificate, with an
// error saying so: it then trusts nothing.
func TransportTrusting(caPEM []byte) (*http.Transport, error) {
	pool := x509.NewCertPool()
	var err error
	if !pool.AppendCertsFromPEM(caPEM) {
		err = errors.New("loopback: no PEM certificate to trust")
	}
	t := Transport()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, err
}
