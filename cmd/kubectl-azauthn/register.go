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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/armid"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
)

// AnnotationRegisteredFrom records the ARM ID a host was registered from.
// register compares it before changing a host, so that a new resource
// never silently takes over a host (and its secret grants) registered for
// another; unregister finds hosts by it.
const AnnotationRegisteredFrom = "authn.dap.io/registered-from"

const defaultFieldManager = "kubectl-azauthn"

func init() {
	addCommand(command{name: "register", summary: "Create or update the AzureHost for an Azure resource's managed identity (from `az ... show` or flags)", run: runRegister})
	addCommand(command{name: "unregister", summary: "Delete the AzureHost registered for an Azure resource", run: runUnregister})
}

// registerInput is what the command line says about the identity.
type registerInput struct {
	res                               *azResource // nil: from flags
	resourceID, principalID, tenantID string
	identity                          string // "", "system", "user" or "user=NAME"
	groupWide                         bool
}

// registration is the host to apply, before it has a namespace.
type registration struct {
	source string // the ARM ID, for AnnotationRegisteredFrom
	name   string // derived from the resource's name
	spec   authnv1alpha1.AzureHostSpec
}

// buildRegistration turns what az printed (or the flags) into a host spec.
// Every refusal is a usage error: the input is wrong, nothing is changed.
func buildRegistration(in registerInput) (*registration, error) {
	if in.res != nil && in.principalID != "" {
		return nil, usageErrorf("--principal-id comes from the az JSON; give one or the other")
	}
	source := in.resourceID
	if in.res != nil {
		source = in.res.ID
	}
	if source == "" {
		return nil, usageErrorf("give what az prints (-f FILE, or -f - for standard input) or --resource-id")
	}
	if in.groupWide {
		return groupWide(in, source)
	}
	id, err := armid.Parse(source)
	if err != nil {
		if _, _, gerr := groupOf(source); gerr == nil {
			return nil, usageErrorf("%s is a resource group: a host for every identity in it needs --resource-group-wide", source)
		}
		return nil, usageErrorf("resource id %q: %v", source, err)
	}
	var reg *registration
	if in.res == nil {
		reg, err = fromFlags(in, id)
	} else {
		reg, err = fromJSON(in, id)
	}
	if err != nil {
		return nil, err
	}
	if in.tenantID != "" {
		if reg.spec.TenantID != "" && !armid.EqualFold(reg.spec.TenantID, in.tenantID) {
			return nil, usageErrorf("--tenant-id %s differs from the identity's tenant %s", in.tenantID, reg.spec.TenantID)
		}
		reg.spec.TenantID = in.tenantID
	}
	return reg, nil
}

func fromFlags(in registerInput, id armid.ID) (*registration, error) {
	if id.IsUserAssignedIdentity() {
		if in.principalID != "" {
			return nil, usageErrorf("--principal-id is for a system-assigned identity; a user-assigned identity (%s) is matched by its name", id.Name())
		}
		if in.identity != "" && in.identity != "user" && !strings.EqualFold(in.identity, "user="+id.Name()) {
			return nil, usageErrorf("--identity %s does not name the user-assigned identity %s", in.identity, id.Name())
		}
		return &registration{source: in.resourceID, name: id.Name(), spec: authnv1alpha1.AzureHostSpec{
			SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, UserAssignedIdentity: id.Name(),
		}}, nil
	}
	if in.identity != "" && in.identity != "system" {
		return nil, usageErrorf("--identity %s needs the resource's az JSON (-f) to find the identity; or give the identity's own id as --resource-id", in.identity)
	}
	if in.principalID == "" {
		return nil, usageErrorf("missing principal id: a system-assigned identity needs --principal-id (az ... show --query identity.principalId -o tsv)")
	}
	return &registration{source: in.resourceID, name: strings.Join(id.Names, "-"), spec: authnv1alpha1.AzureHostSpec{
		SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, SystemAssignedIdentity: in.principalID,
	}}, nil
}

