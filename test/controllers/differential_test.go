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

package controllerstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
)

// Issue 12: admission and compilation agree. Generated AzureHost and
// AzureAuthenticator objects go to the API server (OpenAPI schema + CEL,
// server-side dry run, so nothing is stored) and to internal/compile.
// Every object the API server accepts must compile, and every object that
// compile refuses must have been refused at apply: otherwise an operator's
// kubectl apply succeeds and the object then sits at Ready=False/InvalidSpec.
// The converse (the API server is stricter than compile) is allowed and only
// counted.

const (
	diffDefaultSeed   = 20260412
	diffHostCount     = 600
	diffAuthCount     = 600
	diffWorkers       = 4
	diffShowExamples  = 3
	diffMaxReported   = 10
	diffNamespace     = "default"
	diffAPIVersion    = "authn.dap.io/v1alpha1"
	diffKindHost      = "AzureHost"
	diffKindAuth      = "AzureAuthenticator"
	diffRequestBudget = 30 * time.Second
)

// diffSeed is DIFF_SEED when set (to reproduce a failure), else a fixed
// seed so that CI runs are repeatable.
func diffSeed(t *testing.T) uint64 {
	t.Helper()
	s := os.Getenv("DIFF_SEED")
	if s == "" {
		return diffDefaultSeed
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("DIFF_SEED=%q: %v", s, err)
	}
	return seed
}

// diffVerdict is one side's answer for one object.
type diffVerdict struct {
	accepted bool
	reason   string
}

func (v diffVerdict) String() string {
	if v.accepted {
		return "accepted"
	}
	return "refused: " + v.reason
}

// diffObject is a generated object as the API server receives it: plain
// JSON values, so that raw strings (durations, empty lists) arrive exactly
// as written rather than as the typed client would re-encode them.
type diffObject map[string]any

func (o diffObject) kind() string { return o["kind"].(string) }

