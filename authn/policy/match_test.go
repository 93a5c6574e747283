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

package policy

import (
	"net/netip"
	"testing"
)

// The unknown client (an X-Forwarded-For naming no usable hop) is inside no
// CIDR, and says so in text; a host without allowedCIDRs does not care.
func TestTheUnknownClientMatchesNoCIDR(t *testing.T) {
	var unknown netip.Addr
	pinned := &Host{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
	if pinned.AllowsClient(unknown) {
		t.Fatal("the unknown client is inside 0.0.0.0/0 or ::/0")
	}
	if !pinned.AllowsClient(netip.MustParseAddr("::ffff:192.0.2.1")) {
		t.Fatal("a mapped IPv4 client is outside 0.0.0.0/0")
	}
	if !(&Host{}).AllowsClient(unknown) {
		t.Fatal("a host without allowedCIDRs refused the unknown client")
	}
	if got := AddrText(unknown); got != "unknown" {
		t.Fatalf("AddrText(invalid) = %q", got)
	}
	if got := AddrText(netip.MustParseAddr("192.0.2.1")); got != "192.0.2.1" {
		t.Fatalf("AddrText = %q", got)
	}
}
