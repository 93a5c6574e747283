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

package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// A trusted-proxy range the peer address can never be in (peers are
// compared unmapped) would make the proxy's own address the client's:
// refused at start-up.
func TestTrustedProxiesRefuseIPv4MappedRanges(t *testing.T) {
	if _, err := ParseCIDRs("::ffff:10.0.0.0/104"); err == nil || !strings.Contains(err.Error(), "write it as IPv4") {
		t.Fatalf("err = %v", err)
	}
	got, err := ParseCIDRs("10.0.0.7/8, 2001:db8::/32")
	if err != nil || len(got) != 2 || got[0].String() != "10.0.0.0/8" {
		t.Fatalf("ParseCIDRs = %v, %v", got, err)
	}
}

// valid is what main.go's defaults give, in a known namespace.
func valid() Options {
	o := Defaults()
	o.Namespace = "azure-authenticator"
	return o
}

// Every flag mistake is reported before anything starts, all at once.
func TestValidateRefusesWhatFlagsCanGetWrong(t *testing.T) {
	if err := (&Options{}).Validate(); err == nil {
		t.Fatal("zero Options validated")
	}
	o := valid()
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"leader election without a namespace", func(o *Options) { o.LeaderElection, o.Namespace = true, "" }, "--leader-elect"},
		{"bare Secret name without a namespace", func(o *Options) { o.Namespace = "" }, "--signing-key-secret"},
		{"invalid Secret reference", func(o *Options) { o.TLSSecret = "a/b/c" }, "--tls-secret"},
		{"certificate without key", func(o *Options) { o.TLSCertFile = "tls.crt" }, "go together"},
		{"no in-flight slot", func(o *Options) { o.MaxInFlight = 0 }, "--max-in-flight"},
		{"key refresh too often", func(o *Options) { o.ProviderKeyRefresh = time.Second }, "--provider-key-refresh"},
		{"bad account", func(o *Options) { o.Account = "a b" }, "--account"},
		{"negative staleness", func(o *Options) { o.MaxStaleness = -time.Second }, "--max-staleness"},
		{"negative token cache", func(o *Options) { o.VerifiedTokenCache = -1 }, "--verified-token-cache"},
		{"zero lease duration", func(o *Options) { o.LeaseDuration = 0 }, "--leader-election-lease-duration must be positive"},
		{"negative renew deadline", func(o *Options) { o.RenewDeadline = -time.Second }, "--leader-election-renew-deadline must be positive"},
		{"zero retry period", func(o *Options) { o.RetryPeriod = 0 }, "--leader-election-retry-period must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.mutate(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	// With certificate files, --tls-secret is not used.
	o = valid()
	o.TLSCertFile, o.TLSKeyFile, o.TLSSecret = "tls.crt", "tls.key", "a/b/c"
	if err := o.Validate(); err != nil {
		t.Fatalf("certificate files: %v", err)
	}
}

// The lease timings are refused at start, naming the flags, wherever
// client-go's leader elector would refuse them once the manager runs, and
// where the Lease's whole seconds would give two leaders.
func TestValidateLeaseTimingsMirrorsClientGo(t *testing.T) {
	const s, ms = time.Second, time.Millisecond
	tests := []struct {
		lease, renew, retry time.Duration
		want                string // "" when valid
	}{
		{15 * s, 10 * s, 2 * s, ""},     // controller-runtime's defaults
		{4 * s, 3 * s, 500 * ms, ""},    // what test/failover runs with
		{4 * s, 3 * s, 200 * ms, ""},    // what test/controllers runs with
		{1 * s, 999 * ms, 832 * ms, ""}, // 1.2 x 832ms = 998.4ms < 999ms
		{2 * s, 1200*ms + 1, 1 * s, ""}, // just above the jitter rule
		{10 * s, 10 * s, 2 * s, "must be shorter than --leader-election-lease-duration"},
		{10 * s, 11 * s, 2 * s, "must be shorter than --leader-election-lease-duration"},
		{15 * s, 2400 * ms, 2 * s, "must be longer than 1.2 x --leader-election-retry-period"}, // equal: client-go refuses
		{15 * s, 2 * s, 2 * s, "must be longer than 1.2 x --leader-election-retry-period"},
		{15 * s, 1 * s, 2 * s, "must be longer than 1.2 x --leader-election-retry-period"},
		{4500 * ms, 3 * s, 500 * ms, "whole number of seconds"},
		{500 * ms, 400 * ms, 100 * ms, "whole number of seconds"},
		{0, 10 * s, 2 * s, "--leader-election-lease-duration must be positive"},
		{15 * s, 0, 2 * s, "--leader-election-renew-deadline must be positive"},
		{15 * s, 10 * s, -1, "--leader-election-retry-period must be positive"},
	}
	for _, tc := range tests {
		o := valid()
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = tc.lease, tc.renew, tc.retry
		err := o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v/%v/%v: %v", tc.lease, tc.renew, tc.retry, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v/%v/%v: Validate() = %v, want an error containing %q", tc.lease, tc.renew, tc.retry, err, tc.want)
		}
		// Whatever client-go refuses, Validate refuses, so the manager
		// never fails later on these values (Validate is stricter only
		// about whole seconds).
		if cerr := clientGoAccepts(tc.lease, tc.renew, tc.retry); cerr != nil && err == nil {
			t.Errorf("%v/%v/%v: validated but client-go refuses: %v", tc.lease, tc.renew, tc.retry, cerr)
		}
	}
}

// clientGoAccepts asks client-go's NewLeaderElector itself.
func clientGoAccepts(lease, renew, retry time.Duration) error {
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, "ns", "name", nil, nil, resourcelock.ResourceLockConfig{Identity: "test"})
	if err != nil {
		return err
	}
	_, err = leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: lease, RenewDeadline: renew, RetryPeriod: retry,
		Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: func(context.Context) {}, OnStoppedLeading: func() {}},
	})
	return err
}
