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

package churn

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

// Labels the world's objects carry. run marks every object of one run, so
// that the authenticators select nothing of another test.
const (
	runLabel   = "churn.authn.dap.io/run"
	admitLabel = "churn.authn.dap.io/admit"
	tierLabel  = "churn.authn.dap.io/tier"
	secretKey1 = "k"
)

// The write kinds, each a change the issue names; a run makes each of
// them (the writer goes through them in shuffled rounds).
const (
	KindNamespaceLabel    = "namespace-label"             // admission by namespace label flips
	KindAuthEnabled       = "authenticator-enabled"       // spec.enabled flips
	KindAuthAllowedHosts  = "authenticator-allowed-hosts" // spec.allowedHosts changes (or goes)
	KindAuthDelete        = "authenticator-delete"
	KindAuthCreate        = "authenticator-create"
	KindHostCreate        = "host-create"
	KindHostDelete        = "host-delete"
	KindHostResourceGroup = "host-resource-group" // the VM no longer matches; the generation changes
	KindHostAllowedCIDRs  = "host-allowed-cidrs"  // pinned away from the clients' address, or back
	KindHostLabel         = "host-label"          // admission by host label flips; the generation stays
	KindSecretGrant       = "secret-grant"        // the allowed-hosts annotation changes
	KindSecretExpose      = "secret-expose"       // the expose label flips
	KindSecretDelete      = "secret-delete"
	KindSecretCreate      = "secret-create" // re-created with a new value
	KindSetup             = "setup"         // the initial world; not a churn write
)

const pinnedCIDR = "10.0.0.0/8" // never a loopback client

// WriteKinds are the churn write kinds.
var WriteKinds = []string{
	KindNamespaceLabel, KindAuthEnabled, KindAuthAllowedHosts, KindAuthDelete, KindAuthCreate,
	KindHostCreate, KindHostDelete, KindHostResourceGroup, KindHostAllowedCIDRs, KindHostLabel,
	KindSecretGrant, KindSecretExpose, KindSecretDelete, KindSecretCreate,
}

// grants are the allowed-hosts annotations a Secret takes turns with;
// blanks around names are the owner's to write.
var grants = []string{"*", "h0", "h1, h3", "h0,h2", "", " h2 ,h0 ", "nobody"}

// world is one run's objects: two namespaces of four hosts and two
// Secrets each, two authenticators, VMs in two resource groups.
type world struct {
	prefix, subscription, issuer, caBundle string
	namespaces, services                   []string
	hosts                                  []HostID
	secrets                                []SecretID
	resourceGroups                         []string
	values                                 int // the last secret value number
}

func newWorld(prefix, subscription, issuer, caBundle string) *world {
	w := &world{prefix: prefix, subscription: subscription, issuer: issuer, caBundle: caBundle,
		namespaces: []string{prefix + "-a", prefix + "-b"}, services: []string{prefix + "-s1", prefix + "-s2"},
		resourceGroups: []string{"rg-1", "rg-2"}}
	for _, ns := range w.namespaces {
		for i := range 4 {
			w.hosts = append(w.hosts, HostID{ns, "h" + strconv.Itoa(i)})
		}
		for i := range 2 {
			w.secrets = append(w.secrets, SecretID{ns, "x" + strconv.Itoa(i)})
		}
	}
	return w
}

// allowedHostsVariants are the admissions an authenticator takes turns
// with (nil: no allowedHosts).
func (w *world) allowedHostsVariants() []*AllowedHosts {
	return []*AllowedHosts{
		{Namespace: map[string]string{runLabel: w.prefix, admitLabel: "yes"}},
		{Namespace: map[string]string{runLabel: w.prefix}, Host: map[string]string{tierLabel: "gold"}},
		nil,
		{Namespace: map[string]string{runLabel: w.prefix, admitLabel: "yes"}, Host: map[string]string{tierLabel: "gold"}},
		{Namespace: map[string]string{runLabel: w.prefix, admitLabel: "no"}},
	}
}