func (o diffObject) yaml() string {
	b, err := yaml.Marshal(map[string]any(o))
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// diffAPIVerdict asks the API server with a server-side dry-run create. It
// returns the object the API server would have stored (defaults applied)
// when it accepts. Only 400 and 422 count as refusals: anything else (a
// 500, a timeout) fails the test, since a client mistake must never cause one.
func diffAPIVerdict(ctx context.Context, obj diffObject) (diffVerdict, diffObject, error) {
	u := &unstructured.Unstructured{Object: deepCopyJSON(obj)}
	err := k8s.Create(ctx, u, client.DryRunAll)
	switch {
	case err == nil:
		return diffVerdict{accepted: true}, diffObject(u.Object), nil
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return diffVerdict{reason: err.Error()}, nil, nil
	default:
		return diffVerdict{}, nil, fmt.Errorf("dry-run create: %w", err)
	}
}

// diffCompileVerdict decodes obj the way the manager's informers do
// (JSON into the Go types) and compiles it. A decode failure is a refusal:
// the manager could not even read the object.
func diffCompileVerdict(obj diffObject) (diffVerdict, error) {
	raw, err := json.Marshal(map[string]any(obj))
	if err != nil {
		return diffVerdict{reason: "encode: " + err.Error()}, nil
	}
	switch obj.kind() {
	case diffKindHost:
		var h authnv1alpha1.AzureHost
		if err := json.Unmarshal(raw, &h); err != nil {
			return diffVerdict{reason: "decode: " + err.Error()}, nil
		}
		_, err = compile.Host(&h)
	default:
		var a authnv1alpha1.AzureAuthenticator
		if err := json.Unmarshal(raw, &a); err != nil {
			return diffVerdict{reason: "decode: " + err.Error()}, nil
		}
		_, err = compile.Authenticator(&a)
	}
	if err != nil {
		return diffVerdict{reason: err.Error()}, err
	}
	return diffVerdict{accepted: true}, nil
}

// diffKnownGap says why a compile refusal of an object the API server
// accepted is a documented limit of admission rather than a bug, or "" when
// it is not. Two remain, both beyond what a CRD's CEL can check:
//   - label key and value syntax in allowedHosts' selectors: these are
//     metav1.LabelSelector, whose strings and lists carry no maxLength or
//     maxItems, so a rule that runs a regex (or format.qualifiedName) over
//     them exceeds the CRD's static cost budget by over 100x and the CRD is
//     refused. Operators and value counts are checked by CEL; the syntax
//     only by compile (InvalidSpec, not indexed: fails closed);
//   - the DER inside a caBundle's PEM CERTIFICATE block: CEL refuses a
//     bundle without one, but cannot parse X.509.
//
// Every field error in compile's answer must be one of these; one other
// error makes it a disagreement.
func diffKnownGap(obj diffObject, compileErr error) string {
	var agg utilerrors.Aggregate
	if !errors.As(compileErr, &agg) {
		return ""
	}
	var reasons []string
	for _, e := range agg.Errors() {
		var fe *field.Error
		if !errors.As(e, &fe) || fe.Type != field.ErrorTypeInvalid {
			return ""
		}
		switch {
		case fe.Field == "spec.allowedHosts.namespaceSelector" || fe.Field == "spec.allowedHosts.hostSelector":
			for _, checked := range []string{"not a valid label selector operator", "values set can't be empty", "values set must be empty"} {
				if strings.Contains(fe.Detail, checked) {
					return "" // CEL checks these
				}
			}
			reasons = append(reasons, "label key/value syntax")
		case diffCABundlePath.MatchString(fe.Field) && strings.Contains(fe.Detail, "contains no PEM certificate"):
			m := diffCABundlePath.FindStringSubmatch(fe.Field)
			i, _ := strconv.Atoi(m[1])
			if !diffArmoured(obj, i) {
				return "" // CEL checks for the armour
			}
			reasons = append(reasons, "certificate DER")
		default:
			return ""
		}
	}
	return strings.Join(reasons, ", ")
}

// diffArmoured reports whether provider i's caBundle has a PEM
// CERTIFICATE block's armour, all that CEL can check of it.
func diffArmoured(obj diffObject, i int) bool {
	spec, _ := obj["spec"].(map[string]any)
	provs, _ := spec["providers"].([]any)
	if i >= len(provs) {
		return false
	}
	p, _ := provs[i].(map[string]any)
	ca, _ := p["caBundle"].(string)
	return strings.Contains(ca, "-----BEGIN CERTIFICATE-----") && strings.Contains(ca, "-----END CERTIFICATE-----")
}

var diffCABundlePath = regexp.MustCompile(`^spec\.providers\[(\d+)\]\.caBundle$`)

// diffOutcome is one object's pair of verdicts.
type diffOutcome struct {
	obj      diffObject
	api      diffVerdict
	compiled diffVerdict
	// storedCompiled is compile's verdict on what the API server would
	// store (after defaulting and pruning), when it accepted.
	storedCompiled diffVerdict
	// knownGap explains, when the API server accepted, every compile
	// refusal; bad is set when some refusal has no such explanation.
	knownGap string
	bad      bool
}

func diffEvaluate(ctx context.Context, obj diffObject) (diffOutcome, error) {
	out := diffOutcome{obj: obj}
	api, stored, err := diffAPIVerdict(ctx, obj)
	if err != nil {
		return out, err
	}
	out.api = api
	compiled, cerr := diffCompileVerdict(obj)
	out.compiled = compiled
	if !api.accepted {
		return out, nil // refused at apply: compile may say anything
	}
	storedCompiled, serr := diffCompileVerdict(stored)
	out.storedCompiled = storedCompiled
	for _, side := range []struct {
		v   diffVerdict
		err error
		obj diffObject
	}{{compiled, cerr, obj}, {storedCompiled, serr, stored}} {
		if side.v.accepted {
			continue
		}
		gap := diffKnownGap(side.obj, side.err)
		if gap == "" {
			out.bad, out.knownGap = true, ""
			return out, nil
		}
		out.knownGap = gap
	}
	return out, nil
}

// disagrees reports whether the pair breaks the invariant.
func (o diffOutcome) disagrees() bool { return o.bad }

func (o diffOutcome) report() string {
	s := fmt.Sprintf("API server: %v\ncompile:    %v\n", o.api, o.compiled)
	if o.api.accepted {
		s += fmt.Sprintf("compile of the stored object: %v\n", o.storedCompiled)
	}
	return s + "object:\n" + o.obj.yaml()
}

// diffRun evaluates objs with a few workers and checks the invariant.
func diffRun(t *testing.T, objs []diffObject) []diffOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), diffRequestBudget*time.Duration(1+len(objs)/200))
	defer cancel()
	outcomes := make([]diffOutcome, len(objs))
	errs := make([]error, len(objs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range diffWorkers {
		wg.Go(func() {
			for i := range next {
				outcomes[i], errs[i] = diffEvaluate(ctx, objs[i])
			}
		})
	}
	for i := range objs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("object %d: %v\n%s", i, err, objs[i].yaml())
		}
	}
	return outcomes
}

