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

package chart

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/app"
)

// The lease-timing flags, in the order the chart renders them.
var leaseFlags = []string{"leader-election-lease-duration", "leader-election-renew-deadline", "leader-election-retry-period"}

// TestLeaseTimingFlags: with leader election the chart passes its three
// lease timings (the defaults too, so that `kubectl get deploy -o yaml`
// shows what the replicas run with); without it, none of them.
func TestLeaseTimingFlags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   []string // lease, renew, retry; nil: no flag at all
	}{
		{"defaults", nil, []string{"15s", "10s", "2s"}},
		{"custom", []string{"leaderElection.leaseDuration=1m30s", "leaderElection.renewDeadline=45s", "leaderElection.retryPeriod=500ms"}, []string{"1m30s", "45s", "500ms"}},
		{"fractions", []string{"leaderElection.leaseDuration=4s", "leaderElection.renewDeadline=2.5s", "leaderElection.retryPeriod=1.5s"}, []string{"4s", "2.5s", "1.5s"}},
		{"Duration.String form", []string{"leaderElection.leaseDuration=1h0m0s"}, []string{"1h0m0s", "10s", "2s"}},
		{"disabled", []string{"leaderElection.enabled=false"}, nil},
		// The timings are not used without leader election: the
		// cross-field guard does not hold the render back for them.
		{"disabled, renew deadline longer than the lease", []string{"leaderElection.enabled=false", "leaderElection.renewDeadline=1m"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := managerArgs(t, render(t, tc.values...).get(t, "Deployment", "azure-authenticator"))
			if tc.want == nil {
				for _, f := range append([]string{"leader-elect"}, leaseFlags...) {
					if hasFlag(args, f) {
						t.Errorf("--%s rendered without leader election: %q", f, args)
					}
				}
				return
			}
			if !slices.Contains(args, "--leader-elect") {
				t.Errorf("no --leader-elect in %q", args)
			}
			for i, f := range leaseFlags {
				if got, ok := flagValue(args, f); !ok || got != tc.want[i] {
					t.Errorf("--%s = %q (rendered %v), want %q", f, got, ok, tc.want[i])
				}
			}
		})
	}
}

// managerRefuses is what the manager makes of the three flag values: the
// flag package parses each with time.ParseDuration, then Validate checks
// them (nil: it starts).
func managerRefuses(lease, renew, retry string) error {
	o := app.Defaults()
	o.Namespace = defaultNamespace
	for _, f := range []struct {
		value string
		d     *time.Duration
	}{{lease, &o.LeaseDuration}, {renew, &o.RenewDeadline}, {retry, &o.RetryPeriod}} {
		d, err := time.ParseDuration(f.value)
		if err != nil {
			return err
		}
		*f.d = d
	}
	return o.Validate()
}

// TestLeaseTimingsAgreeWithManager: the chart (its schema, then its
// render-time guard) refuses exactly the lease timings the manager would
// refuse at start, so that a bad value fails `helm install/upgrade` rather
// than leaving new Pods crash-looping; except for the spellings listed as
// stricter, which the chart refuses although the manager would take them
// (the test checks that the manager does, so the list stays honest).
func TestLeaseTimingsAgreeWithManager(t *testing.T) {
	const lease, renew, retry = "15s", "10s", "2s" // the chart's defaults
	for _, tc := range []struct {
		lease, renew, retry string
		stricter            bool // the chart refuses a spelling the manager takes
	}{
		{lease, renew, retry, false},
		// Lease: positive whole seconds.
		{"1s", "900ms", "500ms", false},
		{"1m", renew, retry, false},
		{"1m30s", renew, retry, false},
		{"2h0m0s", renew, retry, false},
		{"999999h", renew, retry, false},
		{"0s", renew, retry, false},
		{"0", renew, retry, false},
		{"", renew, retry, false},
		{"-1s", renew, retry, false},
		{"1.5s", renew, retry, false},
		{"4500ms", "3s", "500ms", false},
		{"abc", renew, retry, false},
		{"15", renew, retry, false},
		{"15S", renew, retry, false},
		{"9999999h", renew, retry, false}, // overflows a Duration
		{"1000ms", "900ms", "500ms", true},
		{"1.0s", "900ms", "500ms", true},
		{"1.5m", renew, retry, true},
		{"+15s", renew, retry, true},
		{"10s5s", renew, retry, true},
		{"2000000h", renew, retry, true},
		// Renew deadline: positive, shorter than the lease.
		{lease, "14s", retry, false},
		{lease, "14.999999999s", retry, false},
		{lease, "15s", retry, false},
		{lease, "16s", retry, false},
		{lease, "0s", retry, false},
		{lease, "-1s", retry, false},
		{lease, "0.5ns", retry, false}, // parses to 0
		{lease, "0.0000000001s", retry, false},
		{lease, "abc", retry, false},
		{lease, ".5s", "100ms", true},
		{lease, "1.s", "100ms", true},
		{lease, "5s5s", retry, true},
		// Retry period: positive, renew deadline > 1.2 x it (client-go
		// truncates 1.2 x retry to whole nanoseconds).
		{lease, renew, "8333333333ns", false}, // 1.2 x = 9999999999.6ns
		{lease, renew, "8333333334ns", false}, // 1.2 x = 10000000000.8ns
		{lease, "2400ms", "2s", false},
		{lease, "2400000001ns", "2s", false},
		{"2s", "1.000000001s", "833333334ns", false},
		{"2s", "1s", "833333334ns", false},
		{lease, renew, "1ns", false},
		{lease, renew, "0.000000001s", false},
		{lease, renew, "1.5µs", false},
		{lease, renew, "1μs", false}, // Greek mu, as Go also reads it
		{lease, renew, "0.001ms", false},
		{lease, renew, "0ms", false},
		{lease, renew, "-2s", false},
		{lease, renew, "2 s", false},
		{lease, renew, "9s", false},
		{lease, renew, "999999h", false},
		{lease, renew, "2562048h", false}, // overflows a Duration
		{lease, renew, "500ms1s", true},
	} {
		name := strings.Join([]string{tc.lease, tc.renew, tc.retry}, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mgrErr := managerRefuses(tc.lease, tc.renew, tc.retry)
			_, chartErr := helmTemplate(t, defaultRelease, defaultNamespace,
				"--set-string=leaderElection.leaseDuration="+tc.lease,
				"--set-string=leaderElection.renewDeadline="+tc.renew,
				"--set-string=leaderElection.retryPeriod="+tc.retry)
			if chartErr != nil && !strings.Contains(chartErr.Error(), "leaderElection") {
				t.Fatalf("the chart refuses something else: %v", chartErr)
			}
			switch {
			case tc.stricter:
				if chartErr == nil || mgrErr != nil {
					t.Errorf("listed as a spelling only the chart refuses, but the chart says %v and the manager %v", chartErr, mgrErr)
				}
			case (chartErr == nil) != (mgrErr == nil):
				t.Errorf("the chart and the manager disagree:\nchart:   %v\nmanager: %v", chartErr, mgrErr)
			}
		})
	}
}