// ValuePrefix starts every secret value of a run, so that a log can be
// searched for values.
const ValuePrefix = "churn-s3cr3t-"

func (w *world) nextValue() string {
	w.values++
	return ValuePrefix + strconv.Itoa(w.values)
}

// initial is the world as set up: everything present, admitted, exposed.
func (w *world) initial() []func(*State) (string, *object) {
	var steps []func(*State) (string, *object)
	for _, ns := range w.namespaces {
		steps = append(steps, func(s *State) (string, *object) {
			n := &Namespace{Labels: map[string]string{runLabel: w.prefix, admitLabel: "yes"}}
			s.Namespaces[ns] = n
			return namespaceKey(ns), &object{create: w.namespaceObject(ns, n)}
		})
	}
	variants := w.allowedHostsVariants()
	for i, svc := range w.services {
		steps = append(steps, func(s *State) (string, *object) {
			a := &Authenticator{Enabled: true, AllowedHosts: variants[i]}
			s.Authenticators[svc] = a
			return authenticatorKey(svc), &object{create: w.authenticatorObject(svc, a)}
		})
	}
	for i, id := range w.hosts {
		steps = append(steps, func(s *State) (string, *object) {
			h := &Host{ResourceGroup: w.resourceGroups[i%2], Labels: map[string]string{runLabel: w.prefix, tierLabel: []string{"gold", "silver"}[i/2%2]}}
			s.Hosts[id] = h
			return hostKey(id), &object{create: w.hostObject(id, h), host: id}
		})
	}
	for i, id := range w.secrets {
		steps = append(steps, func(s *State) (string, *object) {
			x := &Secret{Exposed: true, AllowedHosts: []string{"*", "h0,h2"}[i%2], Data: map[string]string{secretKey1: w.nextValue()}}
			s.Secrets[id] = x
			return secretKey(id), &object{create: w.secretObject(id, x)}
		})
	}
	return steps
}

// object is one API call: create, patch (from old to new) or delete.
// host names the AzureHost whose UID and generation the answer gives.
type object struct {
	create, patchOld, patchNew, remove client.Object
	host                               HostID
}

// apply makes the call and, for an AzureHost, reads its UID and
// generation from the answer into s (a state not yet recorded).
func (o *object) apply(ctx context.Context, c client.Client, s *State) error {
	var err error
	var got client.Object
	switch {
	case o.create != nil:
		err, got = c.Create(ctx, o.create), o.create
	case o.patchNew != nil:
		err, got = c.Patch(ctx, o.patchNew, client.MergeFrom(o.patchOld)), o.patchNew
	case o.remove != nil:
		err = c.Delete(ctx, o.remove)
	}
	if err != nil {
		return err
	}
	if o.host != (HostID{}) && got != nil {
		h := *s.Hosts[o.host]
		h.UID, h.Generation = string(got.GetUID()), got.GetGeneration()
		s.Hosts[o.host] = &h
	}
	return nil
}

func (w *world) namespaceObject(name string, n *Namespace) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: maps.Clone(n.Labels)}}
}

func (w *world) authenticatorObject(service string, a *Authenticator) *authnv1alpha1.AzureAuthenticator {
	o := &authnv1alpha1.AzureAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: service, Labels: map[string]string{runLabel: w.prefix}},
		Spec: authnv1alpha1.AzureAuthenticatorSpec{
			Providers: []authnv1alpha1.Provider{{URI: w.issuer, CABundle: w.caBundle}},
			Enabled:   ptr.To(a.Enabled),
		},
	}
	if a.AllowedHosts != nil {
		o.Spec.AllowedHosts = &authnv1alpha1.AllowedHosts{NamespaceSelector: &metav1.LabelSelector{MatchLabels: maps.Clone(a.AllowedHosts.Namespace)}}
		if a.AllowedHosts.Host != nil {
			o.Spec.AllowedHosts.HostSelector = &metav1.LabelSelector{MatchLabels: maps.Clone(a.AllowedHosts.Host)}
		}
	}
	return o
}