// diffSummarise logs the totals and a few examples of each kind, and fails
// on every disagreement (the first few printed in full).
func diffSummarise(t *testing.T, seed uint64, kind string, outcomes []diffOutcome) {
	t.Helper()
	var apiOK, compileOK, both, stricter, gaps, bad int
	var stricterEx, gapEx []string
	for _, o := range outcomes {
		if o.api.accepted {
			apiOK++
		}
		if o.compiled.accepted {
			compileOK++
		}
		if o.api.accepted && o.compiled.accepted {
			both++
		}
		switch {
		case o.disagrees():
			bad++
			if bad <= diffMaxReported {
				t.Errorf("%s: the API server accepted what compile refuses:\n%s", kind, o.report())
			}
		case o.knownGap != "":
			gaps++
			if len(gapEx) < diffShowExamples {
				gapEx = append(gapEx, fmt.Sprintf("[%s] %s", o.knownGap, o.compiled.reason))
			}
		case !o.api.accepted && o.compiled.accepted:
			stricter++
			if len(stricterEx) < diffShowExamples {
				stricterEx = append(stricterEx, firstLine(o.api.reason))
			}
		}
	}
	t.Logf("%s: %d objects; API server accepted %d, refused %d; compile accepted %d, refused %d; both accepted %d",
		kind, len(outcomes), apiOK, len(outcomes)-apiOK, compileOK, len(outcomes)-compileOK, both)
	t.Logf("%s: API server stricter than compile (allowed): %d, e.g. %q", kind, stricter, stricterEx)
	t.Logf("%s: documented gaps (API accepted, compile refused for a reason CEL cannot check): %d, e.g. %q", kind, gaps, gapEx)
	if bad > 0 {
		t.Errorf("%s: %d disagreements (first %d shown); reproduce with DIFF_SEED=%d", kind, bad, min(bad, diffMaxReported), seed)
	}
	// A generator that produced nothing but refusals, or nothing but valid
	// objects, would prove nothing.
	if apiOK < len(outcomes)/10 || len(outcomes)-apiOK < len(outcomes)/10 {
		t.Errorf("%s: the generator is unbalanced: %d of %d accepted", kind, apiOK, len(outcomes))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func TestDifferentialAdmissionAndCompileAgreeOnHosts(t *testing.T) {
	seed := diffSeed(t)
	t.Logf("DIFF_SEED=%d", seed)
	g := newDiffGen(seed)
	objs := make([]diffObject, diffHostCount)
	for i := range objs {
		objs[i] = g.host(i)
	}
	start := time.Now()
	outcomes := diffRun(t, objs)
	t.Logf("AzureHost: %d dry-run creates and compiles in %v", len(objs), time.Since(start).Round(time.Millisecond))
	diffSummarise(t, seed, diffKindHost, outcomes)
}

func TestDifferentialAdmissionAndCompileAgreeOnAuthenticators(t *testing.T) {
	seed := diffSeed(t)
	t.Logf("DIFF_SEED=%d", seed)
	g := newDiffGen(seed)
	objs := make([]diffObject, diffAuthCount)
	for i := range objs {
		objs[i] = g.authenticator(i)
	}
	start := time.Now()
	outcomes := diffRun(t, objs)
	t.Logf("AzureAuthenticator: %d dry-run creates and compiles in %v", len(objs), time.Since(start).Round(time.Millisecond))
	diffSummarise(t, seed, diffKindAuth, outcomes)
}

// TestDifferentialRegressions holds the smallest counter-example of each
// disagreement the generator found, so that each stays fixed whatever the
// seed. Each failed before its fix: the API server accepted an object that
// compile refused, or compile refused one the API server rightly accepted.
func TestDifferentialRegressions(t *testing.T) {
	vm := "/subscriptions/" + subscription + "/resourceGroups/rg-apps/providers/Microsoft.Compute/virtualMachines/"
	cert := diffCertPEM()
	host := func(mutate func(*authnv1alpha1.AzureHost)) client.Object {
		return newHost(diffNamespace, "diff-regression", mutate)
	}
	auth := func(mutate func(*authnv1alpha1.AzureAuthenticator)) client.Object {
		return newAuthenticator("diff-regression", map[string]string{"team": "a"}, mutate)
	}
	selector := func(op metav1.LabelSelectorOperator, values ...string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: op, Values: values}}}
	}
	tests := []struct {
		name   string
		obj    client.Object
		accept bool
		want   string // part of the API server's message when it refuses
	}{
		// RE2's (?i) folds U+017F (long s) to s: the API server took the
		// keyword, armid (ASCII folding, as Azure) did not.
		{"resource ID keyword with a long s", host(func(h *authnv1alpha1.AzureHost) {
			h.Spec.UserAssignedIdentity = "id-app"
			h.Spec.ResourceID = strings.Replace(vm, "subscriptions", "subſcriptions", 1) + "vm-1"
		}), false, "must be a full ARM resource ID"},
		{"resource ID with a control character", host(func(h *authnv1alpha1.AzureHost) {
			h.Spec.ResourceID = vm + "vm-1\t"
		}), false, "without control characters"},
		// maxLength counts characters, armid.Parse bytes.
		{"resource ID under 1024 characters but over 1024 bytes", host(func(h *authnv1alpha1.AzureHost) {
			h.Spec.ResourceID = vm + strings.Repeat("é", 500)
		}), false, "must be at most 1024 bytes"},
		{"provider with user info", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "https://user@127.0.0.1:8400/" + tenant + "/"
		}), false, "must not contain user info"},
		// getQuery() drops keys it cannot parse, so the query looked empty.
		{"provider with a query that parses to nothing", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "https://127.0.0.1:8400/?;/" + tenant + "/"
		}), false, "must be an https URL without query or fragment"},
		{"provider URI of 2048 characters, more bytes", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].URI = "https://127.0.0.1:8400/" + strings.Repeat("é", 2048-len("https://127.0.0.1:8400/")-38) + "/" + tenant + "/"
		}), true, ""},
		{"audience of 256 characters, more bytes", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Audiences = []string{strings.Repeat("é", 256)}
		}), true, ""},
		{"caBundle that is not PEM", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].CABundle = "/etc/ssl/certs/ca.pem"
		}), false, "must be PEM text with at least one certificate"},
		{"caBundle under 65536 characters but over 64 KiB", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].CABundle = strings.Repeat("é", 33000) + "\n" + cert
		}), false, "must be at most 64 KiB"},
		{"namespace selector with an unknown operator", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.AllowedHosts.NamespaceSelector = selector("in", "a")
		}), false, "must be In, NotIn, Exists or DoesNotExist"},
		{"host selector In without values", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.AllowedHosts.HostSelector = selector(metav1.LabelSelectorOpIn)
		}), false, "In and NotIn need at least one value"},
		{"host selector Exists with values", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.AllowedHosts.HostSelector = selector(metav1.LabelSelectorOpExists, "a")
		}), false, "Exists and DoesNotExist take none"},
		// Controls: the valid neighbours of the cases above.
		{"control: resource ID keywords in any ASCII case", host(func(h *authnv1alpha1.AzureHost) {
			h.Spec.ResourceID = strings.ToUpper(vm[:60]) + vm[60:] + "vm-1"
		}), true, ""},
		{"control: caBundle with a certificate", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.Providers[0].CABundle = "# private CA\n" + cert
		}), true, ""},
		{"control: selectors with every operator", auth(func(a *authnv1alpha1.AzureAuthenticator) {
			a.Spec.AllowedHosts.NamespaceSelector = selector(metav1.LabelSelectorOpNotIn, "a", "b")
			a.Spec.AllowedHosts.HostSelector = selector(metav1.LabelSelectorOpDoesNotExist)
		}), true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := diffObjectOf(t, tc.obj)
			out, err := diffEvaluate(context.Background(), obj)
			if err != nil {
				t.Fatal(err)
			}
			if out.api.accepted != tc.accept || out.compiled.accepted != tc.accept || out.disagrees() {
				t.Fatalf("want both sides to have %s:\n%s", map[bool]string{true: "accepted", false: "refused"}[tc.accept], out.report())
			}
			if !tc.accept && !strings.Contains(out.api.reason, tc.want) {
				t.Errorf("the API server's message %q does not mention %q", out.api.reason, tc.want)
			}
		})
	}
}

