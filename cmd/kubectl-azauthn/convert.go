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
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
)

// convertLabelPrefix is the label prefix the converter owns: it puts
// `<prefix>/<service-id>: authenticate` on the hosts it writes and selects
// them with it, so that no label a team already uses changes meaning.
const convertLabelPrefix = "conjur.authn.dap.io"

// convertAnnotationFrom records the Conjur role a host was converted from.
const convertAnnotationFrom = convertLabelPrefix + "/converted-from"

// convertPlaceholderURI fails the API server's provider URI rules (it does
// not end with a tenant id), so an authenticator without --provider-uri
// cannot be applied half-configured.
const convertPlaceholderURI = "https://provider-uri.invalid/SET-WITH--provider-uri"

// The four restrictions Conjur's authn-azure knows (Restrictions::CONSTRAINTS).
const (
	restrSubscription = "subscription-id"
	restrGroup        = "resource-group"
	restrUser         = "user-assigned-identity"
	restrSystem       = "system-assigned-identity"
)

var (
	knownRestrictions   = []string{restrSubscription, restrGroup, restrUser, restrSystem}
	authnAzureServiceRe = regexp.MustCompile(`^conjur/authn-azure/([^/]+)$`)
	authnAzureVarRe     = regexp.MustCompile(`^conjur/authn-azure/([^/]+)/(.+)$`)
	secretKeyInvalidRe  = regexp.MustCompile(`[^-._a-zA-Z0-9]+`)
	dnsInvalidRe        = regexp.MustCompile(`[^a-z0-9-]+`)
)

func init() {
	addCommand(command{name: "convert", summary: "Convert Conjur policy (authn-azure hosts, webservices, grants, permits) to AzureHost/AzureAuthenticator manifests and a migration report", run: runConvert})
}

const convertSynopsis = "convert conjur-policy FILE... [-n NS] [--namespace-for BRANCH=NS]... [--provider-uri ID=URI]... [--ca-bundle ID=FILE]... [--report FILE] [-o yaml|json]"

