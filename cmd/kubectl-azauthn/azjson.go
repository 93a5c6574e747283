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
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/azure-authenticator/azure-authenticator/internal/armid"
)

// azResource is the part of what `az ... show` prints that register
// needs. Every supported command prints the resource's ARM envelope (id,
// name, type, resourceGroup) and, for compute resources, ARM's common
// managed-identity block; `az identity show` prints the user-assigned
// identity itself, its principalId, clientId and tenantId at the top.
type azResource struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Type          string      `json:"type"`
	ResourceGroup string      `json:"resourceGroup"`
	Identity      *azIdentity `json:"identity"`

	// Only in `az identity show`.
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
	TenantID    string `json:"tenantId"`
}

// azIdentity is ARM's managed-identity block. principalId and tenantId
// describe the system-assigned identity only; they are null when there is
// none.
type azIdentity struct {
	Type                   string                     `json:"type"`
	PrincipalID            string                     `json:"principalId"`
	TenantID               string                     `json:"tenantId"`
	UserAssignedIdentities map[string]*azUserAssigned `json:"userAssignedIdentities"`
}

type azUserAssigned struct {
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
}

// resourceKind is one `az ... show` register understands, recognised by
// the ARM ID's provider namespace and types (the `type` field says the
// same, but the ID is what the token will name).
type resourceKind struct {
	command   string // the az command that prints it, for messages
	namespace string
	types     []string
	identity  bool // the resource is a user-assigned identity, not compute
}

var resourceKinds = []resourceKind{
	{command: "az vm show", namespace: "Microsoft.Compute", types: []string{"virtualMachines"}},
	{command: "az vmss show", namespace: "Microsoft.Compute", types: []string{"virtualMachineScaleSets"}},
	// az webapp show and az functionapp show both print Microsoft.Web/sites
	// (kind tells them apart); --slot prints the nested slot.
	{command: "az webapp show / az functionapp show", namespace: "Microsoft.Web", types: []string{"sites"}},
	{command: "az webapp show --slot / az functionapp show --slot", namespace: "Microsoft.Web", types: []string{"sites", "slots"}},
	{command: "az container show", namespace: "Microsoft.ContainerInstance", types: []string{"containerGroups"}},
	{command: "az containerapp show", namespace: "Microsoft.App", types: []string{"containerApps"}},
	{command: "az identity show", namespace: "Microsoft.ManagedIdentity", types: []string{"userAssignedIdentities"}, identity: true},
}

func kindOf(id armid.ID) (resourceKind, bool) {
	for _, k := range resourceKinds {
		if armid.EqualFold(id.Namespace, k.namespace) && slices.EqualFunc(id.Types, k.types, armid.EqualFold) {
			return k, true
		}
	}
	return resourceKind{}, false
}

func supportedCommands() string {
	var cmds []string
	for _, k := range resourceKinds {
		cmds = append(cmds, k.command)
	}
	return strings.Join(cmds, ", ")
}

// maxAzJSON bounds what is read: one resource is a few kilobytes.
const maxAzJSON = 4 << 20

// parseAzJSON decodes one resource as `az ... show -o json` prints it.
// Mistakes people make with az (a list, an empty result, YAML or table
// output) get a message that says which.
func parseAzJSON(data []byte) (*azResource, error) {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, fmt.Errorf("the input is empty: pipe in what `az ... show -o json` prints")
	case trimmed[0] == '[':
		return nil, fmt.Errorf("the input is a JSON array: give one resource (`az ... show`), not a list")
	case trimmed[0] != '{':
		return nil, fmt.Errorf("the input is not a JSON object: run az with -o json")
	}
	var r azResource
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("the input is not the JSON that az prints: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("the input holds more than one JSON document: give one resource")
	}
	if r.ID == "" {
		return nil, fmt.Errorf("the input has no \"id\": it is not an Azure resource as `az ... show` prints it")
	}
	return &r, nil
}

// has reports whether the identity type, such as "SystemAssigned, UserAssigned"
// (container apps write it without the space), includes kind.
func (i *azIdentity) has(kind string) bool {
	if i == nil {
		return false
	}
	for t := range strings.SplitSeq(i.Type, ",") {
		if strings.EqualFold(strings.TrimSpace(t), kind) {
			return true
		}
	}
	return false
}

// userAssigned lists the user-assigned identities attached, parsed, in a
// stable order.
func (i *azIdentity) userAssigned() ([]armid.ID, error) {
	if i == nil {
		return nil, nil
	}
	var ids []armid.ID
	for key := range i.UserAssignedIdentities {
		id, err := armid.Parse(key)
		if err != nil {
			return nil, fmt.Errorf("identity.userAssignedIdentities: %q: %w", key, err)
		}
		if !id.IsUserAssignedIdentity() {
			return nil, fmt.Errorf("identity.userAssignedIdentities: %q is not a user-assigned identity", key)
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b armid.ID) int {
		return strings.Compare(armid.FoldASCII(a.String()), armid.FoldASCII(b.String()))
	})
	return ids, nil
}