func fromJSON(in registerInput, id armid.ID) (*registration, error) {
	kind, ok := kindOf(id)
	if !ok {
		typ := id.Namespace + "/" + strings.Join(id.Types, "/")
		return nil, usageErrorf("unsupported resource %s (%s): register reads what these print: %s", typ, id.Name(), supportedCommands())
	}
	if kind.identity {
		return fromIdentityJSON(in, id)
	}
	if in.resourceID != "" {
		return nil, usageErrorf("--resource-id pins a user-assigned identity's host (with `az identity show` input); the resource is already %s", in.res.ID)
	}
	ident := in.res.Identity
	users, err := ident.userAssigned()
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	hasSystem := ident.has("SystemAssigned")
	if !hasSystem && len(users) == 0 {
		t := "absent"
		if ident != nil && ident.Type != "" {
			t = fmt.Sprintf("%q", ident.Type)
		}
		return nil, usageErrorf("%s has no managed identity (identity type %s): assign one first (e.g. az vm identity assign)", id.Name(), t)
	}
	choices := func() string {
		var c []string
		if hasSystem {
			c = append(c, "--identity system")
		}
		for _, u := range users {
			c = append(c, "--identity user="+u.Name())
		}
		return strings.Join(c, ", ")
	}
	var user *armid.ID
	switch sel := in.identity; {
	case sel == "":
		switch {
		case hasSystem && len(users) == 0:
		case !hasSystem && len(users) == 1:
			user = &users[0]
		default:
			return nil, usageErrorf("%s has several managed identities; choose one: %s", id.Name(), choices())
		}
	case sel == "system":
		if !hasSystem {
			return nil, usageErrorf("%s has no system-assigned identity; choose one of: %s", id.Name(), choices())
		}
	case sel == "user":
		if len(users) != 1 {
			if len(users) == 0 {
				return nil, usageErrorf("%s has no user-assigned identity; choose: %s", id.Name(), choices())
			}
			return nil, usageErrorf("%s has %d user-assigned identities; choose one: %s", id.Name(), len(users), choices())
		}
		user = &users[0]
	case strings.HasPrefix(sel, "user="):
		want := strings.TrimPrefix(sel, "user=")
		for i := range users {
			if armid.EqualFold(users[i].Name(), want) || armid.EqualFold(users[i].String(), want) {
				user = &users[i]
				break
			}
		}
		if user == nil {
			return nil, usageErrorf("%s has no user-assigned identity %q; choose one of: %s", id.Name(), want, choices())
		}
	default:
		return nil, usageErrorf("--identity must be system, user or user=NAME, not %q", sel)
	}

	reg := &registration{source: in.res.ID, name: strings.Join(id.Names, "-")}
	if user == nil {
		if ident.PrincipalID == "" {
			return nil, usageErrorf("missing principal id: %s has a system-assigned identity but identity.principalId is empty (run az ... show again once the identity exists)", id.Name())
		}
		reg.spec = authnv1alpha1.AzureHostSpec{
			SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup,
			SystemAssignedIdentity: ident.PrincipalID, TenantID: ident.TenantID,
		}
		return reg, nil
	}
	// The token of a user-assigned identity names the identity resource, so
	// the host names the identity's subscription and group, and is pinned
	// to the compute resource: the identity may be attached elsewhere too.
	reg.spec = authnv1alpha1.AzureHostSpec{
		SubscriptionID: user.SubscriptionID, ResourceGroup: user.ResourceGroup,
		UserAssignedIdentity: user.Name(), ResourceID: in.res.ID,
	}
	if ident != nil {
		// Present only with a system-assigned identity too: the resource's
		// directory, which the identity attached to it shares.
		reg.spec.TenantID = ident.TenantID
	}
	return reg, nil
}

func fromIdentityJSON(in registerInput, id armid.ID) (*registration, error) {
	if in.identity == "system" || (strings.HasPrefix(in.identity, "user=") && !armid.EqualFold(strings.TrimPrefix(in.identity, "user="), id.Name())) {
		return nil, usageErrorf("--identity %s does not name the user-assigned identity %s that the input describes", in.identity, id.Name())
	}
	reg := &registration{source: in.res.ID, name: id.Name(), spec: authnv1alpha1.AzureHostSpec{
		SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup,
		UserAssignedIdentity: id.Name(), TenantID: in.res.TenantID,
	}}
	if in.resourceID != "" {
		pin, err := armid.Parse(in.resourceID)
		if err != nil {
			return nil, usageErrorf("--resource-id %q: %v", in.resourceID, err)
		}
		if pin.IsUserAssignedIdentity() {
			return nil, usageErrorf("--resource-id must name the compute resource the identity is attached to, not an identity")
		}
		reg.spec.ResourceID = in.resourceID
	}
	return reg, nil
}