func runConvert(_ context.Context, args []string, s streams) error {
	fs := pflag.NewFlagSet("convert", pflag.ContinueOnError)
	out := addOutputFlag(fs, "yaml")
	// Offline: the kube flags only pick the default namespace, as kubectl would.
	kf := addKubeFlags(fs)
	nsFor := fs.StringArray("namespace-for", nil, "BRANCH=NS: put hosts and variables under the Conjur policy BRANCH into namespace NS (longest branch wins; repeatable).")
	uris := fs.StringArray("provider-uri", nil, "ID=URI: the provider-uri value of conjur/authn-azure/ID (policy files hold no values; repeatable).")
	caBundles := fs.StringArray("ca-bundle", nil, "ID=FILE: PEM certificates that verify the provider of conjur/authn-azure/ID (a private IdP or an emulator; repeatable).")
	reportPath := fs.String("report", "", "Write the Markdown migration report to FILE instead of standard error.")
	if err := parseFlags(fs, args, s, convertSynopsis); err != nil {
		return err
	}
	if err := out.validate(); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] != "conjur-policy" {
		return usageErrorf("usage: kubectl azauthn %s", convertSynopsis)
	}
	if len(rest) < 2 {
		return usageErrorf("convert conjur-policy needs at least one policy FILE (- for standard input)")
	}
	ns, err := kf.Namespace()
	switch {
	case err != nil && clientcmd.IsEmptyConfig(errors.Unwrap(err)):
		// Converting needs no cluster: no kubeconfig means "default".
		ns = "default"
	case err != nil:
		return usageErrorf("%v", err)
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return usageErrorf("namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	opts := convertOptions{namespace: ns, namespaceFor: map[string]string{}, providerURIs: map[string]string{}, caBundles: map[string]string{}}
	for _, v := range *nsFor {
		branch, target, ok := strings.Cut(v, "=")
		branch = strings.Trim(branch, "/")
		if !ok || branch == "" {
			return usageErrorf("--namespace-for %q: want BRANCH=NS", v)
		}
		if errs := validation.IsDNS1123Label(target); len(errs) > 0 {
			return usageErrorf("--namespace-for %q: %s", v, strings.Join(errs, "; "))
		}
		opts.namespaceFor[branch] = target
	}
	for _, v := range *uris {
		id, uri, ok := strings.Cut(v, "=")
		if !ok || id == "" || uri == "" {
			return usageErrorf("--provider-uri %q: want ID=URI", v)
		}
		opts.providerURIs[id] = uri
	}
	for _, v := range *caBundles {
		id, file, ok := strings.Cut(v, "=")
		if !ok || id == "" || file == "" {
			return usageErrorf("--ca-bundle %q: want ID=FILE", v)
		}
		pemData, err := os.ReadFile(file)
		if err != nil {
			return usageErrorf("--ca-bundle %s: %v", id, err)
		}
		if !hasCertificateBlock(pemData) {
			return usageErrorf("--ca-bundle %s: %s holds no PEM CERTIFICATE block", id, file)
		}
		opts.caBundles[id] = string(pemData)
	}
	var stmts []policyStatement
	for _, name := range rest[1:] {
		var data []byte
		if name == "-" {
			data, err = io.ReadAll(s.In)
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return usageErrorf("reading policy: %v", err)
		}
		st, err := parseConjurPolicy(name, data)
		if err != nil {
			return usageErrorf("%v", err)
		}
		stmts = append(stmts, st...)
	}
	if len(stmts) == 0 {
		return usageErrorf("%v in %s", errNoStatements, strings.Join(rest[1:], ", "))
	}
	res, err := convertPolicy(stmts, opts)
	if err != nil {
		return usageErrorf("%v", err)
	}
	var objs []any
	for _, o := range res.objects() {
		m, err := convertManifest(o)
		if err != nil {
			return err
		}
		objs = append(objs, m)
	}
	if len(objs) > 0 {
		if err := out.print(s.Out, objs...); err != nil {
			return err
		}
	}
	report := res.report()
	if *reportPath != "" {
		if err := os.WriteFile(*reportPath, []byte(report), 0o600); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	} else if _, err := io.WriteString(s.Err, report); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if n := res.incomplete(); n > 0 {
		return withCode(exitIncomplete, fmt.Errorf("conversion incomplete: %d item(s) not mapped or to decide (see the report)", n))
	}
	return nil
}

type convertOptions struct {
	namespace    string
	namespaceFor map[string]string
	providerURIs map[string]string
	caBundles    map[string]string // service id → PEM
}

// namespaceOf maps a Conjur id to a namespace by its longest mapped branch.
func (o convertOptions) namespaceOf(id string) (ns, branch string) {
	ns = o.namespace
	for b, n := range o.namespaceFor {
		if strings.HasPrefix(id, b+"/") && len(b) > len(branch) {
			ns, branch = n, b
		}
	}
	return ns, branch
}

type convertLogin struct{ old, new string }

type convertVariable struct {
	old, new        string // Conjur id → <ns>/<secret>/<key>
	namespace       string
	secret, key     string
	readers         []string // AzureHost names in namespace
	unmappedReaders []string // Conjur roles with execute that cannot read here
	pos             string
}

type convertSecret struct {
	namespace, name string
	allowed         []string
	variables       []string
}

type convertResult struct {
	opts           convertOptions
	authenticators []*authnv1alpha1.AzureAuthenticator
	hosts          []*authnv1alpha1.AzureHost
	logins         []convertLogin
	variables      []convertVariable
	secrets        []convertSecret
	unmapped       []string // statements that produced nothing they should have
	unknownAnn     []string
	decide         []string // choices the converter will not make for the platform team
	warnings       []string // mapped, but read this
	dropped        []string // statements with nothing to map to
	nsLabels       []string
}

func (r *convertResult) incomplete() int { return len(r.unmapped) + len(r.unknownAnn) + len(r.decide) }

// policyGraph is the policy after flattening: records by kind:id and role
// memberships (who holds each role).
type policyGraph struct {
	records map[string]*policyStatement
	holders map[string][]policyRef // role → roles granted it
}

func (g *policyGraph) hostsHolding(role policyRef) (hosts []string, others []string) {
	seen := map[string]bool{}
	var walk func(r policyRef)
	walk = func(r policyRef) {
		if seen[r.String()] {
			return
		}
		seen[r.String()] = true
		switch r.kind {
		case "host":
			hosts = append(hosts, r.id)
		case "group", "layer", "policy":
		default:
			others = append(others, r.String())
		}
		for _, m := range g.holders[r.String()] {
			walk(m)
		}
	}
	walk(role)
	sort.Strings(hosts)
	sort.Strings(others)
	return hosts, others
}

func convertPolicy(stmts []policyStatement, opts convertOptions) (*convertResult, error) {
	res := &convertResult{opts: opts}
	g := &policyGraph{records: map[string]*policyStatement{}, holders: map[string][]policyRef{}}
	services := map[string]*policyStatement{} // service id → its webservice
	for i := range stmts {
		st := &stmts[i]
		if recordKinds[st.kind] {
			key := st.kind + ":" + st.id
			if prev, ok := g.records[key]; ok {
				// Conjur merges a re-declared record; annotations of the later one win.
				prev.annotations = append(prev.annotations, st.annotations...)
				if st.restrictedTo != nil {
					prev.restrictedTo = st.restrictedTo
				}
				continue
			}
			g.records[key] = st
		}
		if st.kind == "grant" {
			for _, role := range st.roles {
				g.holders[role.String()] = append(g.holders[role.String()], st.members...)
			}
		}
		if st.kind == "webservice" {
			if m := authnAzureServiceRe.FindStringSubmatch(st.id); m != nil {
				services[m[1]] = st
			}
		}
	}

	// Who may authenticate to which service; who may fetch which variable.
	admitted := map[string]map[string]bool{} // host id → service ids
	readers := map[string][]string{}         // variable id → host ids
	badReaders := map[string][]string{}      // variable id → non-host roles
	for i := range stmts {
		st := &stmts[i]
		switch st.kind {
		case "host", "group", "layer", "policy", "grant":
			// Structure: mapped through the hosts and permits that use it.
		case "webservice":
			if _, ok := services[strings.TrimPrefix(st.id, "conjur/authn-azure/")]; ok && authnAzureServiceRe.MatchString(st.id) {
				continue
			}
			if strings.HasPrefix(st.id, "conjur/authn-azure/") && strings.HasSuffix(st.id, "/status") {
				res.dropped = append(res.dropped, fmt.Sprintf("%s `!webservice %s`: the status route needs no grant here; `kubectl get azureauthenticators` and its conditions replace it", st.pos, st.id))
				continue
			}
			res.unmapped = append(res.unmapped, fmt.Sprintf("%s `!webservice %s`: not an authn-azure authenticator", st.pos, st.id))
		case "variable":
			if m := authnAzureVarRe.FindStringSubmatch(st.id); m != nil {
				if m[2] != "provider-uri" || services[m[1]] == nil {
					res.unmapped = append(res.unmapped, fmt.Sprintf("%s `!variable %s`: authn-azure reads only provider-uri", st.pos, st.id))
				}
			}
		case "permit":
			for _, rsc := range st.resources {
				for _, priv := range st.privileges {
					m := authnAzureServiceRe.FindStringSubmatch(rsc.id)
					switch {
					case rsc.kind == "webservice" && m != nil && services[m[1]] != nil && priv == "authenticate":
						for _, role := range st.roles {
							hosts, others := g.hostsHolding(role)
							for _, h := range hosts {
								if admitted[h] == nil {
									admitted[h] = map[string]bool{}
								}
								admitted[h][m[1]] = true
							}
							for _, o := range others {
								res.unmapped = append(res.unmapped, fmt.Sprintf("%s `!permit authenticate` to %s: %s is not a host; only hosts authenticate with authn-azure here", st.pos, rsc.id, o))
							}
						}
					case rsc.kind == "webservice" && m != nil && priv == "read":
						res.dropped = append(res.dropped, fmt.Sprintf("%s `!permit read` on %s: not needed; admission is `allowedHosts`", st.pos, rsc.id))
					case rsc.kind == "webservice" && strings.HasPrefix(rsc.id, "conjur/authn-azure/") && strings.HasSuffix(rsc.id, "/status"):
						res.dropped = append(res.dropped, fmt.Sprintf("%s `!permit %s` on %s: the status webservice has no counterpart", st.pos, priv, rsc.id))
					case rsc.kind == "variable" && priv == "execute":
						for _, role := range st.roles {
							hosts, others := g.hostsHolding(role)
							readers[rsc.id] = append(readers[rsc.id], hosts...)
							badReaders[rsc.id] = append(badReaders[rsc.id], others...)
						}
					case rsc.kind == "variable" && priv == "read":
						res.dropped = append(res.dropped, fmt.Sprintf("%s `!permit read` on variable %s: Conjur's read shows metadata, not the value; nothing to map", st.pos, rsc.id))
					default:
						res.unmapped = append(res.unmapped, fmt.Sprintf("%s `!permit %s` on %s: no counterpart", st.pos, priv, rsc))
					}
				}
			}
		default:
			what := st.id
			if !recordKinds[st.kind] {
				what = fmt.Sprintf("%v on %v", st.privileges, st.resources)
			}
			res.unmapped = append(res.unmapped, fmt.Sprintf("%s `!%s %s`: no counterpart", st.pos, st.kind, what))
		}
	}

	// Hosts.
	hostNames := map[string]string{} // Conjur host id → namespace/name
	taken := map[string]string{}     // namespace/name → Conjur host id
	hostNS := map[string][]string{}  // service id → namespaces with admitted hosts
	for _, key := range sortedKeys(g.records) {
		st := g.records[key]
		if st.kind == "host" {
			if h := res.convertHost(st, admitted[st.id], taken); h != nil {
				hostNames[st.id] = h.Namespace + "/" + h.Name
				res.hosts = append(res.hosts, h)
				res.logins = append(res.logins, convertLogin{old: "host/" + st.id, new: "host/" + h.Namespace + "/" + h.Name})
				for sid := range admitted[st.id] {
					if !slices.Contains(hostNS[sid], h.Namespace) {
						hostNS[sid] = append(hostNS[sid], h.Namespace)
					}
				}
			}
		}
	}

	// Authenticators.
	for _, sid := range sortedKeys(services) {
		res.convertAuthenticator(sid, services[sid], hostNS[sid])
	}
	for sid := range opts.providerURIs {
		if services[sid] == nil {
			return nil, fmt.Errorf("--provider-uri %s=...: the policy declares no webservice conjur/authn-azure/%s", sid, sid)
		}
	}
	for sid := range opts.caBundles {
		if services[sid] == nil {
			return nil, fmt.Errorf("--ca-bundle %s=...: the policy declares no webservice conjur/authn-azure/%s", sid, sid)
		}
	}

	// Variables → Secrets.
	res.convertVariables(g, readers, badReaders, hostNames)
	return res, nil
}

// convertHost maps one Conjur host, or records why it cannot.
func (r *convertResult) convertHost(st *policyStatement, services map[string]bool, taken map[string]string) *authnv1alpha1.AzureHost {
	what := fmt.Sprintf("%s `!host %s`", st.pos, st.id)
	general := map[string]string{}
	scoped := map[string]map[string]string{}
	unknown := false
	for _, a := range st.annotations {
		rest, ok := strings.CutPrefix(a.key, "authn-azure/")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "/")
		switch {
		case len(parts) == 1 && slices.Contains(knownRestrictions, parts[0]):
			general[parts[0]] = a.value
		case len(parts) == 2 && parts[0] != "" && slices.Contains(knownRestrictions, parts[1]):
			if scoped[parts[0]] == nil {
				scoped[parts[0]] = map[string]string{}
			}
			scoped[parts[0]][parts[1]] = a.value
		default:
			r.unknownAnn = append(r.unknownAnn, fmt.Sprintf("%s: unknown annotation `%s` (Conjur refuses it with CONJ00050E; fix the typo); no AzureHost written", what, a.key))
			unknown = true
		}
	}
	if unknown {
		return nil
	}
	if len(general) == 0 && len(scoped) == 0 {
		if len(services) > 0 {
			r.unmapped = append(r.unmapped, what+": may authenticate but has no authn-azure annotations (Conjur refuses it with CONJ00057E); no AzureHost written")
		} else {
			r.unmapped = append(r.unmapped, what+": not an Azure host (no authn-azure annotations); no AzureHost written")
		}
		return nil
	}
	// Conjur evaluates the annotations per service: a service-scoped one
	// overrides the general one, blank values are ignored. An AzureHost has
	// one set, so every service it may use must come out the same.
	sids := sortedKeys(services)
	if len(sids) == 0 {
		sids = sortedKeys(scoped)
		r.warnings = append(r.warnings, what+": no `!permit authenticate` on an authn-azure webservice reaches it in these files, so no authenticator admits it")
	}
	if len(sids) == 0 {
		sids = []string{""}
	}
	var eff map[string]string
	for _, sid := range sids {
		e := map[string]string{}
		for _, src := range []map[string]string{general, scoped[sid]} {
			for k, v := range src {
				if strings.TrimSpace(v) != "" {
					e[k] = v
				}
			}
		}
		if eff != nil && !mapsEqual(eff, e) {
			r.decide = append(r.decide, fmt.Sprintf("%s: its service-scoped annotations give services %s different restrictions; an AzureHost has one set: split it into one Conjur host per service first; no AzureHost written", what, strings.Join(sids, ", ")))
			return nil
		}
		eff = e
	}
	for sid := range scoped {
		if !slices.Contains(sids, sid) {
			r.warnings = append(r.warnings, fmt.Sprintf("%s: annotations for service %q ignored: that service does not admit it here", what, sid))
		}
	}
	switch {
	case eff[restrSubscription] == "" || eff[restrGroup] == "":
		r.unmapped = append(r.unmapped, what+": lacks authn-azure subscription-id or resource-group (Conjur refuses it with CONJ00057E); no AzureHost written")
		return nil
	case eff[restrUser] != "" && eff[restrSystem] != "":
		r.unmapped = append(r.unmapped, what+": has both user- and system-assigned-identity (Conjur refuses it with CONJ00055E); no AzureHost written")
		return nil
	}
	ns, branch := r.opts.namespaceOf(st.id)
	name, ok := convertHostName(st.id, branch, ns, taken)
	if !ok {
		r.decide = append(r.decide, fmt.Sprintf("%s: no free AzureHost name in namespace %s; rename it; no AzureHost written", what, ns))
		return nil
	}
	h := &authnv1alpha1.AzureHost{
		TypeMeta: metav1.TypeMeta{APIVersion: authnv1alpha1.GroupVersion.String(), Kind: "AzureHost"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Annotations: map[string]string{convertAnnotationFrom: "host/" + st.id},
		},
		Spec: authnv1alpha1.AzureHostSpec{
			SubscriptionID:         eff[restrSubscription],
			ResourceGroup:          eff[restrGroup],
			UserAssignedIdentity:   eff[restrUser],
			SystemAssignedIdentity: eff[restrSystem],
			AllowedCIDRs:           st.restrictedTo,
		},
	}
	for sid := range services {
		if h.Labels == nil {
			h.Labels = map[string]string{}
		}
		h.Labels[convertLabelPrefix+"/"+sid] = "authenticate"
	}
	if _, err := compile.Host(h); err != nil {
		r.unmapped = append(r.unmapped, fmt.Sprintf("%s: would not be a valid AzureHost: %v; no AzureHost written", what, err))
		return nil
	}
	taken[ns+"/"+name] = st.id
	return h
}