// diffObjectOf turns a typed object into the JSON values the generator
// produces, as the typed client would send it.
func diffObjectOf(t *testing.T, obj client.Object) diffObject {
	t.Helper()
	gvks, _, err := k8s.Scheme().ObjectKinds(obj)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["apiVersion"], m["kind"] = gvks[0].GroupVersion().String(), gvks[0].Kind
	return diffObject(m)
}

// ---------------------------------------------------------------------------
// The generator. Each field is drawn from valid values and near misses.
// Each object has its own near-miss rate: none for about a third (valid
// throughout, which exercises "accepted => compiles"), up to diffMaxMiss for
// the others, so most invalid objects break one or two rules and a
// disagreement is easy to read.

const diffMaxMiss = 0.15

// diffAbsent marks a field left out of the object.
const diffAbsent = "\x00<absent>"

type diffGen struct {
	r    *rand.Rand
	cert string  // a PEM certificate that parses
	miss float64 // the current object's near-miss rate
}

// next starts an object: it draws the object's near-miss rate.
func (g *diffGen) next() {
	g.miss = 0
	if g.r.Float64() >= 0.35 {
		g.miss = 0.02 + g.r.Float64()*(diffMaxMiss-0.02)
	}
}

func newDiffGen(seed uint64) *diffGen {
	return &diffGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cert: diffCertPEM()}
}