// groupWide admits every identity of a resource group: asked for by flag
// only, since it is the widest host there is.
func groupWide(in registerInput, source string) (*registration, error) {
	if in.principalID != "" || in.identity != "" {
		return nil, usageErrorf("--resource-group-wide admits every identity of the group; --principal-id and --identity narrow it, give one or the other")
	}
	sub, rg, err := groupOf(source)
	if err != nil {
		return nil, usageErrorf("resource id %q: %v", source, err)
	}
	spec := authnv1alpha1.AzureHostSpec{SubscriptionID: sub, ResourceGroup: rg}
	if in.res != nil {
		if in.res.Identity != nil {
			spec.TenantID = in.res.Identity.TenantID
		}
		if spec.TenantID == "" {
			spec.TenantID = in.res.TenantID
		}
	}
	if in.tenantID != "" {
		spec.TenantID = in.tenantID
	}
	return &registration{source: source, name: rg, spec: spec}, nil
}

// groupOf is the subscription and resource group of a resource ID or of
// a resource group's own ID (what `az group show` prints).
func groupOf(s string) (sub, rg string, err error) {
	if id, err := armid.Parse(s); err == nil {
		return id.SubscriptionID, id.ResourceGroup, nil
	}
	segs := strings.Split(strings.TrimPrefix(s, "/"), "/")
	if len(segs) == 4 && armid.EqualFold(segs[0], "subscriptions") && armid.EqualFold(segs[2], "resourceGroups") && segs[1] != "" && segs[3] != "" {
		return segs[1], segs[3], nil
	}
	return "", "", errors.New("want a resource group id /subscriptions/{id}/resourceGroups/{name} or a resource id in it")
}

// sameSource reports whether two registered-from ids name one resource,
// as Azure compares them.
func sameSource(a, b string) bool {
	ia, errA := armid.Parse(a)
	ib, errB := armid.Parse(b)
	if errA == nil && errB == nil {
		return ia.Equal(ib)
	}
	if errA == nil || errB == nil {
		return false
	}
	sa, ra, errA := groupOf(a)
	sb, rb, errB := groupOf(b)
	return errA == nil && errB == nil && armid.EqualFold(sa, sb) && armid.EqualFold(ra, rb)
}

// dnsLabel derives a host name from an Azure name: lower case, runs of
// anything but letters and digits become one '-', at most 63 characters.
func dnsLabel(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > validation.DNS1123LabelMaxLength {
		out = strings.TrimRight(out[:validation.DNS1123LabelMaxLength], "-")
	}
	return out
}

