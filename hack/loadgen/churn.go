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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/churn"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// runChurn is the churn mode: correctness under load while the policy
// changes (internal/churn), against the product assembled as main.go
// does, in this process, on a control plane of its own (envtest) and the
// fake Entra ID, loopback only:
//
//	go run ./hack/loadgen churn [--clients 32] [--duration 60s] [--write-interval 100ms] [--seed N] [--memprofile FILE]
//
// It prints the report and fails when a decision was wrong or an answer
// was an error the README does not document. The audit log is discarded,
// so that the memory figures are the product's and the checker's.
func runChurn(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("loadgen churn", flag.ContinueOnError)
	clients := fs.Int("clients", 32, "concurrent HTTPS clients (1 to 512)")
	duration := fs.Duration("duration", time.Minute, "how long the writer and the clients run (1s to 24h)")
	interval := fs.Duration("write-interval", 100*time.Millisecond, "time between policy writes (10ms to 10s)")
	seed := fs.Uint64("seed", 0, "seed of the random choices (0: from the clock)")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file after the run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *clients < 1 || *clients > 512, *duration < time.Second || *duration > 24*time.Hour, *interval < 10*time.Millisecond || *interval > 10*time.Second:
		return errors.New("a flag is out of its range (see -h)")
	}

	testenv.SetLogger()
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	// No client-side rate limit for the writer (see churn.Config.Client).
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS = -1
	k8s, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		return fmt.Errorf("a client of the control plane: %w", err)
	}
	azure := azuretest.NewServer()
	defer azure.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("failed to listen: %w", err)
	}
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr, o.Namespace, o.Audit = "0", "0", "default", io.Discard
	o.TLSSecret, o.TLSSANs, o.SigningKeySecret = "churn-tls", []string{"127.0.0.1"}, "churn-signing-keys"
	o.Testing = app.Testing{Listener: ln, DialContext: loopback.DialContext}
	product, err := app.New(env.Config, o)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("failed to assemble the product: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- product.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "loadgen churn: the manager stopped with:", err)
		}
	}()
	if err := waitReady(product, done); err != nil {
		return err
	}

	tr, err := loopback.TransportTrusting(product.ServingCert.CertificatePEM())
	if err != nil {
		return err
	}
	tr.MaxIdleConnsPerHost = 2 * *clients
	hc := &http.Client{Transport: tr}
	defer hc.CloseIdleConnections()
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	rep, err := churn.Run(ctx, churn.Config{
		Client: k8s, HTTP: hc, BaseURL: "https://" + ln.Addr().String(), Account: o.Account,
		Prefix: "churn", Issuer: azure.IssuerV1(tenant), CABundle: string(azure.CAPEM()), Subscription: subscription,
		Token: func(rg, vm string) string {
			return azure.Token(azuretest.VM(tenant, subscription, rg, vm), azuretest.TokenOptions{})
		},
		Clients: *clients, Duration: *duration, WriteInterval: *interval, Seed: *seed,
		Logf: func(format string, args ...any) { _, _ = fmt.Fprintf(out, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintln(out, rep)
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			return err
		}
	}
	switch {
	case rep.Wrong > 0:
		return fmt.Errorf("%d wrong decisions", rep.Wrong)
	case rep.Unexplained() > 0:
		return fmt.Errorf("%d answers that are neither a decision nor a documented 503", rep.Unexplained())
	}
	return nil
}

// writeHeapProfile writes what the heap holds now (after a collection).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// waitReady waits (a minute at most) until the authenticator serves.
func waitReady(product *app.App, done <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	for product.Ready() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("the authenticator is not ready after a minute: %w", product.Ready())
		}
		select {
		case err := <-done:
			return fmt.Errorf("the manager stopped: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