// pick returns one of valid, or with the object's near-miss rate one of miss.
func (g *diffGen) pick(valid, miss []string) string {
	if len(miss) > 0 && g.r.Float64() < g.miss {
		return miss[g.r.IntN(len(miss))]
	}
	return valid[g.r.IntN(len(valid))]
}

func (g *diffGen) chance(p float64) bool { return g.r.Float64() < p }

// rare is a near miss of its own (a count, a duplicate, a missing part)
// with probability p, in objects that have near misses at all.
func (g *diffGen) rare(p float64) bool { return g.miss > 0 && g.chance(p) }

func (g *diffGen) guid() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 36)
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
		default:
			b[i] = hex[g.r.IntN(16)]
		}
	}
	return string(b)
}

// guidField returns a GUID in some spelling, or a near miss.
func (g *diffGen) guidField(base string) string {
	mixed := []byte(base)
	for i := range mixed {
		if g.chance(0.5) {
			mixed[i] = strings.ToUpper(string(mixed[i]))[0]
		}
	}
	return g.pick(
		[]string{base, strings.ToUpper(base), string(mixed)},
		[]string{
			"{" + base + "}",
			base[:35],
			base + "0",
			strings.ReplaceAll(base, "-", ""),
			base[:9] + "-" + base[9:13] + base[14:],
			"g" + base[1:],
			" " + base,
			base + "\n",
			"urn:uuid:" + base,
			base[:35] + "\u0661", // an Arabic-Indic digit one
			base[:35] + "Ａ",      // a full-width A
			"",
		})
}

func (g *diffGen) host(i int) diffObject {
	g.next()
	spec := map[string]any{}
	sub := g.guidField(g.guid())
	set(spec, "subscriptionID", sub)

	rg := g.pick(
		[]string{
			"rg-apps", "r", "RG_Apps", "Prod-Ünïcode_(eu).1", "日本語のリソース", "(rg)", "rg.1.2-", "123",
			"१२३", "ǅungla", "ʰost", strings.Repeat("r", 90), strings.Repeat("é", 90), "a.b", "Rg-Apps",
		},
		[]string{
			"", strings.Repeat("r", 91), strings.Repeat("é", 91), "rg.", ".", "rg/other", " rg", "rg ",
			"rg\n", "rg😀", "rg!", "rg%", "rg²", "rgⅠ", "re\u0301sumé", "rg\x00", "rg\u00a0", "rg:1",
		})
	set(spec, "resourceGroup", rg)

	// Most hosts have one identity; a few have both, to probe the CEL rule.
	switch n := g.r.IntN(10); {
	case n < 3:
	case n < 6:
		set(spec, "userAssignedIdentity", g.userAssigned())
	case n < 9:
		set(spec, "systemAssignedIdentity", g.guidField(g.guid()))
	default:
		set(spec, "userAssignedIdentity", g.userAssigned())
		set(spec, "systemAssignedIdentity", g.guidField(g.guid()))
	}
	if g.chance(0.4) {
		set(spec, "tenantID", g.guidField(g.guid()))
	}
	if g.chance(0.5) {
		set(spec, "resourceID", g.resourceID(sub, rg))
	}
	if g.chance(0.5) {
		spec["allowedCIDRs"] = g.cidrs()
	}
	meta := map[string]any{"namespace": diffNamespace, "name": fmt.Sprintf("diff-host-%d", i)}
	if g.chance(0.3) {
		meta["labels"] = g.labels()
	}
	return diffObject{"apiVersion": diffAPIVersion, "kind": diffKindHost, "metadata": meta, "spec": spec}
}

// set stores v under k unless it is diffAbsent. An empty string is sent as
// such: the typed client would omit it, but kubectl apply would not.
func set(m map[string]any, k, v string) {
	if v != diffAbsent {
		m[k] = v
	}
}

