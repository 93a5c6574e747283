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
	"strings"
	"testing"
)

// A trusted-proxy range the peer address can never be in (peers are
// compared unmapped) would make the proxy's own address the client's:
// refused at start-up.
func TestTrustedProxiesRefuseIPv4MappedRanges(t *testing.T) {
	if _, err := parseCIDRs("::ffff:10.0.0.0/104"); err == nil || !strings.Contains(err.Error(), "write it as IPv4") {
		t.Fatalf("err = %v", err)
	}
	got, err := parseCIDRs("10.0.0.7/8, 2001:db8::/32")
	if err != nil || len(got) != 2 || got[0].String() != "10.0.0.0/8" {
		t.Fatalf("parseCIDRs = %v, %v", got, err)
	}
}

func TestVersionIsStampedOrRecorded(t *testing.T) {
	saved := version
	t.Cleanup(func() { version = saved })
	version = "v9.9.9"
	if got := versionString(); got != "v9.9.9" {
		t.Fatalf("stamped version: %q", got)
	}
	version = ""
	if got := versionString(); got == "" {
		t.Fatal("no version at all")
	}
}
