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

// Package compile turns AzureHost and AzureAuthenticator objects into the
// policy index's entries (policy.Host, policy.Authenticator), refusing
// every rule the API server should have enforced. The index feeder and the
// status reconcilers both compile with it, so what the index serves and
// what status reports cannot disagree.
//
// It is a domain package: it imports only api/ and the other domain
// packages, never a client, the controllers or the HTTP side.
package compile

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// The API server enforces these rules through the CRD's OpenAPI schema and
// CEL. They are checked again here because admission can be bypassed (an
// older CRD version, a restored backup, a hand-edited etcd): an object that
// breaks them is never indexed.

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var identityNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$`)

// issuerTenantPattern finds the tenant GUID at the end of an issuer's path:
// /<guid>/ (v1) or /<guid>/v2.0 (v2), whatever the host.
var issuerTenantPattern = regexp.MustCompile(`/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:/v2\.0)?/?$`)

const (
	defaultTokenTTL  = 8 * time.Minute
	minTokenTTL      = time.Minute
	maxTokenTTL      = time.Hour
	defaultClockSkew = 60 * time.Second
	maxClockSkew     = 5 * time.Minute
	maxProviders     = 16
	maxAudiences     = 16
	maxAllowedCIDRs  = 32
	maxCABundleBytes = 65536
)

// defaultAudiences are the accepted audiences when the spec names none.
var defaultAudiences = []string{"https://management.azure.com/", "https://management.azure.com"}

// Host validates an AzureHost and returns its compiled form. The
// error lists every broken rule with its field path.
func Host(obj *authnv1alpha1.AzureHost) (*policy.Host, error) {
	spec := &obj.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList

	if !guidPattern.MatchString(spec.SubscriptionID) {
		errs = append(errs, field.Invalid(p.Child("subscriptionID"), spec.SubscriptionID, "must be a GUID"))
	}
	if msg := validateResourceGroup(spec.ResourceGroup); msg != "" {
		errs = append(errs, field.Invalid(p.Child("resourceGroup"), spec.ResourceGroup, msg))
	}
	if spec.UserAssignedIdentity != "" && spec.SystemAssignedIdentity != "" {
		errs = append(errs, field.Forbidden(p.Child("systemAssignedIdentity"), "set at most one of userAssignedIdentity and systemAssignedIdentity"))
	}
	if spec.UserAssignedIdentity != "" && !identityNamePattern.MatchString(spec.UserAssignedIdentity) {
		errs = append(errs, field.Invalid(p.Child("userAssignedIdentity"), spec.UserAssignedIdentity,
			"must be 3 to 128 letters, digits, '-' and '_', starting with a letter or digit"))
	}
	if spec.SystemAssignedIdentity != "" && !guidPattern.MatchString(spec.SystemAssignedIdentity) {
		errs = append(errs, field.Invalid(p.Child("systemAssignedIdentity"), spec.SystemAssignedIdentity, "must be a GUID (the identity's principal id)"))
	}
	if spec.TenantID != "" && !guidPattern.MatchString(spec.TenantID) {
		errs = append(errs, field.Invalid(p.Child("tenantID"), spec.TenantID, "must be a GUID"))
	}

	h := &policy.Host{
		ID:                     policy.HostID{Namespace: obj.Namespace, Name: obj.Name},
		UID:                    string(obj.UID),
		Generation:             obj.Generation,
		Labels:                 policy.LabelsOf(obj.Labels),
		SubscriptionID:         armid.FoldASCII(spec.SubscriptionID),
		ResourceGroup:          armid.FoldASCII(spec.ResourceGroup),
		UserAssignedIdentity:   armid.FoldASCII(spec.UserAssignedIdentity),
		SystemAssignedIdentity: armid.FoldASCII(spec.SystemAssignedIdentity),
		TenantID:               armid.FoldASCII(spec.TenantID),
	}

	if spec.ResourceID != "" {
		id, err := armid.Parse(spec.ResourceID)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("resourceID"), spec.ResourceID, err.Error()))
		case !guidPattern.MatchString(id.SubscriptionID):
			errs = append(errs, field.Invalid(p.Child("resourceID"), spec.ResourceID, "subscription must be a GUID"))
		case spec.UserAssignedIdentity == "" &&
			(!armid.EqualFold(id.SubscriptionID, spec.SubscriptionID) || !armid.EqualFold(id.ResourceGroup, spec.ResourceGroup)):
			// Without a user-assigned identity the token's xms_mirid is the
			// compute resource itself, so a pin elsewhere could never match.
			errs = append(errs, field.Invalid(p.Child("resourceID"), spec.ResourceID,
				"must lie in subscriptionID and resourceGroup unless userAssignedIdentity is set"))
		default:
			h.ResourceID = &id
		}
	}

	if len(spec.AllowedCIDRs) > maxAllowedCIDRs {
		errs = append(errs, field.TooMany(p.Child("allowedCIDRs"), len(spec.AllowedCIDRs), maxAllowedCIDRs))
	}
	for i, s := range spec.AllowedCIDRs {
		prefix, err := parseCIDR(s)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("allowedCIDRs").Index(i), s, err.Error()))
			continue
		}
		h.AllowedCIDRs = append(h.AllowedCIDRs, prefix)
	}

	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return h, nil
}

// validateResourceGroup applies Azure's resource-group naming rules: 1 to 90
// Unicode letters and digits and -_.(), not ending in '.'.
func validateResourceGroup(rg string) string {
	if !utf8.ValidString(rg) {
		return "must be valid UTF-8"
	}
	n := utf8.RuneCountInString(rg)
	if n < 1 || n > 90 {
		return "must be 1 to 90 characters"
	}
	for _, r := range rg {
		if !unicode.IsLetter(r) && !unicode.Is(unicode.Nd, r) && !strings.ContainsRune("-_.()", r) {
			return "may contain only letters, digits and -_.()"
		}
	}
	if strings.HasSuffix(rg, ".") {
		return "must not end with '.'"
	}
	return ""
}

// parseCIDR accepts an IP address (a single-address prefix) or a CIDR whose
// address has no bits set after the prefix length.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("must be an IP address or a CIDR such as 10.0.0.0/16")
		}
		return netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()), nil
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("must be an IP address or a CIDR such as 10.0.0.0/16")
	}
	if prefix.Masked() != prefix {
		return netip.Prefix{}, fmt.Errorf("has bits set after the prefix length; did you mean %s?", prefix.Masked())
	}
	if prefix.Addr().Is4In6() {
		// Client addresses are compared unmapped: a ::ffff:a.b.c.d/n range
		// would silently match nothing.
		return netip.Prefix{}, fmt.Errorf("is an IPv4-mapped IPv6 range; write it as IPv4")
	}
	return prefix, nil
}

// Authenticator validates an AzureAuthenticator and returns its
// compiled form; defaults the API server would have applied are applied here
// too, so an object stored without them behaves the same.
func Authenticator(obj *authnv1alpha1.AzureAuthenticator) (*policy.Authenticator, error) {
	spec := &obj.Spec
	p := field.NewPath("spec")
	var errs field.ErrorList

	a := &policy.Authenticator{
		ServiceID:    obj.Name,
		UID:          string(obj.UID),
		Generation:   obj.Generation,
		Enabled:      spec.Enabled == nil || *spec.Enabled,
		Audiences:    spec.Audiences,
		TokenTTL:     defaultTokenTTL,
		ClockSkew:    defaultClockSkew,
		HostSelector: labels.Everything(),
	}

	switch n := len(spec.Providers); {
	case n == 0:
		errs = append(errs, field.Required(p.Child("providers"), "at least one provider is required"))
	case n > maxProviders:
		errs = append(errs, field.TooMany(p.Child("providers"), n, maxProviders))
	}
	seen := map[string]bool{}
	for i, prov := range spec.Providers {
		pp := p.Child("providers").Index(i)
		tenant, err := issuerTenant(prov.URI)
		if err != nil {
			errs = append(errs, field.Invalid(pp.Child("uri"), prov.URI, err.Error()))
			continue
		}
		if seen[prov.URI] {
			errs = append(errs, field.Duplicate(pp.Child("uri"), prov.URI))
			continue
		}
		seen[prov.URI] = true
		compiled := policy.Provider{Issuer: prov.URI, TenantID: tenant}
		if prov.CABundle != "" {
			if len(prov.CABundle) > maxCABundleBytes {
				errs = append(errs, field.TooLong(pp.Child("caBundle"), "", maxCABundleBytes))
				continue
			}
			if !x509.NewCertPool().AppendCertsFromPEM([]byte(prov.CABundle)) {
				errs = append(errs, field.Invalid(pp.Child("caBundle"), "<PEM>", "contains no PEM certificate"))
				continue
			}
			compiled.CABundle = []byte(prov.CABundle)
		}
		a.Providers = append(a.Providers, compiled)
	}

	if len(a.Audiences) == 0 {
		a.Audiences = defaultAudiences
	}
	if len(a.Audiences) > maxAudiences {
		errs = append(errs, field.TooMany(p.Child("audiences"), len(a.Audiences), maxAudiences))
	}
	for i, aud := range a.Audiences {
		// Characters, not bytes: the schema's maxLength counts characters,
		// and an audience the API server admitted must compile.
		if aud == "" || utf8.RuneCountInString(aud) > 256 {
			errs = append(errs, field.Invalid(p.Child("audiences").Index(i), aud, "must be 1 to 256 characters"))
		}
	}

	if spec.TokenTTL != nil {
		if d := spec.TokenTTL.Duration; d < minTokenTTL || d > maxTokenTTL {
			errs = append(errs, field.Invalid(p.Child("tokenTTL"), d.String(), "must be between 1m and 1h"))
		} else {
			a.TokenTTL = d
		}
	}
	if spec.ClockSkew != nil {
		if d := spec.ClockSkew.Duration; d < 0 || d > maxClockSkew {
			errs = append(errs, field.Invalid(p.Child("clockSkew"), d.String(), "must be between 0s and 5m"))
		} else {
			a.ClockSkew = d
		}
	}

	if ah := spec.AllowedHosts; ah != nil {
		ap := p.Child("allowedHosts")
		if ah.NamespaceSelector == nil {
			errs = append(errs, field.Required(ap.Child("namespaceSelector"), "required when allowedHosts is set; {} selects every namespace"))
		} else if sel, err := metav1.LabelSelectorAsSelector(ah.NamespaceSelector); err != nil {
			errs = append(errs, field.Invalid(ap.Child("namespaceSelector"), ah.NamespaceSelector.String(), err.Error()))
		} else {
			a.NamespaceSelector = sel
		}
		if ah.HostSelector != nil {
			if sel, err := metav1.LabelSelectorAsSelector(ah.HostSelector); err != nil {
				errs = append(errs, field.Invalid(ap.Child("hostSelector"), ah.HostSelector.String(), err.Error()))
			} else {
				a.HostSelector = sel
			}
		}
	}

	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return a, nil
}

// issuerTenant returns the folded tenant GUID from an https issuer URI.
func issuerTenant(uri string) (string, error) {
	u, err := url.Parse(uri)
	// 2048 characters, not bytes, as the schema's maxLength counts them.
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || utf8.RuneCountInString(uri) > 2048 || strings.ContainsAny(uri, "?#") {
		return "", fmt.Errorf("must be an https URL without user info, query or fragment")
	}
	m := issuerTenantPattern.FindStringSubmatch(uri)
	if m == nil {
		return "", fmt.Errorf("must end with the tenant id: .../<tenant-id>/ (v1) or .../<tenant-id>/v2.0 (v2)")
	}
	return armid.FoldASCII(m[1]), nil
}

// Identity summarises which identity a host accepts, for status and
// printer columns.
func Identity(spec *authnv1alpha1.AzureHostSpec) string {
	switch {
	case spec.UserAssignedIdentity != "":
		return "user-assigned/" + spec.UserAssignedIdentity
	case spec.SystemAssignedIdentity != "":
		return "system-assigned/" + spec.SystemAssignedIdentity
	default:
		return "resource-group"
	}
}