func (g *diffGen) userAssigned() string {
	return g.pick(
		[]string{"id-app", "abc", "ID_APP", "0ab", "id-billing-api", strings.Repeat("a", 128), g.guid(), "a--_"},
		[]string{
			"id", strings.Repeat("a", 129), "-id", "_id", "id.app", "id app", "idé", "ＩＤapp", "",
			"/subscriptions/" + g.guid() + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app",
			"id-app\n", "id\u212aapp",
		})
}

// resourceID assembles an ARM ID from parts, each valid or a near miss:
// keyword spellings (including the Unicode case folds of s and k), the
// host's own subscription and resource group in other cases or others,
// empty and control-character segments, odd type/name counts, and IDs
// longer than 1024 bytes but not 1024 characters.
func (g *diffGen) resourceID(sub, rg string) string {
	if g.chance(0.05) {
		return g.pick([]string{diffAbsent}, []string{"vm-1", "/subscriptions/x", "", "/"})
	}
	lead := g.pick([]string{"/"}, []string{"", "//"})
	kwSub := g.pick([]string{"subscriptions", "SUBSCRIPTIONS", "Subscriptions"}, []string{"subscription", "subſcriptions", "ſubscriptions", "subscriptionſ"})
	s := g.pick([]string{sub, strings.ToUpper(sub), strings.ToLower(sub), g.guid()}, []string{"not-a-guid", "", "{" + sub + "}"})
	kwRG := g.pick([]string{"resourceGroups", "resourcegroups", "RESOURCEGROUPS"}, []string{"resourceGroup", "reſourceGroups", "resource groups"})
	r := g.pick([]string{rg, strings.ToUpper(rg), strings.ToLower(rg), "rg-other", "Ünïcode"}, []string{"", "rg\x01", "rg\t", "rg\x7f"})
	kwProv := g.pick([]string{"providers", "Providers", "PROVIDERS"}, []string{"provider", "providerſ", "pro\u212aviders"})
	ns := g.pick([]string{"Microsoft.Compute", "microsoft.compute", "Microsoft.Web"}, []string{"", "Micro\x00soft"})
	var b strings.Builder
	b.WriteString(lead + kwSub + "/" + s + "/" + kwRG + "/" + r + "/" + kwProv + "/" + ns)
	pairs := 1 + g.r.IntN(3)
	for p := range pairs {
		typ := g.pick([]string{"virtualMachines", "sites", "slots", "userAssignedIdentities"}, []string{"", "type\x1f"})
		name := g.pick([]string{"vm-1", "app", "staging", "Ünï cøde", "a%20b"}, []string{"", "vm\x00", "vm\n", "vm\u0085"})
		b.WriteString("/" + typ)
		if p == pairs-1 && g.rare(0.05) {
			break // an odd number of segments after the namespace
		}
		b.WriteString("/" + name)
	}
	if g.rare(0.04) {
		b.WriteString("/")
	}
	if g.rare(0.04) {
		// Pad the last name with 'é' (2 bytes) to about 1000 characters:
		// under 1024 characters, over 1024 bytes.
		n := max(0, 1000-len([]rune(b.String())))
		b.WriteString(strings.Repeat("é", n))
	}
	if g.rare(0.01) {
		b.WriteString(strings.Repeat("x", 1025))
	}
	return b.String()
}