// convertHostName picks the Conjur id's last element, or the path below the
// namespace's branch when that is taken, as a DNS label.
func convertHostName(id, branch, ns string, taken map[string]string) (string, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(id, branch), "/")
	candidates := []string{rel[strings.LastIndex(rel, "/")+1:], rel}
	for _, c := range candidates {
		n := strings.Trim(dnsInvalidRe.ReplaceAllString(strings.ToLower(c), "-"), "-")
		if len(n) > 63 {
			n = strings.Trim(n[:63], "-")
		}
		if n == "" || len(validation.IsDNS1123Label(n)) > 0 {
			continue
		}
		if _, used := taken[ns+"/"+n]; !used {
			return n, true
		}
	}
	return "", false
}

func (r *convertResult) convertAuthenticator(sid string, st *policyStatement, namespaces []string) {
	what := fmt.Sprintf("%s `!webservice %s`", st.pos, st.id)
	if errs := validation.IsDNS1123Subdomain(sid); len(errs) > 0 || len(validation.IsQualifiedName(convertLabelPrefix+"/"+sid)) > 0 {
		r.decide = append(r.decide, fmt.Sprintf("%s: service id %q is not a valid AzureAuthenticator name (a lower-case DNS name of at most 63 characters); rename it; no AzureAuthenticator written", what, sid))
		return
	}
	uri, ok := r.opts.providerURIs[sid]
	if !ok {
		uri = convertPlaceholderURI
		r.decide = append(r.decide, fmt.Sprintf("%s: no --provider-uri %s=URI; the manifest has a placeholder the API server refuses. Copy the value of variable conjur/authn-azure/%s/provider-uri", what, sid, sid))
	}
	a := &authnv1alpha1.AzureAuthenticator{
		TypeMeta:   metav1.TypeMeta{APIVersion: authnv1alpha1.GroupVersion.String(), Kind: "AzureAuthenticator"},
		ObjectMeta: metav1.ObjectMeta{Name: sid, Annotations: map[string]string{convertAnnotationFrom: "webservice/" + st.id}},
		Spec:       authnv1alpha1.AzureAuthenticatorSpec{Providers: []authnv1alpha1.Provider{{URI: uri, CABundle: r.opts.caBundles[sid]}}},
	}
	if len(namespaces) > 0 {
		sort.Strings(namespaces)
		a.Spec.AllowedHosts = &authnv1alpha1.AllowedHosts{
			// The API server sets kubernetes.io/metadata.name on every
			// namespace and nobody can change it: selecting by it admits
			// exactly these namespaces and needs no new namespace label.
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: namespaces,
			}}},
			HostSelector: &metav1.LabelSelector{MatchLabels: map[string]string{convertLabelPrefix + "/" + sid: "authenticate"}},
		}
		r.nsLabels = append(r.nsLabels, fmt.Sprintf("`%s` admits namespaces %s by their `kubernetes.io/metadata.name` label (set by the API server): no namespace label to add or change. Within them, any AzureHost labelled `%s/%s: authenticate` is admitted, so whoever may edit AzureHosts there can admit more hosts (in Conjur only the policy could)", sid, strings.Join(namespaces, ", "), convertLabelPrefix, sid))
	} else {
		r.warnings = append(r.warnings, what+": no host may authenticate to it (no `!permit authenticate` reaches a converted host); it is written without allowedHosts, which admits nobody")
	}
	// Validate with a real-looking URI when the placeholder is in: the
	// placeholder is meant to fail at the API server, not here.
	check := a.DeepCopy()
	if !ok {
		check.Spec.Providers[0].URI = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"
	}
	if _, err := compile.Authenticator(check); err != nil {
		r.decide = append(r.decide, fmt.Sprintf("%s: would not be a valid AzureAuthenticator: %v; no AzureAuthenticator written", what, err))
		return
	}
	r.authenticators = append(r.authenticators, a)
}

