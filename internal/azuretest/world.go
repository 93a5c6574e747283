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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// World describes what the emulator pretends exists: tenants, user-assigned
// identities, machines (VMs, scale sets, container groups: each gets its
// own IMDS listener) and apps (App Service, Functions, Container Apps: each
// gets its own IDENTITY_ENDPOINT).
type World struct {
	// Tenants are tenant GUIDs; the first is the default of every entry.
	Tenants                []string           `json:"tenants"`
	UserAssignedIdentities []UserAssignedSpec `json:"userAssignedIdentities,omitempty"`
	Machines               []ComputeSpec      `json:"machines,omitempty"`
	Apps                   []ComputeSpec      `json:"apps,omitempty"`
}

// UserAssignedSpec is a user-assigned managed identity resource.
type UserAssignedSpec struct {
	Name          string `json:"name"`
	Tenant        string `json:"tenant,omitempty"`
	Subscription  string `json:"subscription"`
	ResourceGroup string `json:"resourceGroup"`
	// ClientID and PrincipalID default to stable ids derived from the name.
	ClientID    string `json:"clientID,omitempty"`
	PrincipalID string `json:"principalID,omitempty"`
}

// ComputeSpec is a machine or an app.
type ComputeSpec struct {
	Name          string `json:"name"`
	Tenant        string `json:"tenant,omitempty"`
	Subscription  string `json:"subscription"`
	ResourceGroup string `json:"resourceGroup"`
	// Type is <provider namespace>/<type>[/<name>/<child type>], e.g.
	// Microsoft.Compute/virtualMachines (machines' default) or
	// Microsoft.Web/sites (apps' default).
	Type string `json:"type,omitempty"`
	// SystemAssigned, when present, enables the system-assigned identity.
	SystemAssigned *SystemAssignedSpec `json:"systemAssigned,omitempty"`
	// UserAssigned names attached userAssignedIdentities.
	UserAssigned []string `json:"userAssigned,omitempty"`
}

// SystemAssignedSpec fixes a system-assigned identity's ids (derived from
// the resource ID when empty).
type SystemAssignedSpec struct {
	ClientID    string `json:"clientID,omitempty"`
	PrincipalID string `json:"principalID,omitempty"`
}

