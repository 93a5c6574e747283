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

package azuretest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// Identity is one managed identity as Azure describes it in its tokens.
type Identity struct {
	TenantID string
	// MIRID is the xms_mirid claim: the ARM ID of the identity's source,
	// the compute resource for a system-assigned identity, the identity
	// resource for a user-assigned one.
	MIRID string
	// AzRID is the xms_az_rid claim: the compute resource when a
	// user-assigned identity is used; empty for system-assigned identities.
	AzRID string
	// ObjectID is the service principal's object id (oid, principalId).
	ObjectID string
	// ClientID is the identity's application (client) id (appid).
	ClientID string
}

// ResourceID builds an ARM ID the way Azure writes it in tokens: lower-case
// "resourcegroups", names in their own case.
func ResourceID(subscription, resourceGroup, provider string, typeAndNames ...string) string {
	id := fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/%s", subscription, resourceGroup, provider)
	for _, s := range typeAndNames {
		id += "/" + s
	}
	return id
}

// systemAssigned is the identity of a compute resource itself; its ids are
// derived from the resource ID so the same resource always has the same ids.
func systemAssigned(tenant, resourceID string) Identity {
	return Identity{TenantID: tenant, MIRID: resourceID, ObjectID: guidFrom("oid", resourceID), ClientID: guidFrom("appid", resourceID)}
}

// VM is a virtual machine's system-assigned identity.
func VM(tenant, subscription, resourceGroup, name string) Identity {
	return systemAssigned(tenant, ResourceID(subscription, resourceGroup, "Microsoft.Compute", "virtualMachines", name))
}

// VMSSUniform is the system-assigned identity of a uniform scale set: the
// token names the scale set, not the instance.
func VMSSUniform(tenant, subscription, resourceGroup, scaleSet string) Identity {
	return systemAssigned(tenant, ResourceID(subscription, resourceGroup, "Microsoft.Compute", "virtualMachineScaleSets", scaleSet))
}

// VMSSFlex is the system-assigned identity of an instance of a flexible
// scale set: each instance is a VM named <scaleSet>_<suffix>.
func VMSSFlex(tenant, subscription, resourceGroup, scaleSet, suffix string) Identity {
	return VM(tenant, subscription, resourceGroup, scaleSet+"_"+suffix)
}

// AppService is a web app's or function app's system-assigned identity
// (both are Microsoft.Web/sites).
func AppService(tenant, subscription, resourceGroup, site string) Identity {
	return systemAssigned(tenant, ResourceID(subscription, resourceGroup, "Microsoft.Web", "sites", site))
}

// AppServiceSlot is a deployment slot's system-assigned identity. Inferred
// shape (sites/<app>/slots/<slot>), not observed in a real token.
func AppServiceSlot(tenant, subscription, resourceGroup, site, slot string) Identity {
	return systemAssigned(tenant, ResourceID(subscription, resourceGroup, "Microsoft.Web", "sites", site, "slots", slot))
}

// ContainerInstance is a container group's system-assigned identity.
func ContainerInstance(tenant, subscription, resourceGroup, group string) Identity {
	return systemAssigned(tenant, ResourceID(subscription, resourceGroup, "Microsoft.ContainerInstance", "containerGroups", group))
}

// ContainerApp is a container app's system-assigned identity. Inferred from
// reports, not observed by us in a real token.
func ContainerApp(tenant, subscription, resourceGroup, app string) Identity {
	return systemAssigned(tenant, ResourceID(subscription, resourceGroup, "Microsoft.App", "containerApps", app))
}

// UserAssigned is a user-assigned identity (in its own subscription and
// resource group) used from the compute resource attachedTo (an ARM ID,
// e.g. VM(...).MIRID): xms_mirid names the identity, xms_az_rid the resource.
func UserAssigned(tenant, subscription, resourceGroup, name, attachedTo string) Identity {
	mirid := ResourceID(subscription, resourceGroup, "Microsoft.ManagedIdentity", "userAssignedIdentities", name)
	return Identity{TenantID: tenant, MIRID: mirid, AzRID: attachedTo, ObjectID: guidFrom("oid", mirid), ClientID: guidFrom("appid", mirid)}
}

// TokenOptions shape a minted token.
type TokenOptions struct {
	// V2 mints a v2.0 token (iss .../v2.0, azp instead of appid); Azure
	// mints v1 tokens for ARM, so v2 is for resources that ask for it.
	V2 bool
	// Audience is the aud claim; default https://management.azure.com/ for
	// v1, DefaultV2Audience for v2 (v2 audiences are client-id GUIDs).
	Audience string
	// IssuedAt defaults to the server's Now(); nbf equals it, as Azure's do.
	IssuedAt time.Time
	// Lifetime defaults to 86,700 s, the observed lifetime of MI tokens.
	Lifetime time.Duration
}

// DefaultV2Audience is the client id of a made-up resource application.
const DefaultV2Audience = "5a0d2f26-1b1e-4a43-a3c2-6f0c2b4f1e7d"

// DefaultLifetime is the observed lifetime of managed-identity tokens.
const DefaultLifetime = 86700 * time.Second

// Claims returns the claims Azure would put in a token for id, as a map a
// test may alter before Sign.
func (s *Server) Claims(id Identity, opts TokenOptions) map[string]any {
	iat := opts.IssuedAt
	if iat.IsZero() {
		iat = s.Now()
	}
	life := opts.Lifetime
	if life == 0 {
		life = DefaultLifetime
	}
	c := map[string]any{
		"iat":       iat.Unix(),
		"nbf":       iat.Unix(),
		"exp":       iat.Add(life).Unix(),
		"aio":       "k2BgYJjV8f8+opaque+value=",
		"idtyp":     "app",
		"oid":       id.ObjectID,
		"sub":       id.ObjectID,
		"tid":       id.TenantID,
		"rh":        "0.AAAA-opaque.",
		"uti":       guidFrom("uti", fmt.Sprint(iat.UnixNano(), id.MIRID))[:22],
		"xms_mirid": id.MIRID,
		"xms_tcdt":  1289241547,
	}
	if id.AzRID != "" {
		c["xms_az_rid"] = id.AzRID
	}
	if opts.V2 {
		c["ver"] = "2.0"
		c["iss"] = s.IssuerV2(id.TenantID)
		c["aud"] = or(opts.Audience, DefaultV2Audience)
		c["azp"] = id.ClientID
		c["azpacr"] = "2"
	} else {
		c["ver"] = "1.0"
		c["iss"] = s.IssuerV1(id.TenantID)
		c["idp"] = s.IssuerV1(id.TenantID)
		c["aud"] = or(opts.Audience, "https://management.azure.com/")
		c["appid"] = id.ClientID
		c["appidacr"] = "2"
	}
	return c
}

// Token mints a signed managed-identity token for id.
func (s *Server) Token(id Identity, opts TokenOptions) string {
	return s.Sign(s.Claims(id, opts))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// guidFrom derives a stable GUID from a seed.
func guidFrom(kind, seed string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + seed))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	if kind == "uti" {
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