func (r *convertResult) convertVariables(g *policyGraph, readers, badReaders map[string][]string, hostNames map[string]string) {
	bySecret := map[string]*convertSecret{}
	for _, key := range sortedKeys(g.records) {
		st := g.records[key]
		if st.kind != "variable" || strings.HasPrefix(st.id, "conjur/authn-azure/") {
			continue
		}
		ns, branch := r.opts.namespaceOf(st.id)
		rel := strings.TrimPrefix(strings.TrimPrefix(st.id, branch), "/")
		dir, keyName := "", rel
		if i := strings.LastIndex(rel, "/"); i >= 0 {
			dir, keyName = rel[:i], rel[i+1:]
		}
		secret := strings.Trim(dnsInvalidRe.ReplaceAllString(strings.ToLower(dir), "-"), "-")
		if secret == "" {
			secret = "conjur-variables"
		}
		keyName = strings.Trim(secretKeyInvalidRe.ReplaceAllString(keyName, "-"), "-")
		v := convertVariable{old: st.id, namespace: ns, secret: secret, key: keyName, pos: st.pos}
		v.new = ns + "/" + secret + "/" + keyName
		for _, h := range readers[st.id] {
			nn, ok := hostNames[h]
			switch {
			case !ok:
				v.unmappedReaders = append(v.unmappedReaders, "host/"+h+" (not converted)")
			case !strings.HasPrefix(nn, ns+"/"):
				v.unmappedReaders = append(v.unmappedReaders, "host/"+nn)
				r.decide = append(r.decide, fmt.Sprintf("%s variable `%s`: host/%s may fetch it, but it lives in another namespace than %s and a host reads only its own namespace's Secrets: copy the value into a Secret there, or move the host", st.pos, st.id, nn, v.new))
			default:
				if name := strings.TrimPrefix(nn, ns+"/"); !slices.Contains(v.readers, name) {
					v.readers = append(v.readers, name)
				}
			}
		}
		for _, o := range badReaders[st.id] {
			v.unmappedReaders = append(v.unmappedReaders, o)
			r.unmapped = append(r.unmapped, fmt.Sprintf("%s variable `%s`: %s may fetch it in Conjur; only AzureHosts read Secrets here", st.pos, st.id, o))
		}
		sort.Strings(v.readers)
		r.variables = append(r.variables, v)
		sk := ns + "/" + secret
		sec := bySecret[sk]
		if sec == nil {
			sec = &convertSecret{namespace: ns, name: secret, allowed: v.readers}
			bySecret[sk] = sec
		} else if !slices.Equal(sec.allowed, v.readers) {
			// One Secret has one reader list: keep the hosts all its
			// variables share (fail closed) and say so.
			var both []string
			for _, a := range sec.allowed {
				if slices.Contains(v.readers, a) {
					both = append(both, a)
				}
			}
			r.decide = append(r.decide, fmt.Sprintf("Secret %s: its variables have different readers (%s); the annotation lists only the hosts all of them share: split the Secret to keep Conjur's grants", sk, strings.Join(append(sec.variables, st.id), ", ")))
			sec.allowed = both
		}
		sec.variables = append(sec.variables, st.id)
	}
	for _, k := range sortedKeys(bySecret) {
		r.secrets = append(r.secrets, *bySecret[k])
	}
}