// LoadWorld reads a World from a YAML file.
func LoadWorld(path string) (*World, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w World
	if err := yaml.UnmarshalStrict(b, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &w, nil
}

// Endpoint is one running identity endpoint.
type Endpoint struct {
	Name    string
	Compute Compute
	// URL is the token URL: IMDS's .../metadata/identity/oauth2/token or
	// the app's IDENTITY_ENDPOINT.
	URL string
	// Secret is the app's IDENTITY_HEADER (empty for machines).
	Secret string
	srv    *httptest.Server
}

// Emulator runs a World: one fake Entra ID, one IMDS per machine, one
// identity endpoint per app, all on loopback.
type Emulator struct {
	Entra    *Server
	Tenants  []string
	Machines []*Endpoint
	Apps     []*Endpoint
}

// StartEmulator validates w and starts its endpoints on host (a loopback
// address; anything else is refused).
func StartEmulator(w *World, host string) (*Emulator, error) {
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("the emulator listens on loopback only, not %q", host)
	}
	if len(w.Tenants) == 0 {
		return nil, fmt.Errorf("the world needs at least one tenant")
	}
	for _, t := range w.Tenants {
		if !isGUID(t) {
			return nil, fmt.Errorf("tenant %q is not a GUID", t)
		}
	}
	tenantOr := func(t string) string {
		if t == "" {
			return w.Tenants[0]
		}
		return t
	}
	uamis := map[string]UserAssignedSpec{}
	for _, u := range w.UserAssignedIdentities {
		if u.Name == "" || !isGUID(u.Subscription) || u.ResourceGroup == "" {
			return nil, fmt.Errorf("user-assigned identity %q needs a name, a subscription GUID and a resource group", u.Name)
		}
		if _, dup := uamis[u.Name]; dup {
			return nil, fmt.Errorf("user-assigned identity %q is defined twice", u.Name)
		}
		uamis[u.Name] = u
	}
	e := &Emulator{Entra: NewServer(), Tenants: w.Tenants}
	start := func(spec ComputeSpec, defaultType string, app bool) (*Endpoint, error) {
		if spec.Name == "" || !isGUID(spec.Subscription) || spec.ResourceGroup == "" {
			return nil, fmt.Errorf("%q needs a name, a subscription GUID and a resource group", spec.Name)
		}
		typ := spec.Type
		if typ == "" {
			typ = defaultType
		}
		parts := strings.Split(typ, "/")
		if len(parts) < 2 || len(parts)%2 != 0 {
			return nil, fmt.Errorf("%q: type %q must be <namespace>/<type>[/<name>/<type>]", spec.Name, typ)
		}
		// For nested types, the name is the last segment.
		typeAndNames := append(append([]string{}, parts[1:]...), spec.Name)
		c := Compute{ResourceID: ResourceID(spec.Subscription, spec.ResourceGroup, parts[0], typeAndNames...)}
		tenant := tenantOr(spec.Tenant)
		if sa := spec.SystemAssigned; sa != nil {
			id := systemAssigned(tenant, c.ResourceID)
			if sa.PrincipalID != "" {
				id.ObjectID = sa.PrincipalID
			}
			if sa.ClientID != "" {
				id.ClientID = sa.ClientID
			}
			c.System = &id
		}
		for _, name := range spec.UserAssigned {
			u, ok := uamis[name]
			if !ok {
				return nil, fmt.Errorf("%q: no user-assigned identity named %q", spec.Name, name)
			}
			id := UserAssigned(tenantOr(u.Tenant), u.Subscription, u.ResourceGroup, u.Name, c.ResourceID)
			if u.PrincipalID != "" {
				id.ObjectID = u.PrincipalID
			}
			if u.ClientID != "" {
				id.ClientID = u.ClientID
			}
			c.UserAssigned = append(c.UserAssigned, id)
		}
		ep := &Endpoint{Name: spec.Name, Compute: c}
		var h http.Handler
		if app {
			ep.Secret = randomHex()
			h = http.StripPrefix("/msi/token", e.Entra.AppService(c, ep.Secret))
		} else {
			h = e.Entra.IMDS(c)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		ep.srv = httptest.NewUnstartedServer(h)
		_ = ep.srv.Listener.Close()
		ep.srv.Listener = l
		ep.srv.Start()
		if app {
			ep.URL = ep.srv.URL + "/msi/token"
		} else {
			ep.URL = ep.srv.URL + "/metadata/identity/oauth2/token"
		}
		return ep, nil
	}
	for _, m := range w.Machines {
		ep, err := start(m, "Microsoft.Compute/virtualMachines", false)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.Machines = append(e.Machines, ep)
	}
	for _, a := range w.Apps {
		ep, err := start(a, "Microsoft.Web/sites", true)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.Apps = append(e.Apps, ep)
	}
	sort.Slice(e.Machines, func(i, j int) bool { return e.Machines[i].Name < e.Machines[j].Name })
	sort.Slice(e.Apps, func(i, j int) bool { return e.Apps[i].Name < e.Apps[j].Name })
	return e, nil
}

// Machine returns the machine named name.
func (e *Emulator) Machine(name string) *Endpoint { return find(e.Machines, name) }

// App returns the app named name.
func (e *Emulator) App(name string) *Endpoint { return find(e.Apps, name) }

func find(eps []*Endpoint, name string) *Endpoint {
	for _, ep := range eps {
		if ep.Name == name {
			return ep
		}
	}
	return nil
}

// Close stops every endpoint.
func (e *Emulator) Close() {
	for _, ep := range append(e.Machines, e.Apps...) {
		ep.srv.Close()
	}
	e.Entra.Close()
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