func (g *diffGen) cidrs() []any {
	valid := []string{
		"10.0.0.0/16", "192.0.2.7", "2001:db8::/32", "::1", "0.0.0.0/0", "::/0", "1.2.3.4/32",
		"2001:db8::1/128", "64:ff9b::/96", "fd00::/8", "127.0.0.1",
	}
	miss := []string{
		"10.0.0.1/8", "10.0.0.0/33", "office", "010.0.0.1", "fe80::1%eth0", "::ffff:10.0.0.0/104",
		"::ffff:192.0.2.8", "::ffff:192.0.2.8/128", "1.2.3.4/", "/8", " 10.0.0.0/8", "10.0.0.0/8 ",
		"10.0.0.0/08", "1.2.3", "1.2.3.4.5", "", "2001:db8::/129", "2001:0db8:0000:0000:0000:0000:0000:0001",
		"0:0:0:0:0:ffff:255.255.255.255", "1.2.3.4/-1", "[::1]", "10.0.0.0/8/8",
	}
	n := g.r.IntN(4)
	if g.rare(0.05) {
		n = 33
	}
	out := make([]any, 0, n)
	seen := map[string]bool{}
	for i := range n {
		var v string
		if n > 32 {
			v = "10." + strconv.Itoa(i) + ".0.0/16"
		} else {
			v = g.pick(valid, miss)
		}
		if seen[v] && g.chance(0.8) {
			continue // duplicates only sometimes: the set refuses them
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

func (g *diffGen) labels() map[string]any {
	key := g.pick([]string{"tier", "example.com/team", "app.kubernetes.io/name", "a"}, []string{"-bad", "a/b/c", strings.Repeat("k", 64), "ünï"})
	val := g.pick([]string{"prod", "", "a-b_c.d", strings.Repeat("v", 63)}, []string{"-bad", strings.Repeat("v", 64), "a b"})
	return map[string]any{key: val}
}

func (g *diffGen) authenticator(i int) diffObject {
	g.next()
	spec := map[string]any{}
	n := 1 + g.r.IntN(3)
	switch {
	case g.rare(0.03):
		n = 0
	case g.rare(0.03):
		n = 17
	}
	provs := make([]any, 0, n)
	for range n {
		provs = append(provs, g.provider(n > 16))
	}
	if n > 1 && g.rare(0.05) {
		provs[1] = provs[0] // the same issuer twice
	}
	if n > 0 || g.chance(0.5) {
		spec["providers"] = provs
	}
	if g.chance(0.5) {
		spec["audiences"] = g.audiences()
	}
	if g.chance(0.5) {
		set(spec, "tokenTTL", g.pick(
			[]string{"8m", "1m", "1h", "60m", "3600s", "1m0s", "59m59s", "90s", "+5m", "0.5h"},
			[]string{"59s", "1h0m0.001s", "61m", "0", "-1m", "1d", "garbage", "", "1m ", " 1m", "1e3s",
				strings.Repeat("0", 30) + "1m", "5", "1M", "1µs", "PT8M"}))
	}
	if g.chance(0.5) {
		set(spec, "clockSkew", g.pick(
			[]string{"0s", "0", "60s", "5m", "300000ms", "-0s", "1m30s", "4m59.999s"},
			[]string{"5m1s", "-1s", "1h", "x", "", "300001ms", "-0.001s"}))
	}
	if g.chance(0.3) {
		spec["enabled"] = g.chance(0.5)
	}
	// Values of the wrong JSON type: the manager could not decode them.
	if g.rare(0.02) {
		spec["tokenTTL"] = 480
	}
	if g.rare(0.02) {
		spec["enabled"] = "true"
	}
	if g.chance(0.7) {
		spec["allowedHosts"] = g.allowedHosts()
	}
	return diffObject{
		"apiVersion": diffAPIVersion, "kind": diffKindAuth,
		"metadata": map[string]any{"name": fmt.Sprintf("diff-auth-%d", i)},
		"spec":     spec,
	}
}

// provider assembles an issuer URI from parts, each valid or a near miss.
func (g *diffGen) provider(many bool) map[string]any {
	tenant := g.guidField(g.guid())
	scheme := g.pick([]string{"https", "HTTPS", "Https"}, []string{"http", "ftp", "", "https:"})
	user := g.pick([]string{""}, []string{"user@", "user:pw@", "@", "a%40b@"})
	host := g.pick(
		[]string{"sts.windows.net", "login.microsoftonline.com", "127.0.0.1", "[::1]", "localhost", "xn--bcher-kva.example", "bücher.example"},
		[]string{"", "ho st", "[::1", "host_underscore"})
	port := g.pick([]string{"", ":8400", ":443"}, []string{":0", ":99999", ":abc", ":"})
	prefix := g.pick([]string{"/", "/tenants/", "/a/b/"}, []string{"//", "/%zz/", "/ü/"})
	suffix := g.pick([]string{"/", "", "/v2.0", "/v2.0/"}, []string{"/v2x0", "/v1.0", "/v2.0//", "/x"})
	query := g.pick([]string{""}, []string{"?", "?x=1", "?;", "?%zz", "?&", "?x=1;y"})
	frag := g.pick([]string{""}, []string{"#", "#frag"})
	var uri string
	if g.chance(0.5) {
		uri = scheme + "://" + user + host + port + prefix + tenant + suffix + query + frag
	} else {
		// query and fragment before the tenant, where the tenant rule
		// (which anchors at the end) cannot catch them
		uri = scheme + "://" + user + host + port + prefix + query + frag + "/" + tenant + suffix
	}
	if many {
		uri = "https://127.0.0.1:" + strconv.Itoa(8000+g.r.IntN(1000)) + "/" + g.guid() + "/"
	}
	if g.chance(0.02) {
		uri = "https://sts.windows.net/" + strings.Repeat("é", 1000) + "/" + g.guid() + "/" // > 2048 bytes, < 2048 characters
	}
	if g.rare(0.01) {
		uri = "https://sts.windows.net/" + strings.Repeat("e", 2040) + "/" + g.guid() + "/"
	}
	p := map[string]any{"uri": uri}
	if g.rare(0.02) {
		delete(p, "uri")
	}
	if g.chance(0.3) {
		p["caBundle"] = g.caBundle()
	}
	return p
}

func (g *diffGen) caBundle() string {
	block := func(b []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b}))
	}
	return g.pick(
		[]string{
			g.cert,
			"# private CA\n" + g.cert,
			g.cert + g.cert,
			"Ünïcode comment\n" + g.cert,
		},
		[]string{
			"not pem",
			"/etc/ssl/certs/ca.pem",
			base64.StdEncoding.EncodeToString([]byte(g.cert)),
			string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("not a key")})),
			block([]byte("not DER")),
			"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
			strings.Replace(g.cert, "CERTIFICATE", "TRUSTED CERTIFICATE", 2),
			strings.Repeat("x", 65537),
			strings.Repeat("é", 33000) + "\n" + g.cert, // under 65536 characters, over 65536 bytes
		})
}

