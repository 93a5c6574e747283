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

package azuread

import (
	"context"
	"crypto"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

func TestRetiredKeyIsDroppedOnlyAfterTwoFetchesApart(t *testing.T) {
	azure := azuretest.NewServer()
	defer azure.Close()
	clock := clocktesting.NewFakeClock(time.Unix(1800000000, 0))
	tenant := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	p := policy.Provider{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}
	ks := NewKeySets(Options{DialContext: loopback.DialContext, Clock: clock, DropAfter: 3 * time.Minute})
	set, err := ks.ensure(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := azure.SigningKey().ID
	if err := set.refreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	azure.RotateKeys()
	azure.RetireKey(old) // an emergency rollover: the old key vanishes at once

	clock.Step(time.Minute)
	if err := set.refreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := set.lookup(old); !ok {
		t.Fatal("one fetch without the key dropped it; a flapping response must not")
	}
	clock.Step(time.Minute) // 1m after the first miss: not yet
	_ = set.refreshNow(ctx)
	if _, _, ok, _ := set.lookup(old); !ok {
		t.Fatal("dropped before DropAfter had passed since the first miss")
	}
	clock.Step(2 * time.Minute) // 3m after the first miss
	_ = set.refreshNow(ctx)
	if _, _, ok, _ := set.lookup(old); ok {
		t.Fatal("still cached after two fetches DropAfter apart lacked it")
	}
	if h := ks.Health(p); h.Keys != 1 || h.Err != "" {
		t.Fatalf("health = %+v", h)
	}
}

func TestKeyThatReappearsIsNotDropped(t *testing.T) {
	azure := azuretest.NewServer()
	defer azure.Close()
	clock := clocktesting.NewFakeClock(time.Unix(1800000000, 0))
	tenant := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	p := policy.Provider{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}
	ks := NewKeySets(Options{DialContext: loopback.DialContext, Clock: clock})
	set, _ := ks.ensure(p)
	ctx := context.Background()
	old := azure.SigningKey()
	_ = set.refreshNow(ctx)
	azure.RotateKeys()
	azure.RetireKey(old.ID)
	clock.Step(time.Minute)
	_ = set.refreshNow(ctx) // missing once
	// It comes back (a flapping response), then goes again later.
	clock.Step(time.Minute)
	set.mu.Lock()
	set.merge(mapOf(set, old.ID), clock.Now()) // seen again
	set.mu.Unlock()
	clock.Step(10 * time.Minute)
	_ = set.refreshNow(ctx) // missing again: the clock restarts
	if _, _, ok, _ := set.lookup(old.ID); !ok {
		t.Fatal("a key seen again was dropped on its next absence")
	}
}

func mapOf(s *keySet, kid string) map[string]crypto.PublicKey {
	out := map[string]crypto.PublicKey{}
	for k, v := range s.keys {
		if k == kid {
			out[k] = v.key
		}
	}
	return out
}

func TestDiscoveryMustNameTheConfiguredIssuer(t *testing.T) {
	azure := azuretest.NewServer()
	defer azure.Close()
	tenant := "72f988bf-86f1-41af-91ab-2d7cd011db47"
	p := policy.Provider{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}
	ks := NewKeySets(Options{DialContext: loopback.DialContext})
	set, _ := ks.ensure(p)
	azure.SetDiscoveryIssuer("https://sts.windows.net/" + tenant + "/")
	if err := set.refreshNow(context.Background()); err == nil {
		t.Fatal("discovery naming another issuer was accepted")
	}
	if h := ks.Health(p); h.Keys != 0 || h.Err != "OIDC discovery failed" {
		t.Fatalf("health = %+v", h)
	}
	azure.SetDiscoveryIssuer("")
	if err := set.refreshNow(context.Background()); err != nil {
		t.Fatalf("the honest issuer failed: %v", err)
	}
}
