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
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/churn"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
)

// make test runs at most 30 s of churn with at most 8 clients (under the
// race detector on 2 cores); CHURN_DURATION makes a longer local soak.
const (
	churnDefaultDuration = 15 * time.Second
	churnClients         = 8
)

// Authentications and secret fetches at full speed while one writer
// creates, changes and deletes AzureHosts, authenticators, namespace
// labels and Secret grants: every decision must be one the policy in force
// at some instant of [sent - 5 s, answered] prescribes (internal/churn
// has the model and the window). The run must also have made every kind
// of write and seen every outcome, or it proved nothing.
func TestChurnNoWrongDecisions(t *testing.T) {
	duration := churnDefaultDuration
	if v := os.Getenv("CHURN_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("CHURN_DURATION=%q: want a positive duration", v)
		}
		duration = d
	}
	if churn.GenericUnauthorized != unauthorized {
		t.Fatalf("the churn checker's generic 401 body %s is not the product's %s", churn.GenericUnauthorized, unauthorized)
	}
	// The writer's client has no client-side rate limit: a write waiting
	// in one would count as possibly in force before it was sent.
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS = -1
	writer, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := loopback.TransportTrusting(product.ServingCert.CertificatePEM())
	if err != nil {
		t.Fatal(err)
	}
	tr.MaxIdleConnsPerHost = 2 * churnClients
	hc := &http.Client{Transport: tr}
	defer hc.CloseIdleConnections()

	tenant := newTenant()
	var minted sync.Map // the Azure tokens, to look for them in the audit log
	auditBefore := churnAuditLen()
	rep, err := churn.Run(context.Background(), churn.Config{
		Client: writer, HTTP: hc, BaseURL: baseURL, Account: account,
		Prefix: fmt.Sprintf("churn-%d", seq.Add(1)), Issuer: azure.IssuerV1(tenant), CABundle: string(azure.CAPEM()), Subscription: subscription,
		Token: func(rg, vm string) string {
			jwt := azure.Token(azuretest.VM(tenant, subscription, rg, vm), azuretest.TokenOptions{})
			minted.Store(jwt, true)
			return jwt
		},
		Clients: churnClients, Duration: duration, Logf: t.Logf,
	})
	// The run's audit lines are dropped from the suite's log (after a
	// look): later tests parse the whole log on every lookup, and these
	// would make each take half a second under -race.
	audit := churnAuditTruncate(auditBefore)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	// Tokens and secret values never appear in logs.
	t.Logf("the run wrote %.1f MiB of audit log (held in memory by the suite, so part of the heap growth)", float64(len(audit))/(1<<20))
	if bytes.Contains(audit, []byte(churn.ValuePrefix)) {
		t.Error("a secret value is in the audit log")
	}
	minted.Range(func(jwt, _ any) bool {
		sig := jwt.(string)[strings.LastIndexByte(jwt.(string), '.')+1:]
		if bytes.Contains(audit, []byte(sig)) {
			t.Error("an Azure token's signature is in the audit log")
			return false
		}
		return true
	})

	if rep.Wrong != 0 {
		t.Errorf("%d wrong decisions (samples in the report above)", rep.Wrong)
	}
	if n := len(rep.Errors); n != 0 {
		t.Errorf("%d kinds of answers that are no decision: %v", n, rep.Errors)
	}
	for _, kind := range churn.WriteKinds {
		if rep.Writes[kind] == 0 {
			t.Errorf("no %s write was made", kind)
		}
	}
	for _, outcome := range []string{"authenticate 200", "authenticate 401", "authenticate 403", "fetch 200", "fetch 401", "fetch 403", "fetch 404"} {
		if rep.Outcomes[outcome] == 0 {
			t.Errorf("no %q was seen", outcome)
		}
	}
	// The README: a change takes effect within 1 s at p99. Under churn a
	// 5 s window explains most refusals; this is the sharper check.
	if rep.Visibility.P99 > time.Second {
		t.Errorf("p99 of the writes' time to take effect: %v, beyond the documented 1 s", rep.Visibility.P99)
	}
	if rep.Revocation.Delay.N == 0 {
		t.Error("no revocation was observed taking effect")
	}
}

// churnAuditLen is the length of the suite's in-memory audit log.
func churnAuditLen() int {
	auditLog.mu.Lock()
	defer auditLog.mu.Unlock()
	return auditLog.buf.Len()
}

// churnAuditTruncate returns what the audit log got after its first n
// bytes, and drops it.
func churnAuditTruncate(n int) []byte {
	auditLog.mu.Lock()
	defer auditLog.mu.Unlock()
	added := bytes.Clone(auditLog.buf.Bytes()[n:])
	auditLog.buf.Truncate(n)
	return added
}