func (r *convertResult) report() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	list := func(title string, items []string, empty string) {
		w("\n## %s\n\n", title)
		if len(items) == 0 {
			w("%s\n", empty)
		}
		for _, it := range items {
			w("- %s\n", it)
		}
	}
	w("# Conjur policy migration report\n\n")
	w("%d AzureAuthenticator(s), %d AzureHost(s) written; %d item(s) not mapped, %d unknown authn-azure annotation(s), %d item(s) to decide.\n",
		len(r.authenticators), len(r.hosts), len(r.unmapped), len(r.unknownAnn), len(r.decide))
	list("Not mapped", r.unmapped, "Nothing.")
	list("Unknown authn-azure annotations", r.unknownAnn, "None.")
	list("To decide", r.decide, "Nothing.")
	list("Warnings", r.warnings, "None.")
	w("\n## Logins\n\n")
	if len(r.logins) == 0 {
		w("No host converted.\n")
	} else {
		w("| Conjur login | new login |\n| --- | --- |\n")
		for _, l := range r.logins {
			w("| `%s` | `%s` |\n", l.old, l.new)
		}
	}
	list("Namespace labels", r.nsLabels, "No authenticator admits a converted host; no namespace label is involved.")
	w("\n## Secrets\n\nOnly `execute` maps (Conjur's `read` does not fetch values). Put each value into the Secret below, with the label `authn.dap.io/expose: \"true\"` and the annotation shown; clients use the new variable id.\n\n")
	if len(r.variables) == 0 {
		w("No variables.\n")
	} else {
		w("| Conjur variable | new variable id | readers here | not carried over |\n| --- | --- | --- | --- |\n")
		for _, v := range r.variables {
			w("| `%s` | `%s` | %s | %s |\n", v.old, v.new, orNone(v.readers), orNone(v.unmappedReaders))
		}
		w("\n")
		for _, s := range r.secrets {
			allowed := strings.Join(s.allowed, ", ")
			if allowed == "" {
				w("- Secret `%s/%s`: no host may read it; do not label it exposed\n", s.namespace, s.name)
				continue
			}
			w("- Secret `%s/%s`: `kubectl -n %s label secret %s authn.dap.io/expose=true && kubectl -n %s annotate secret %s 'authn.dap.io/allowed-hosts=%s'`\n", s.namespace, s.name, s.namespace, s.name, s.namespace, s.name, allowed)
		}
	}
	list("Dropped (nothing to map)", r.dropped, "Nothing.")
	w(`
## Behaviour changes

- **Audience enforced.** Conjur accepted any aud from the tenant; the token's aud must now be one of spec.audiences (default https://management.azure.com/ with and without the slash). Clients that asked IMDS for another resource must change it or the authenticator must list it.
- **Tenant bound.** The token's tid must be the tenant in the provider URI, and its iss that provider (a trailing slash no longer matters).
- **Case-insensitive matching.** Subscription, resource group and user-assigned identity name compare ASCII letters case-insensitively (Azure's own rule); Conjur compared exactly.
- **Logins.** host/<namespace>/<name> replaces the Conjur id (table above); the account is the manager's --account, the service id the AzureAuthenticator's name.
- **Enablement.** CONJUR_AUTHENTICATORS and the enable route become spec.enabled (default true).
- **Audit.** Decisions are JSON audit records on the authenticator's log, not syslog messages.
- **Variable ids.** <namespace>/<secret>/<key> (table above); a host reads only its own namespace's Secrets, all keys of a Secret it is allowed, no versions.
`)
	return b.String()
}

func (r *convertResult) objects() []any {
	var objs []any
	for _, a := range r.authenticators {
		objs = append(objs, a)
	}
	for _, h := range r.hosts {
		objs = append(objs, h)
	}
	return objs
}

// convertManifest drops what only the server fills in, as register does,
// so that the manifests apply cleanly.
func convertManifest(obj any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding a manifest: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encoding a manifest: %w", err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return m, nil
}

// hasCertificateBlock reports whether data holds a PEM CERTIFICATE block
// that parses, the manager's own rule (internal/compile), so that a key, a
// DER file or a damaged certificate is a usage error here rather than a
// manifest the API server refuses.
func hasCertificateBlock(data []byte) bool {
	return x509.NewCertPool().AppendCertsFromPEM(data)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "—"
	}
	return "`" + strings.Join(s, "`, `") + "`"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