func (w *world) hostObject(id HostID, h *Host) *authnv1alpha1.AzureHost {
	o := &authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: id.Namespace, Name: id.Name, Labels: maps.Clone(h.Labels)},
		Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: w.subscription, ResourceGroup: h.ResourceGroup},
	}
	if h.Pinned {
		o.Spec.AllowedCIDRs = []string{pinnedCIDR}
	}
	return o
}

func (w *world) secretObject(id SecretID, x *Secret) *corev1.Secret {
	o := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: id.Namespace, Name: id.Name,
			Labels:      map[string]string{runLabel: w.prefix, secrets.ExposeLabel: strconv.FormatBool(x.Exposed)},
			Annotations: map[string]string{secrets.AllowedHostsAnnotation: x.AllowedHosts}},
		Data: map[string][]byte{},
	}
	for k, v := range x.Data {
		o.Data[k] = []byte(v)
	}
	return o
}

// plan is one churn write: what it changes, the state it should leave
// (an AzureHost's new UID and generation predicted: the answer has the
// real ones) and the API call.
type plan struct {
	kind string
	key  string
	next *State
	call *object
}

// planWrite plans a write of kind on s, or returns nil when the kind
// cannot be made now. Revoking changes are capped (one namespace, one
// authenticator, one Secret, two hosts at a time) and restoring ones
// always allowed, so that most of the world grants most of the time.
func (w *world) planWrite(kind string, s *State, rng *rand.Rand) *plan {
	next := s.clone()
	pick := func(n int) int { return rng.IntN(n) }
	switch kind {
	case KindNamespaceLabel:
		var cands []string
		off := countFunc(w.namespaces, func(ns string) bool { return s.Namespaces[ns].Labels[admitLabel] != "yes" })
		for _, ns := range w.namespaces {
			if s.Namespaces[ns].Labels[admitLabel] != "yes" || off < 1 {
				cands = append(cands, ns)
			}
		}
		ns := cands[pick(len(cands))]
		old := s.Namespaces[ns]
		n := &Namespace{Labels: maps.Clone(old.Labels)}
		n.Labels[admitLabel] = flip(old.Labels[admitLabel], "yes", "no")
		next.Namespaces[ns] = n
		return &plan{kind: kind, key: namespaceKey(ns), next: next, call: &object{patchOld: w.namespaceObject(ns, old), patchNew: w.namespaceObject(ns, n)}}
	case KindAuthEnabled, KindAuthAllowedHosts, KindAuthDelete, KindAuthCreate:
		return w.planAuthenticator(kind, s, next, pick)
	case KindHostCreate, KindHostDelete, KindHostResourceGroup, KindHostAllowedCIDRs, KindHostLabel:
		return w.planHost(kind, s, next, pick)
	case KindSecretGrant, KindSecretExpose, KindSecretDelete, KindSecretCreate:
		return w.planSecret(kind, s, next, pick)
	}
	return nil
}

func (w *world) planAuthenticator(kind string, s, next *State, pick func(int) int) *plan {
	present := slices.DeleteFunc(slices.Clone(w.services), func(svc string) bool { return s.Authenticators[svc] == nil })
	absent := len(w.services) - len(present)
	var cands []string
	switch kind {
	case KindAuthEnabled:
		disabled := countFunc(present, func(svc string) bool { return !s.Authenticators[svc].Enabled })
		cands = slices.DeleteFunc(slices.Clone(present), func(svc string) bool { return s.Authenticators[svc].Enabled && disabled >= 1 })
	case KindAuthAllowedHosts:
		cands = present
	case KindAuthDelete:
		if absent < 1 {
			cands = present
		}
	case KindAuthCreate:
		cands = slices.DeleteFunc(slices.Clone(w.services), func(svc string) bool { return s.Authenticators[svc] != nil })
	}
	if len(cands) == 0 {
		return nil
	}
	svc := cands[pick(len(cands))]
	old := s.Authenticators[svc]
	p := &plan{kind: kind, key: authenticatorKey(svc), next: next}
	variants := w.allowedHostsVariants()
	switch kind {
	case KindAuthDelete:
		delete(next.Authenticators, svc)
		p.call = &object{remove: w.authenticatorObject(svc, old)}
		return p
	case KindAuthCreate:
		a := &Authenticator{Enabled: true, AllowedHosts: variants[pick(len(variants))]}
		next.Authenticators[svc] = a
		p.call = &object{create: w.authenticatorObject(svc, a)}
		return p
	}
	a := *old
	if kind == KindAuthEnabled {
		a.Enabled = !a.Enabled
	} else {
		for sameAllowedHosts(a.AllowedHosts, old.AllowedHosts) {
			a.AllowedHosts = variants[pick(len(variants))]
		}
	}
	next.Authenticators[svc] = &a
	p.call = &object{patchOld: w.authenticatorObject(svc, old), patchNew: w.authenticatorObject(svc, &a)}
	return p
}

