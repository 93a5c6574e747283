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

package authn

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the caller's address: the peer, unless the peer is a trusted
// proxy, in which case X-Forwarded-For is read from the right and the first
// hop not in a trusted proxy CIDR is the client. Addresses a client wrote to
// the left of that are never believed.
//
// Behind a trusted proxy the answer is either that hop or the invalid
// (unknown) address, which matches no CIDR: a hop that does not parse, or
// a chain of trusted proxies only, never falls back to a proxy's own
// address, since hosts whose allowedCIDRs cover the proxies' subnet would
// then be open to anyone behind them.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !inAny(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		addr, ok := parseHop(hop)
		if !ok {
			return netip.Addr{}
		}
		if !inAny(addr, trusted) {
			return addr
		}
	}
	return netip.Addr{}
}

// parseHop reads one address as proxies write it: "ip", "ip:port" (Azure
// Application Gateway) or "[ipv6]:port". Zones are refused: they name no
// address a CIDR could hold.
func parseHop(hop string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(hop); err == nil {
		return addr.Unmap(), addr.Zone() == ""
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	return netip.Addr{}, false
}

func inAny(ip netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
