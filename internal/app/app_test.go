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
	"strings"
	"testing"
	"time"
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