func sameAllowedHosts(a, b *AllowedHosts) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.Namespace, b.Namespace) && (a.Host == nil) == (b.Host == nil) && maps.Equal(a.Host, b.Host)
}

func (w *world) planHost(kind string, s, next *State, pick func(int) int) *plan {
	present := slices.DeleteFunc(slices.Clone(w.hosts), func(id HostID) bool { return s.Hosts[id] == nil })
	absent := len(w.hosts) - len(present)
	var cands []HostID
	switch kind {
	case KindHostCreate:
		cands = slices.DeleteFunc(slices.Clone(w.hosts), func(id HostID) bool { return s.Hosts[id] != nil })
	case KindHostDelete:
		if absent < 2 {
			cands = present
		}
	case KindHostAllowedCIDRs:
		pinned := countFunc(present, func(id HostID) bool { return s.Hosts[id].Pinned })
		cands = slices.DeleteFunc(slices.Clone(present), func(id HostID) bool { return !s.Hosts[id].Pinned && pinned >= 2 })
	default:
		cands = present
	}
	if len(cands) == 0 {
		return nil
	}
	id := cands[pick(len(cands))]
	old := s.Hosts[id]
	p := &plan{kind: kind, key: hostKey(id), next: next}
	switch kind {
	case KindHostDelete:
		delete(next.Hosts, id)
		p.call = &object{remove: w.hostObject(id, old)}
		return p
	case KindHostCreate:
		h := &Host{UID: "(not yet created)", Generation: 1, ResourceGroup: w.resourceGroups[pick(2)],
			Labels: map[string]string{runLabel: w.prefix, tierLabel: []string{"gold", "silver"}[pick(2)]}}
		next.Hosts[id] = h
		p.call = &object{create: w.hostObject(id, h), host: id}
		return p
	}
	h := *old
	switch kind {
	case KindHostResourceGroup:
		h.ResourceGroup = w.resourceGroups[0]
		if old.ResourceGroup == h.ResourceGroup {
			h.ResourceGroup = w.resourceGroups[1]
		}
		h.Generation++
	case KindHostAllowedCIDRs:
		h.Pinned = !h.Pinned
		h.Generation++
	case KindHostLabel:
		h.Labels = maps.Clone(old.Labels)
		h.Labels[tierLabel] = flip(old.Labels[tierLabel], "gold", "silver")
	}
	next.Hosts[id] = &h
	p.call = &object{patchOld: w.hostObject(id, old), patchNew: w.hostObject(id, &h), host: id}
	return p
}

