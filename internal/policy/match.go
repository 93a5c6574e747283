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
	"errors"
	"fmt"
	"net/netip"

	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
)

// Workload is what a verified Azure token and the connection say about
// the caller.
type Workload struct {
	TenantID string
	ObjectID string
	// MIRID is the parsed xms_mirid: the identity's source.
	MIRID armid.ID
	// Compute is the compute resource the token comes from: xms_az_rid
	// when present (user-assigned identities), else xms_mirid.
	Compute  armid.ID
	ClientIP netip.Addr
}

// ParseWorkload parses the token's ARM IDs; a malformed one is refused
// with Conjur's xms_mirid codes.
func ParseWorkload(tenantID, objectID, mirid, azRID string, clientIP netip.Addr) (Workload, error) {
	w := Workload{TenantID: tenantID, ObjectID: objectID, ClientIP: clientIP}
	var err error
	if w.MIRID, err = armid.Parse(mirid); err != nil {
		return w, miridFailure("xms_mirid", mirid, err)
	}
	w.Compute = w.MIRID
	if azRID != "" {
		if w.Compute, err = armid.Parse(azRID); err != nil {
			return w, miridFailure("xms_az_rid", azRID, err)
		}
	}
	return w, nil
}

func miridFailure(claim, value string, err error) error {
	if errors.Is(err, armid.ErrProviderPart) {
		return failure.New(failure.InvalidProviderFieldsXmsMir, claim+": "+err.Error(), value)
	}
	return failure.New(failure.MissingFieldsInXmsMirid, claim+": "+err.Error(), value)
}

// Match checks the workload against the host. It returns nil, or a
// *failure.Error naming the first restriction that does not hold.
func (h *Host) Match(w Workload) error {
	mismatch := func(restriction string) error {
		return failure.New(failure.InvalidResourceRestrictions, fmt.Sprintf("host %s: %s does not match the token", h.ID, restriction), restriction)
	}
	if armid.FoldASCII(w.MIRID.SubscriptionID) != h.SubscriptionID {
		return mismatch("subscription-id")
	}
	if armid.FoldASCII(w.MIRID.ResourceGroup) != h.ResourceGroup {
		return mismatch("resource-group")
	}
	userAssigned := w.MIRID.IsUserAssignedIdentity()
	if h.UserAssignedIdentity != "" && (!userAssigned || armid.FoldASCII(w.MIRID.Name()) != h.UserAssignedIdentity) {
		return mismatch("user-assigned-identity")
	}
	if h.SystemAssignedIdentity != "" && (userAssigned || armid.FoldASCII(w.ObjectID) != h.SystemAssignedIdentity) {
		return mismatch("system-assigned-identity")
	}
	if h.TenantID != "" && armid.FoldASCII(w.TenantID) != h.TenantID {
		return failure.New(failure.TenantMismatch, fmt.Sprintf("host %s is pinned to tenant %s, token is from %s", h.ID, h.TenantID, w.TenantID))
	}
	if h.ResourceID != nil && !h.ResourceID.Equal(w.Compute) {
		return mismatch("resource-id")
	}
	if !h.AllowsClient(w.ClientIP) {
		return failure.New(failure.OriginNotAllowed, fmt.Sprintf("host %s does not allow client %s", h.ID, AddrText(w.ClientIP)))
	}
	return nil
}

// AddrText is how a client address appears in reasons, audit lines and
// /whoami: the invalid address is the unknown client (behind a trusted
// proxy, an X-Forwarded-For naming no usable hop), which AllowsClient
// matches against no CIDR.
func AddrText(ip netip.Addr) string {
	if !ip.IsValid() {
		return "unknown"
	}
	return ip.String()
}

// AllowsClient reports whether ip may act as this host: any address when
// AllowedCIDRs is empty, else one inside them.
func (h *Host) AllowsClient(ip netip.Addr) bool {
	if len(h.AllowedCIDRs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range h.AllowedCIDRs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
