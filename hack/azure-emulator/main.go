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

// Command azure-emulator serves a local stand-in for Azure's identity
// endpoints, on loopback only, from a small YAML world (default
// hack/azure-world.yaml): Entra ID OIDC discovery and JWKS (v1 and v2, any
// tenant of the world, POST /admin/rotate rotates the signing key), one
// IMDS listener per machine and one App Service identity endpoint per app.
// Real clients work against it unchanged when pointed at those URLs.
//
//	go run ./hack/azure-emulator [--world hack/azure-world.yaml] [--out bin/azure-emulator]
//
// It writes the CA to trust (ca.pem) and every URL (endpoints.json) to
// --out, prints them, and runs until interrupted.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

func main() {
	world := flag.String("world", "hack/azure-world.yaml", "YAML file describing tenants, identities, machines and apps")
	address := flag.String("address", "127.0.0.1", "loopback address to listen on (anything else is refused)")
	out := flag.String("out", "bin/azure-emulator", "directory for ca.pem and endpoints.json")
	flag.Parse()
	if err := run(*world, *address, *out); err != nil {
		fmt.Fprintln(os.Stderr, "azure-emulator:", err)
		os.Exit(1)
	}
}

// Endpoints is what endpoints.json holds.
type Endpoints struct {
	EntraURL string              `json:"entraURL"`
	CAFile   string              `json:"caFile"`
	Issuers  map[string][]string `json:"issuers"` // tenant -> [v1, v2]
	IMDS     map[string]string   `json:"imds"`    // machine -> token URL
	Apps     map[string]AppEnv   `json:"apps"`    // app -> its environment
}

// AppEnv is what App Service puts in an app's environment.
type AppEnv struct {
	IdentityEndpoint string `json:"IDENTITY_ENDPOINT"`
	IdentityHeader   string `json:"IDENTITY_HEADER"`
}

func run(worldPath, address, out string) error {
	w, err := azuretest.LoadWorld(worldPath)
	if err != nil {
		return err
	}
	e, err := azuretest.StartEmulator(w, address)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := os.MkdirAll(out, 0o750); err != nil {
		return err
	}
	ep := Endpoints{EntraURL: e.Entra.URL(), CAFile: filepath.Join(out, "ca.pem"),
		Issuers: map[string][]string{}, IMDS: map[string]string{}, Apps: map[string]AppEnv{}}
	if err := os.WriteFile(ep.CAFile, e.Entra.CAPEM(), 0o600); err != nil {
		return err
	}
	for _, t := range e.Tenants {
		ep.Issuers[t] = []string{e.Entra.IssuerV1(t), e.Entra.IssuerV2(t)}
	}
	for _, m := range e.Machines {
		ep.IMDS[m.Name] = m.URL
	}
	for _, a := range e.Apps {
		ep.Apps[a.Name] = AppEnv{IdentityEndpoint: a.URL, IdentityHeader: a.Secret}
	}
	b, _ := json.MarshalIndent(ep, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "endpoints.json"), b, 0o600); err != nil {
		return err
	}
	fmt.Printf("Entra ID: %s (trust %s; rotate keys: curl --cacert %s -X POST %s/admin/rotate)\n", ep.EntraURL, ep.CAFile, ep.CAFile, ep.EntraURL)
	for t, iss := range ep.Issuers {
		fmt.Printf("  tenant %s: v1 issuer %s, v2 issuer %s\n", t, iss[0], iss[1])
	}
	for _, m := range e.Machines {
		fmt.Printf("IMDS of %s: curl -H Metadata:true '%s?api-version=2018-02-01&resource=https%%3A%%2F%%2Fmanagement.azure.com%%2F'\n", m.Name, m.URL)
	}
	for _, a := range e.Apps {
		fmt.Printf("App %s: IDENTITY_ENDPOINT=%s IDENTITY_HEADER=%s\n", a.Name, a.URL, a.Secret)
	}
	fmt.Printf("Everything above is in %s. Ctrl-C stops.\n", filepath.Join(out, "endpoints.json"))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
