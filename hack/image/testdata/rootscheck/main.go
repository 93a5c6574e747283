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

// Command rootscheck verifies a certificate chain against the default roots
// (the system's, or the fallback ones) the way the manager's TLS clients do:
// x509.Certificate.Verify with no explicit roots. The image tests build it
// with and without the fallback import (fallback.go, as in the manager's
// main.go) and run it with SSL_CERT_FILE, SSL_CERT_DIR and GODEBUG set, to
// show which roots Go uses when.
//
//	rootscheck CHAIN.pem DNSNAME UNIXTIME
//
// CHAIN.pem holds the leaf first, then its intermediates. It prints
// "verified: leaf <- ... <- root" and exits 0, or "not verified: ERROR" and
// exits 1; 2 for a usage error.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: rootscheck CHAIN.pem DNSNAME UNIXTIME")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	sec, err := strconv.ParseInt(os.Args[3], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "UNIXTIME:", err)
		os.Exit(2)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parsing the chain:", err)
			os.Exit(2)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		fmt.Fprintln(os.Stderr, "no certificate in", os.Args[1])
		os.Exit(2)
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		// No Roots: the system roots, or the fallback ones.
		Intermediates: intermediates,
		DNSName:       os.Args[2],
		CurrentTime:   time.Unix(sec, 0),
	})
	if err != nil {
		fmt.Println("not verified:", err)
		os.Exit(1)
	}
	var names []string
	for _, c := range chains[0] {
		names = append(names, c.Subject.CommonName)
	}
	fmt.Println("verified:", strings.Join(names, " <- "))
}