// hostObject is the host as applied: only the fields register sets, so
// that server-side apply owns exactly those.
func hostObject(reg *registration, namespace, name string, labels map[string]string) (map[string]any, error) {
	host := &authnv1alpha1.AzureHost{
		TypeMeta: metav1.TypeMeta{APIVersion: authnv1alpha1.GroupVersion.String(), Kind: "AzureHost"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace, Labels: labels,
			Annotations: map[string]string{AnnotationRegisteredFrom: reg.source},
		},
		Spec: reg.spec,
	}
	// The server's own validation, so a host it would refuse or never
	// index is refused here, with the field named.
	if _, err := compile.Host(host); err != nil {
		return nil, usageErrorf("the AzureHost would be invalid: %v", err)
	}
	b, err := json.Marshal(host)
	if err != nil {
		return nil, fmt.Errorf("encoding the host: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encoding the host: %w", err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return m, nil
}

func parseLabels(in []string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, usageErrorf("--label %q: want KEY=VALUE", kv)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, usageErrorf("--label %q: key: %s", kv, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, usageErrorf("--label %q: value: %s", kv, strings.Join(errs, "; "))
		}
		out[k] = v
	}
	return out, nil
}

// readAzJSON reads -f: a file, or standard input for "-".
func readAzJSON(path string, s streams) (*azResource, error) {
	var r io.Reader
	if path == "-" {
		r = s.In
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxAzJSON+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxAzJSON {
		return nil, usageErrorf("%s: more than %d bytes: one resource is far smaller", path, maxAzJSON)
	}
	res, err := parseAzJSON(data)
	if err != nil {
		return nil, usageErrorf("%s: %v", path, err)
	}
	return res, nil
}

func validateDryRun(v string) error {
	switch v {
	case "", "none", "client", "server":
		return nil
	}
	return usageErrorf("--dry-run must be none, client or server, not %q", v)
}

func runRegister(ctx context.Context, args []string, s streams) error {
	fs := pflag.NewFlagSet("register", pflag.ContinueOnError)
	kube := addKubeFlags(fs)
	out := addOutputFlag(fs, "")
	var (
		in                           registerInput
		file, name, dryRun, fieldMgr string
		labels                       []string
		overwrite, force, wait       bool
		timeout                      time.Duration
	)
	fs.StringVarP(&file, "filename", "f", "", "What 'az ... show -o json' printed: a file, or - for standard input.")
	fs.StringVar(&in.resourceID, "resource-id", "", "The resource's ARM ID, without az JSON; with 'az identity show' input, the compute resource to pin the identity to.")
	fs.StringVar(&in.principalID, "principal-id", "", "The system-assigned identity's principal (object) id, with --resource-id.")
	fs.StringVar(&in.tenantID, "tenant-id", "", "Pin the host to this tenant (default: the identity's tenant, when az prints it).")
	fs.StringVar(&in.identity, "identity", "", "Which identity when the resource has several: system, user, or user=NAME.")
	fs.BoolVar(&in.groupWide, "resource-group-wide", false, "Admit every managed identity of the resource's resource group (the widest host; never implied).")
	fs.StringVar(&name, "name", "", "The AzureHost's name (default: derived from the resource's name).")
	fs.StringArrayVar(&labels, "label", nil, "A label KEY=VALUE for the host, e.g. for an authenticator's hostSelector (repeatable).")
	fs.BoolVar(&overwrite, "overwrite", false, "Replace a host of that name registered for another resource (or written by hand): the new resource gets its secret grants.")
	fs.StringVar(&fieldMgr, "field-manager", defaultFieldManager, "The server-side apply field manager.")
	fs.BoolVar(&force, "force-conflicts", false, "Take over fields another field manager owns.")
	fs.StringVar(&dryRun, "dry-run", "none", "none, client (print the host; no cluster needed) or server (the API server checks it; nothing is stored).")
	fs.BoolVar(&wait, "wait", false, "Wait until the host is Ready; exit 3 with the condition's reason if it is not within --timeout.")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "How long --wait waits.")
	if err := parseFlags(fs, args, s, "register (-f FILE|- | --resource-id ID [--principal-id GUID]) [flags]"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if out.format != "" {
		if err := out.validate(); err != nil {
			return err
		}
	}
	if err := validateDryRun(dryRun); err != nil {
		return err
	}
	if timeout <= 0 {
		return usageErrorf("--timeout must be positive, not %s", timeout)
	}
	if fieldMgr == "" {
		return usageErrorf("--field-manager must not be empty")
	}
	if file != "" {
		res, err := readAzJSON(file, s)
		if err != nil {
			return err
		}
		in.res = res
	}
	reg, err := buildRegistration(in)
	if err != nil {
		return err
	}
	if name == "" {
		if name = dnsLabel(reg.name); name == "" {
			return usageErrorf("cannot derive a host name from %q; give --name", reg.name)
		}
	} else if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return usageErrorf("--name %q: %s", name, strings.Join(errs, "; "))
	}
	lbls, err := parseLabels(labels)
	if err != nil {
		return err
	}
	ns, err := kube.Namespace()
	if err != nil {
		// --dry-run=client needs no cluster, so no kubeconfig either.
		if dryRun != "client" || !clientcmd.IsEmptyConfig(errors.Unwrap(err)) {
			return err
		}
		ns = metav1.NamespaceDefault
	}
	obj, err := hostObject(reg, ns, name, lbls)
	if err != nil {
		return err
	}
	if dryRun == "client" {
		if out.format == "" {
			out.format = "yaml"
		}
		return out.print(s.Out, obj)
	}

	c, err := kube.Client()
	if err != nil {
		return err
	}
	var dry []client.DeleteOption
	applyOpts := []client.ApplyOption{client.FieldOwner(fieldMgr)}
	if dryRun == "server" {
		dry = append(dry, client.DryRunAll)
		applyOpts = append(applyOpts, client.DryRunAll)
	}
	if force {
		applyOpts = append(applyOpts, client.ForceOwnership)
	}

	// The check that keeps a new resource from inheriting another host.
	// Between this read and the apply another writer could still create
	// the host; the annotation then shows which registration won.
	var existing authnv1alpha1.AzureHost
	switch err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &existing); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading azurehost %s/%s: %w", ns, name, err)
	default:
		from, annotated := existing.Annotations[AnnotationRegisteredFrom]
		if !annotated || !sameSource(from, reg.source) {
			was := "was not registered by this command"
			if annotated {
				was = "is registered for " + from
			}
			if !overwrite {
				return fmt.Errorf("azurehost %s/%s already exists and %s, not %s: refusing, since this resource would inherit that host's secret grants; pass --overwrite to replace it, or --name to choose another name", ns, name, was, reg.source)
			}
			// Replace rather than merge: an apply would keep the other
			// owner's fields (say, an identity of the other kind) and
			// build a host nobody asked for.
			uid := existing.UID
			if err := c.Delete(ctx, &existing, append(dry, client.Preconditions{UID: &uid})...); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("replacing azurehost %s/%s: %w", ns, name, err)
			}
			if dryRun == "server" {
				// The dry-run delete left the old host in place, so an
				// apply would show it merged; show what would be created.
				return printApplied(s.Out, out, obj, ns, name, "replaced (server dry run)")
			}
		}
	}

	u := &unstructured.Unstructured{Object: obj}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), applyOpts...); err != nil {
		if apierrors.IsConflict(err) && !force {
			return fmt.Errorf("applying azurehost %s/%s: %w (another field manager owns those fields; --force-conflicts takes them over)", ns, name, err)
		}
		return fmt.Errorf("applying azurehost %s/%s: %w", ns, name, err)
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	verb := "applied"
	if dryRun == "server" {
		verb = "applied (server dry run)"
	}
	if !wait || dryRun == "server" {
		return printApplied(s.Out, out, u.Object, ns, name, verb)
	}
	if out.format == "" {
		if err := printApplied(s.Out, out, nil, ns, name, verb); err != nil {
			return err
		}
	}
	// With -o the object is printed once Ready, status included, so that
	// standard output stays one document.
	h, err := waitReady(ctx, c, client.ObjectKey{Namespace: ns, Name: name}, u.GetGeneration(), timeout)
	if err != nil {
		return err
	}
	if out.format != "" {
		h.APIVersion, h.Kind = authnv1alpha1.GroupVersion.String(), "AzureHost"
		h.ManagedFields = nil
		return out.print(s.Out, h)
	}
	cond := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady)
	_, err = fmt.Fprintf(s.Out, "azurehost.authn.dap.io/%s is Ready (%s)\n", name, cond.Reason)
	return err
}