func (w *world) planSecret(kind string, s, next *State, pick func(int) int) *plan {
	present := slices.DeleteFunc(slices.Clone(w.secrets), func(id SecretID) bool { return s.Secrets[id] == nil })
	absent := len(w.secrets) - len(present)
	var cands []SecretID
	switch kind {
	case KindSecretCreate:
		cands = slices.DeleteFunc(slices.Clone(w.secrets), func(id SecretID) bool { return s.Secrets[id] != nil })
	case KindSecretDelete:
		if absent < 1 {
			cands = present
		}
	case KindSecretExpose:
		hidden := countFunc(present, func(id SecretID) bool { return !s.Secrets[id].Exposed })
		cands = slices.DeleteFunc(slices.Clone(present), func(id SecretID) bool { return s.Secrets[id].Exposed && hidden >= 1 })
	default:
		cands = present
	}
	if len(cands) == 0 {
		return nil
	}
	id := cands[pick(len(cands))]
	old := s.Secrets[id]
	p := &plan{kind: kind, key: secretKey(id), next: next}
	switch kind {
	case KindSecretDelete:
		delete(next.Secrets, id)
		p.call = &object{remove: w.secretObject(id, old)}
		return p
	case KindSecretCreate:
		x := &Secret{Exposed: true, AllowedHosts: grants[pick(len(grants))], Data: map[string]string{secretKey1: w.nextValue()}}
		next.Secrets[id] = x
		p.call = &object{create: w.secretObject(id, x)}
		return p
	}
	x := *old
	if kind == KindSecretExpose {
		x.Exposed = !x.Exposed
	} else {
		for x.AllowedHosts == old.AllowedHosts {
			x.AllowedHosts = grants[pick(len(grants))]
		}
	}
	next.Secrets[id] = &x
	p.call = &object{patchOld: w.secretObject(id, old), patchNew: w.secretObject(id, &x)}
	return p
}

// flip is b for a and a for anything else.
func flip(v, a, b string) string {
	if v == a {
		return b
	}
	return a
}

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

// target is what a client asks about: authenticate as host with a VM of
// resourceGroup through service, then read secret of the host's namespace.
type target struct {
	service       string
	host          HostID
	resourceGroup string
	secret        string
}

func (w *world) targets() []target {
	var out []target
	for _, svc := range w.services {
		for _, h := range w.hosts {
			for _, rg := range w.resourceGroups {
				for i := range 2 {
					out = append(out, target{service: svc, host: h, resourceGroup: rg, secret: "x" + strconv.Itoa(i)})
				}
			}
		}
	}
	return out
}

// affected are the targets whose authentication, or whose fetch with an
// access token issued under before, is decided differently under after;
// revokes is true when one of them loses a grant.
func affected(targets []target, before, after *State, account string) (hot []target, revokes bool) {
	for _, t := range targets {
		auth := Request{Route: Authenticate, Account: account, Service: t.service, Host: t.host, ResourceGroup: t.resourceGroup}
		a0, a1 := Expect(before.View(auth), auth, account), Expect(after.View(auth), auth, account)
		changed := a0.Status != a1.Status
		lost := a0.Status == http.StatusOK && a1.Status != http.StatusOK
		if a0.Status == http.StatusOK {
			f := Request{Route: Fetch, Account: account, Service: t.service, Host: t.host,
				Token: TokenRef{UID: a0.UID, Generation: a0.Generation}, Variable: Variable{t.host.Namespace, t.secret, secretKey1}}
			f0, f1 := Expect(before.View(f), f, account), Expect(after.View(f), f, account)
			changed = changed || f0 != f1
			lost = lost || f0.Status == http.StatusOK && f1.Status != http.StatusOK
		}
		if changed {
			hot = append(hot, t)
		}
		revokes = revokes || lost
	}
	return hot, revokes
}

// cleanup deletes the run's objects (namespaces last; their deletion
// leaves them terminating on a control plane without a namespace
// controller, which is harmless).
func (w *world) cleanup(ctx context.Context, c client.Client, s *State) error {
	var errs []error
	del := func(o client.Object) {
		if err := client.IgnoreNotFound(c.Delete(ctx, o)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, svc := range w.services {
		del(&authnv1alpha1.AzureAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: svc}})
	}
	for id := range s.Hosts {
		del(&authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: id.Namespace, Name: id.Name}})
	}
	for id := range s.Secrets {
		del(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: id.Namespace, Name: id.Name}})
	}
	for _, ns := range w.namespaces {
		del(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleaning up the churn world: %v", errs)
	}
	return nil
}
