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
	"net/netip"
	"strings"
	"testing"

	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
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

// Match, restriction by restriction: each row differs from a matching
// workload in one thing, and must fail with its own code and restriction.
func TestMatchChecksEachRestriction(t *testing.T) {
	const (
		sub    = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"
		tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		oid    = "1e2a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8"
	)
	vm := "/subscriptions/" + strings.ToUpper(sub) + "/resourceGroups/RG-Payments/providers/Microsoft.Compute/virtualMachines/ledger-vm"
	uai := "/subscriptions/" + sub + "/resourcegroups/rg-payments/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-billing"
	app := "/subscriptions/" + sub + "/resourceGroups/rg-payments/providers/Microsoft.Web/sites/billing-api"
	appID, err := armid.Parse(app)
	if err != nil {
		t.Fatal(err)
	}
	workload := func(mirid, azRID, objectID, tenantID, ip string) Workload {
		t.Helper()
		w, err := ParseWorkload(tenantID, objectID, mirid, azRID, netip.MustParseAddr(ip))
		if err != nil {
			t.Fatalf("ParseWorkload(%s): %v", mirid, err)
		}
		return w
	}
	rgWide := Host{ID: HostID{"payments", "rg"}, SubscriptionID: sub, ResourceGroup: "rg-payments"}
	pinnedVM := Host{ID: HostID{"payments", "vm"}, SubscriptionID: sub, ResourceGroup: "rg-payments", SystemAssignedIdentity: oid, TenantID: tenant,
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}
	userAssigned := Host{ID: HostID{"payments", "app"}, SubscriptionID: sub, ResourceGroup: "rg-payments", UserAssignedIdentity: "id-billing", ResourceID: &appID}
	for _, tc := range []struct {
		name        string
		host        Host
		w           Workload
		code        failure.Code
		restriction string
	}{
		{"resource group wide, any identity, case-insensitive", rgWide, workload(vm, "", oid, tenant, "192.0.2.1"), "", ""},
		{"pinned VM", pinnedVM, workload(vm, "", oid, tenant, "10.20.3.4"), "", ""},
		{"user-assigned from its app", userAssigned, workload(uai, app, "x", tenant, "192.0.2.1"), "", ""},
		{"other subscription", rgWide, workload(strings.Replace(vm, strings.ToUpper(sub), "00000000-0000-0000-0000-000000000000", 1), "", oid, tenant, "192.0.2.1"), failure.InvalidResourceRestrictions, "subscription-id"},
		{"other resource group", rgWide, workload(strings.Replace(vm, "RG-Payments", "rg-other", 1), "", oid, tenant, "192.0.2.1"), failure.InvalidResourceRestrictions, "resource-group"},
		{"system-assigned host, user-assigned token", pinnedVM, workload(uai, app, oid, tenant, "10.20.3.4"), failure.InvalidResourceRestrictions, "system-assigned-identity"},
		{"other principal", pinnedVM, workload(vm, "", "99999999-5d6e-4f70-8192-a3b4c5d6e7f8", tenant, "10.20.3.4"), failure.InvalidResourceRestrictions, "system-assigned-identity"},
		{"user-assigned host, system-assigned token", userAssigned, workload(vm, "", oid, tenant, "192.0.2.1"), failure.InvalidResourceRestrictions, "user-assigned-identity"},
		{"other user-assigned identity", userAssigned, workload(strings.Replace(uai, "id-billing", "id-other", 1), app, "x", tenant, "192.0.2.1"), failure.InvalidResourceRestrictions, "user-assigned-identity"},
		{"identity used from another app", userAssigned, workload(uai, strings.Replace(app, "billing-api", "other-api", 1), "x", tenant, "192.0.2.1"), failure.InvalidResourceRestrictions, "resource-id"},
		{"other tenant", pinnedVM, workload(vm, "", oid, "11111111-86f1-41af-91ab-2d7cd011db47", "10.20.3.4"), failure.TenantMismatch, ""},
		{"outside allowedCIDRs", pinnedVM, workload(vm, "", oid, tenant, "10.21.0.1"), failure.OriginNotAllowed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.host.Match(tc.w)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Match: %v", err)
				}
				return
			}
			var fe *failure.Error
			if !errors.As(err, &fe) || fe.Code != tc.code || !strings.Contains(fe.Message, tc.restriction) {
				t.Fatalf("Match: %v, want %s naming %q", err, tc.code, tc.restriction)
			}
		})
	}
}

// ParseWorkload refuses malformed ARM ids with Conjur's xms_mirid codes
// and takes the compute resource from xms_az_rid when there is one.
func TestParseWorkload(t *testing.T) {
	const vm = "/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
	const app = "/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/resourceGroups/rg/providers/Microsoft.Web/sites/app"
	w, err := ParseWorkload("t", "o", vm, "", netip.Addr{})
	if err != nil || !w.Compute.Equal(w.MIRID) || w.MIRID.ResourceGroup != "rg" {
		t.Fatalf("system-assigned: %+v %v", w, err)
	}
	if w, err = ParseWorkload("t", "o", vm, app, netip.Addr{}); err != nil || w.Compute.Name() != "app" || w.MIRID.Name() != "vm" {
		t.Fatalf("with xms_az_rid: %+v %v", w, err)
	}
	for _, tc := range []struct {
		name, mirid, azRID string
		code               failure.Code
	}{
		{"empty xms_mirid", "", "", failure.MissingFieldsInXmsMirid},
		{"no resource group", "/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/providers/Microsoft.Compute/virtualMachines/vm", "", failure.MissingFieldsInXmsMirid},
		{"no provider type", "/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/resourceGroups/rg/providers/Microsoft.Compute", "", failure.InvalidProviderFieldsXmsMir},
		{"malformed xms_az_rid", vm, "/subscriptions/x", failure.MissingFieldsInXmsMirid},
	} {
		_, err := ParseWorkload("t", "o", tc.mirid, tc.azRID, netip.Addr{})
		var fe *failure.Error
		if !errors.As(err, &fe) || fe.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}