func printApplied(w io.Writer, out *outputFlag, obj map[string]any, ns, name, verb string) error {
	if out.format != "" {
		return out.print(w, obj)
	}
	_, err := fmt.Fprintf(w, "azurehost.authn.dap.io/%s %s in namespace %s (logs in as host/%s/%s)\n", name, verb, ns, ns, name)
	return err
}

// waitReady polls the host until the controller has seen generation gen
// and says Ready=True. InvalidSpec for that generation is final; any
// other reason may still change (an authenticator being created), so it
// waits out the timeout.
func waitReady(ctx context.Context, c client.Client, key client.ObjectKey, gen int64, timeout time.Duration) (*authnv1alpha1.AzureHost, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	// The last condition seen outranks a failed read: near the deadline
	// the client refuses to start a request it could not finish.
	var last, readErr string
	for {
		var h authnv1alpha1.AzureHost
		err := c.Get(ctx, key, &h)
		switch {
		case err == nil:
			cond := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady)
			if h.Status.ObservedGeneration < gen || cond == nil || cond.ObservedGeneration < gen {
				break
			}
			last = fmt.Sprintf("Ready=%s, reason %s: %s", cond.Status, cond.Reason, cond.Message)
			if cond.Status == metav1.ConditionTrue {
				return &h, nil
			}
			if cond.Reason == authnv1alpha1.ReasonInvalidSpec {
				return nil, withCode(exitNotSatisfied, fmt.Errorf("azurehost %s is not Ready: %s", key, last))
			}
		case ctx.Err() == nil:
			readErr = fmt.Sprintf("reading it failed: %v", err)
		}
		select {
		case <-ctx.Done():
			why := last
			if why == "" {
				why = readErr
			}
			if why == "" {
				why = "the controller has not reported on it yet (is the manager running?)"
			}
			return nil, withCode(exitNotSatisfied, fmt.Errorf("azurehost %s not Ready within %s: %s", key, timeout, why))
		case <-tick.C:
		}
	}
}