func (g *diffGen) audiences() []any {
	pool := []string{
		"https://management.azure.com/", "https://management.azure.com", "api://conjur", "a",
		strings.Repeat("a", 256), strings.Repeat("é", 256),
	}
	miss := []string{"", strings.Repeat("a", 257), strings.Repeat("é", 257)}
	n := g.r.IntN(3)
	if g.chance(0.2) {
		n++
	}
	if g.rare(0.04) {
		n = 17
	}
	out := make([]any, 0, n)
	for i := range n {
		v := g.pick(pool, miss)
		if n > 16 {
			v = "aud-" + strconv.Itoa(i)
		}
		out = append(out, v)
	}
	return out
}

func (g *diffGen) allowedHosts() map[string]any {
	ah := map[string]any{}
	switch {
	case g.rare(0.05):
		// no namespaceSelector at all
	case g.rare(0.03):
		ah["namespaceSelector"] = nil
	default:
		ah["namespaceSelector"] = g.selector()
	}
	if g.chance(0.4) {
		ah["hostSelector"] = g.selector()
	}
	return ah
}

func (g *diffGen) selector() map[string]any {
	sel := map[string]any{}
	if g.chance(0.5) {
		labels := map[string]any{}
		for range g.r.IntN(3) {
			labels[g.labelKey()] = g.pick([]string{"a", "prod", "", "a-b_c.d", strings.Repeat("v", 63)}, []string{"-bad", strings.Repeat("v", 64), "a b", "ü"})
		}
		sel["matchLabels"] = labels
	}
	if g.chance(0.5) {
		var exprs []any
		for range g.r.IntN(3) {
			op := g.pick([]string{"In", "NotIn", "Exists", "DoesNotExist"}, []string{"in", "Near", "Equals", ""})
			e := map[string]any{"key": g.labelKey(), "operator": op}
			var values []any
			switch op {
			case "In", "NotIn":
				values = []any{"a", "b"}[:1+g.r.IntN(2)]
				if g.chance(g.miss) {
					values = []any{}
					if g.chance(0.5) {
						values = []any{"-bad"}
					}
				}
			default:
				if g.chance(g.miss) {
					values = []any{"a"}
				}
			}
			if values != nil || g.chance(0.2) {
				e["values"] = values
			}
			exprs = append(exprs, e)
		}
		sel["matchExpressions"] = exprs
	}
	return sel
}

func (g *diffGen) labelKey() string {
	return g.pick(
		[]string{"team", "example.com/team", "kubernetes.io/metadata.name", "a", strings.Repeat("k", 63)},
		[]string{"", "-bad", "a/b/c", strings.Repeat("k", 64), "ünï", "Example.com/x", "/x"})
}

// diffCertPEM makes a self-signed CA certificate: a caBundle that parses.
func diffCertPEM() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "diff test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// deepCopyJSON copies a tree of JSON values, so that the API server's
// answer (written into the unstructured object) never aliases the input.
func deepCopyJSON(m map[string]any) map[string]any {
	raw, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}