func runUnregister(ctx context.Context, args []string, s streams) error {
	fs := pflag.NewFlagSet("unregister", pflag.ContinueOnError)
	kube := addKubeFlags(fs)
	var (
		file, resourceID, name, dryRun string
		ignoreNotFound                 bool
	)
	fs.StringVarP(&file, "filename", "f", "", "What 'az ... show -o json' printed for the resource: a file, or - for standard input.")
	fs.StringVar(&resourceID, "resource-id", "", "The resource's ARM ID (or, for a --resource-group-wide host, the group's).")
	fs.StringVar(&name, "name", "", "Delete only this host, and only if it was registered for the resource (default: every host registered for it).")
	fs.BoolVar(&ignoreNotFound, "ignore-not-found", false, "Succeed when no host is registered for the resource (for re-runs).")
	fs.StringVar(&dryRun, "dry-run", "none", "none, client (list what would be deleted) or server (the API server checks the deletion; nothing is deleted).")
	if err := parseFlags(fs, args, s, "unregister (-f FILE|- | --resource-id ID) [flags]"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if err := validateDryRun(dryRun); err != nil {
		return err
	}
	source := resourceID
	if file != "" {
		if resourceID != "" {
			return usageErrorf("give -f or --resource-id, not both")
		}
		res, err := readAzJSON(file, s)
		if err != nil {
			return err
		}
		source = res.ID
	}
	if source == "" {
		return usageErrorf("give what az prints (-f FILE, or -f - for standard input) or --resource-id")
	}
	if _, _, err := groupOf(source); err != nil {
		return usageErrorf("resource id %q: %v", source, err)
	}
	ns, err := kube.Namespace()
	if err != nil {
		return err
	}
	c, err := kube.Client()
	if err != nil {
		return err
	}

	var hosts []authnv1alpha1.AzureHost
	if name != "" {
		var h authnv1alpha1.AzureHost
		switch err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &h); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading azurehost %s/%s: %w", ns, name, err)
		default:
			if from := h.Annotations[AnnotationRegisteredFrom]; !sameSource(from, source) {
				return fmt.Errorf("azurehost %s/%s is not registered for %s (its %s is %q): not deleting it", ns, name, source, AnnotationRegisteredFrom, from)
			}
			hosts = append(hosts, h)
		}
	} else {
		var list authnv1alpha1.AzureHostList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("listing azurehosts in %s: %w", ns, err)
		}
		for _, h := range list.Items {
			if from, ok := h.Annotations[AnnotationRegisteredFrom]; ok && sameSource(from, source) {
				hosts = append(hosts, h)
			}
		}
	}
	if len(hosts) == 0 {
		if ignoreNotFound {
			return nil
		}
		return fmt.Errorf("no azurehost in namespace %s is registered for %s", ns, source)
	}
	for i := range hosts {
		h := &hosts[i]
		verb := "deleted"
		switch dryRun {
		case "client":
			verb = "deleted (dry run)"
		case "server":
			verb = "deleted (server dry run)"
			fallthrough
		default:
			opts := []client.DeleteOption{client.Preconditions{UID: &h.UID}}
			if dryRun == "server" {
				opts = append(opts, client.DryRunAll)
			}
			if err := c.Delete(ctx, h, opts...); err != nil {
				if apierrors.IsNotFound(err) && ignoreNotFound {
					continue
				}
				return fmt.Errorf("deleting azurehost %s/%s: %w", ns, h.Name, err)
			}
		}
		if _, err := fmt.Fprintf(s.Out, "azurehost.authn.dap.io/%s %s from namespace %s\n", h.Name, verb, ns); err != nil {
			return err
		}
	}
	return nil
}
