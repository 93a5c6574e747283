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
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/compile"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

func init() {
	addCommand(command{
		name:    "explain",
		summary: "Show each check the server makes on a token for a login, which one refuses it, and the fix",
		run:     runExplain,
	})
}

const explainSynopsis = "explain --service SERVICE --login host/NAMESPACE/NAME [--token-file FILE|-] [--client-ip IP] [--verify] [flags]\n\n" +
	"Reads the AzureAuthenticator, the AzureHost and its Namespace with your RBAC and runs the server's own\n" +
	"checks on the token (read from --token-file, or stdin), in the server's order. The signature is\n" +
	"verified only with --verify, which fetches the provider's keys. The token is never printed.\n" +
	"Exit 0: every check passes; 3: a check fails; 1: the cluster could not be read, or a check could\n" +
	"not be decided (marked ?); 2: bad input. -n is not used: the login names the namespace."

// explainInput is what explain needs besides the cluster.
type explainInput struct {
	service string
	login   string
	token   string
	// clientIP is the address the server sees; invalid when not given.
	clientIP netip.Addr
	// verify: fetch the provider's keys and check the signature.
	verify bool
}

func runExplain(ctx context.Context, args []string, s streams) error {
	fs := pflag.NewFlagSet("explain", pflag.ContinueOnError)
	k := addKubeFlags(fs)
	var in explainInput
	var tokenFile, clientIP string
	fs.StringVar(&in.service, "service", "", "The authenticator's service id (the AzureAuthenticator's name).")
	fs.StringVar(&in.login, "login", "", "The login the workload uses: host/<namespace>/<name>.")
	fs.StringVar(&tokenFile, "token-file", "-", "File holding the Azure token; - for stdin.")
	fs.StringVar(&clientIP, "client-ip", "", "The client address the server sees, to check the host's allowedCIDRs.")
	fs.BoolVar(&in.verify, "verify", false, "Also verify the signature: fetch the provider's keys as the server does (with the authenticator's caBundle).")
	if err := parseFlags(fs, args, s, explainSynopsis); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageErrorf("unexpected arguments %q", fs.Args())
	case in.service == "":
		return usageErrorf("--service is required")
	case in.login == "":
		return usageErrorf("--login is required")
	}
	if clientIP != "" {
		ip, err := netip.ParseAddr(clientIP)
		if err != nil {
			return usageErrorf("--client-ip %q is not an IP address", clientIP)
		}
		in.clientIP = ip
	}
	var err error
	if in.token, err = readToken(tokenFile, s.In); err != nil {
		return err
	}
	c, err := k.Client()
	if err != nil {
		return err
	}
	steps, err := explain(ctx, c, in, time.Now())
	if err != nil {
		return err
	}
	return renderExplanation(s.Out, in, steps)
}

// readToken reads the token, bounded: the server looks at no more either.
func readToken(file string, stdin io.Reader) (string, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, azuread.MaxTokenBytes+4096))
	} else {
		b, err = readFileLimited(file, azuread.MaxTokenBytes+4096)
	}
	if err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", usageErrorf("no token: pass --token-file FILE, or the token on stdin")
	}
	return token, nil
}

// step is one check the server makes, as explain sees it.
type step struct {
	name    string
	codes   []failure.Code // what the server may answer here
	outcome azuread.Outcome
	err     *failure.Error // on Fail
	detail  string         // why, for Fail and Unknown
	fix     string         // for Fail
}

// readState is what one object read from the cluster came to.
type readState int

const (
	readOK readState = iota
	readMissing
	readDenied // forbidden, or any error but NotFound: explain cannot tell
)

func readObject(ctx context.Context, c client.Reader, key client.ObjectKey, obj client.Object) (readState, error) {
	err := c.Get(ctx, key, obj)
	switch {
	case err == nil:
		return readOK, nil
	case apierrors.IsNotFound(err):
		return readMissing, nil
	}
	return readDenied, err
}

// explain makes the server's checks (authn/authenticate.go) in its order,
// each with the server's own code: compile for the objects, azuread for
// the token, policy for the match and admission. It returns an error only
// when the cluster cannot be reached at all.
func explain(ctx context.Context, c client.Reader, in explainInput, now time.Time) ([]step, error) {
	var steps []step
	add := func(s step) { steps = append(steps, s) }

	// (1) The authenticator: what the index would hold.
	var auth *policy.Authenticator
	authObj := &authnv1alpha1.AzureAuthenticator{}
	st, err := readObject(ctx, c, client.ObjectKey{Name: in.service}, authObj)
	if st == readDenied && !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
		if apierrors.ReasonForError(err) == "" { // no answer from the API server at all
			return nil, fmt.Errorf("reading AzureAuthenticator %s: %w", in.service, err)
		}
	}
	exists := step{name: "authenticator " + in.service + " exists and compiles", codes: codes(failure.WebserviceNotFound)}
	enabled := step{name: "authenticator enabled", codes: codes(failure.AuthenticatorDisabled)}
	switch st {
	case readOK:
		if a, cerr := compile.Authenticator(authObj); cerr != nil {
			fail(&exists, failure.New(failure.WebserviceNotFound, "", "conjur/authn-azure/"+in.service), cerr.Error(),
				"fix the AzureAuthenticator's spec (its Ready condition says the same); the server does not serve it")
		} else {
			auth = a
			exists.outcome = azuread.Pass
		}
	case readMissing:
		fail(&exists, failure.New(failure.WebserviceNotFound, "", "conjur/authn-azure/"+in.service), "no AzureAuthenticator "+in.service,
			"use the --service the platform team created (kubectl get azureauthenticators), or create it")
	default:
		exists.detail = "cannot tell: cannot read AzureAuthenticators: " + err.Error()
	}
	add(exists)
	switch {
	case auth == nil:
		enabled.detail = "cannot tell without the authenticator"
	case !auth.Enabled:
		fail(&enabled, failure.New(failure.AuthenticatorDisabled, "", "authn-azure/"+in.service), "spec.enabled is false",
			"set spec.enabled: true on AzureAuthenticator "+in.service)
	default:
		enabled.outcome = azuread.Pass
	}
	add(enabled)

	// (2) The token, with Verify's checks but the signature.
	tokenChecks, claims := azuread.ExplainToken(auth, in.token, now)
	if in.verify && auth != nil {
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		v := &azuread.Verifier{Keys: azuread.NewKeySets(azuread.Options{})}
		v.ExplainSignature(vctx, auth, in.token, tokenChecks)
		cancel()
	}
	for _, tc := range tokenChecks {
		s := step{name: tc.Name, codes: tc.Codes, outcome: tc.Outcome, err: tc.Err}
		switch {
		case tc.Name == azuread.CheckSignature && tc.Outcome == azuread.Fail:
			s.detail = tc.Err.Reason
			s.fix = "the token was not signed by the provider's current keys, or was altered: pass the token exactly as Azure issued it; " +
				"CONJ00010E/CONJ00011E mean the provider's keys could not be fetched (the server would fail the same way from its network)"
		case tc.Name == azuread.CheckSignature && tc.Outcome == azuread.Pass:
		case tc.Name == azuread.CheckSignature && in.verify:
			s.detail = "cannot tell: the keys could not be fetched, or an earlier check failed"
		case tc.Name == azuread.CheckSignature:
			s.detail = "not verified (pass --verify to fetch the provider's keys); a forged or altered token is still refused with CONJ00035E"
		case tc.Outcome == azuread.Fail:
			s.detail, s.fix = tc.Err.Reason, tokenFix(tc.Name, auth)
		case tc.Outcome == azuread.Unknown && auth == nil && tc.Name != azuread.CheckFormat:
			s.detail = "cannot tell without the authenticator"
		case tc.Outcome == azuread.Unknown:
			s.detail = "not reached: the server stops at the failure above"
		}
		add(s)
	}

	// (3) The login and the host.
	var host *policy.Host
	var hostObj authnv1alpha1.AzureHost
	loginStep := step{name: "login is host/<namespace>/<name>", codes: codes(failure.RoleNotFound)}
	hostStep := step{name: "host exists and compiles", codes: codes(failure.RoleNotFound)}
	id, loginOK := parseLogin(in.login)
	nsState := readDenied
	var nsErr error
	ns := &corev1.Namespace{}
	if !loginOK {
		fail(&loginStep, failure.New(failure.RoleNotFound, "", in.login), "the login is not host/<namespace>/<name> with a valid namespace and AzureHost name",
			"use --login host/<namespace>/<azurehost-name>, as the workload must")
		hostStep.detail = "cannot tell without a valid login"
	} else {
		loginStep.outcome = azuread.Pass
		hostStep.name = "host " + id.String() + " exists and compiles"
		st, err := readObject(ctx, c, client.ObjectKey{Namespace: id.Namespace, Name: id.Name}, &hostObj)
		switch st {
		case readOK:
			if h, cerr := compile.Host(&hostObj); cerr != nil {
				fail(&hostStep, failure.New(failure.RoleNotFound, "", in.login), cerr.Error(),
					"fix the AzureHost's spec (its Ready condition says the same); the server does not serve it")
			} else {
				host = h
				hostStep.outcome = azuread.Pass
			}
		case readMissing:
			fail(&hostStep, failure.New(failure.RoleNotFound, "", in.login), "no AzureHost "+id.String(),
				"register the workload (kubectl azauthn register) or correct the login")
		default:
			hostStep.detail = "cannot tell: cannot read AzureHosts in " + id.Namespace + ": " + err.Error()
		}
		nsState, nsErr = readObject(ctx, c, client.ObjectKey{Name: id.Namespace}, ns)
	}
	add(loginStep)
	add(hostStep)

	// (4) The claims against the host: xms_mirid, then Match's layers.
	parse := step{name: "xms_mirid (and xms_az_rid) parse", codes: codes(failure.MissingFieldsInXmsMirid, failure.InvalidProviderFieldsXmsMir)}
	var workload policy.Workload
	parsed := false
	if claims == nil {
		parse.detail = "cannot tell: the token's claims were not all decided"
	} else if w, err := policy.ParseWorkload(claims.TenantID, claims.ObjectID, claims.MIRID, claims.AzRID, in.clientIP); err != nil {
		f := failure.As(err)
		fail(&parse, f, f.Reason, "the token must come from an Azure managed identity: its xms_mirid is an ARM resource ID "+
			"/subscriptions/<id>/resourcegroups/<rg>/providers/<namespace>/<type>/<name>")
	} else {
		workload, parsed = w, true
		parse.outcome = azuread.Pass
	}
	add(parse)
	steps = append(steps, matchSteps(host, &hostObj, workload, parsed && host != nil, in.clientIP.IsValid())...)

	// (5) Admission.
	steps = append(steps, admissionSteps(auth, host, ns, nsState, nsErr, in.service, in.login)...)

	// (6) The access token must live long enough.
	life := step{name: "token lives long enough for an access token", codes: codes(failure.LifetimeTooShort)}
	if claims == nil {
		life.detail = "cannot tell: the token's claims were not all decided"
	} else if left := claims.Expiry.Sub(now); left < authn.MinAccessTokenLifetime {
		fail(&life, failure.New(failure.LifetimeTooShort, ""), fmt.Sprintf("the token expires in %s, less than %s", left.Round(time.Second), authn.MinAccessTokenLifetime),
			"get a fresh token: managed-identity tokens are cached by Azure, ask for one again after it expires")
	} else {
		life.outcome = azuread.Pass
	}
	add(life)
	return steps, nil
}

func codes(c ...failure.Code) []failure.Code { return c }

func fail(s *step, err *failure.Error, detail, fix string) {
	s.outcome, s.err, s.detail, s.fix = azuread.Fail, err, detail, fix
}

// parseLogin accepts what the server's login parser accepts: exactly
// host/<namespace>/<name>, a DNS-1123 label and subdomain (the server's
// own checks are held to validation's by FuzzDNS1123).
func parseLogin(login string) (policy.HostID, bool) {
	rest, ok := strings.CutPrefix(login, authnv1alpha1.HostIDPrefix)
	if !ok {
		return policy.HostID{}, false
	}
	namespace, name, _ := strings.Cut(rest, "/")
	if len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return policy.HostID{}, false
	}
	return policy.HostID{Namespace: namespace, Name: name}, true
}

func tokenFix(check string, a *policy.Authenticator) string {
	switch check {
	case azuread.CheckFormat:
		return "pass the managed-identity token itself: a signed JWT (three base64url parts) with an asymmetric alg, a kid, and no jwk, jku, x5u, x5c or crit header"
	case azuread.CheckIssuer:
		return "the token's iss must be one of the authenticator's providers (" + strings.Join(issuers(a), ", ") +
			"): get the token in that tenant, or ask for a provider for the token's issuer"
	case azuread.CheckClaims:
		return "use a managed-identity token from IMDS or the App Service identity endpoint: it carries iss, tid, oid, xms_mirid, exp and iat"
	case azuread.CheckTenant:
		return "the token's tid must be the tenant in the provider's URI: get the token in that tenant"
	case azuread.CheckAudience:
		return "request the token for one of the accepted audiences (" + strings.Join(a.Audiences, ", ") +
			"), e.g. resource=" + a.Audiences[0] + ", or ask for the token's audience to be added to spec.audiences"
	case azuread.CheckTimes:
		return fmt.Sprintf("get a fresh token, and check the workload's clock: the server allows %s of clock skew", a.ClockSkew)
	}
	return ""
}

func issuers(a *policy.Authenticator) []string {
	var out []string
	for _, p := range a.Providers {
		out = append(out, p.Issuer)
	}
	return out
}

// hostLayer is one restriction Match checks, in Match's order.
type hostLayer struct {
	name        string
	code        failure.Code
	restriction string // the restriction CONJ00049E names; "" for the other codes
	set         bool
	fix         string
}

// matchSteps runs policy's Match and shows each of its layers. Match stops
// at the first restriction that does not hold: the layers before it pass,
// the ones after it are not reached.
func matchSteps(h *policy.Host, obj *authnv1alpha1.AzureHost, w policy.Workload, decidable, haveIP bool) []step {
	spec := &obj.Spec
	var layers []hostLayer
	if h != nil {
		layers = []hostLayer{
			{"host subscription", failure.InvalidResourceRestrictions, "subscription-id", true,
				fmt.Sprintf("the token's identity lives in subscription %s; the host wants spec.subscriptionID %s", w.MIRID.SubscriptionID, spec.SubscriptionID)},
			{"host resource group", failure.InvalidResourceRestrictions, "resource-group", true,
				fmt.Sprintf("the token's identity lives in resource group %s; the host wants spec.resourceGroup %s", w.MIRID.ResourceGroup, spec.ResourceGroup)},
			{"host user-assigned identity", failure.InvalidResourceRestrictions, "user-assigned-identity", h.UserAssignedIdentity != "",
				fmt.Sprintf("the host wants user-assigned identity %s; the token's identity is %s: pick that identity's client_id when requesting the token, or correct spec.userAssignedIdentity", spec.UserAssignedIdentity, w.MIRID.Name())},
			{"host system-assigned identity", failure.InvalidResourceRestrictions, "system-assigned-identity", h.SystemAssignedIdentity != "",
				fmt.Sprintf("the host wants the system-assigned identity with principal id %s; the token's oid is %s: request the token without a client_id, or correct spec.systemAssignedIdentity", spec.SystemAssignedIdentity, w.ObjectID)},
			{"host tenant pin", failure.TenantMismatch, "", h.TenantID != "",
				fmt.Sprintf("the host is pinned to tenant %s; the token is from %s", spec.TenantID, w.TenantID)},
			{"host resource pin", failure.InvalidResourceRestrictions, "resource-id", h.ResourceID != nil,
				fmt.Sprintf("the host is pinned to resource %s; the token comes from %s", spec.ResourceID, w.Compute)},
			{"host client CIDRs", failure.OriginNotAllowed, "", len(h.AllowedCIDRs) > 0,
				fmt.Sprintf("the host allows only %s; the client must connect from one of them (behind a proxy, check the server's trusted proxies)", strings.Join(spec.AllowedCIDRs, ", "))},
		}
	} else {
		for _, n := range []string{"host subscription", "host resource group", "host user-assigned identity", "host system-assigned identity", "host tenant pin", "host resource pin", "host client CIDRs"} {
			layers = append(layers, hostLayer{name: n, code: failure.InvalidResourceRestrictions})
		}
	}
	steps := make([]step, len(layers))
	for i, l := range layers {
		steps[i] = step{name: l.name, codes: codes(l.code)}
	}
	if !decidable {
		for i := range steps {
			steps[i].detail = "cannot tell without the host and the token's parsed claims"
		}
		return steps
	}
	hm := *h
	cidrs := len(layers) - 1
	if !haveIP && len(h.AllowedCIDRs) > 0 {
		// Match the rest as the server would for an address inside them.
		hm.AllowedCIDRs = nil
		steps[cidrs].detail = "cannot tell: pass --client-ip with the address the server sees"
	}
	failed := len(layers)
	if err := hm.Match(w); err != nil {
		f := failure.As(err)
		failed = slices.IndexFunc(layers, func(l hostLayer) bool {
			return l.code == f.Code && (l.restriction == "" || strings.Contains(f.Message, "'"+l.restriction+"'"))
		})
		if failed < 0 { // a layer this list does not know: fail closed on the first
			failed = 0
		}
		fail(&steps[failed], f, f.Reason, layers[failed].fix)
	}
	for i := range steps {
		switch {
		case i < failed && steps[i].detail == "":
			steps[i].outcome = azuread.Pass
			if !layers[i].set {
				steps[i].detail = "not restricted"
			}
		case i > failed:
			steps[i].detail = "not reached: the server stops at the failure above"
		}
	}
	return steps
}

// admissionSteps shows policy's Admits, selector by selector.
func admissionSteps(a *policy.Authenticator, h *policy.Host, ns *corev1.Namespace, nsState readState, nsErr error, service, login string) []step {
	denied := failure.New(failure.RoleNotAuthorizedOnResource, "", login, "authenticate", "webservice:conjur/authn-azure/"+service)
	nsStep := step{name: "authenticator's namespaceSelector selects the host's namespace", codes: codes(failure.RoleNotAuthorizedOnResource)}
	hostStep := step{name: "authenticator's hostSelector selects the host's labels", codes: codes(failure.RoleNotAuthorizedOnResource)}
	switch {
	case a == nil || h == nil:
		nsStep.detail = "cannot tell without the authenticator and the host"
		hostStep.detail = nsStep.detail
		return []step{nsStep, hostStep}
	case a.NamespaceSelector == nil:
		fail(&nsStep, denied, "spec.allowedHosts is not set: the authenticator admits no host",
			"the platform team sets spec.allowedHosts.namespaceSelector on AzureAuthenticator "+service)
	case nsState == readMissing:
		fail(&nsStep, denied, "namespace "+h.ID.Namespace+" does not exist", "create the host in an existing namespace")
	case nsState == readDenied:
		nsStep.detail = "cannot tell: cannot read namespace " + h.ID.Namespace + ": " + nsErr.Error()
	default:
		pns := policy.Namespace{Known: true, Labels: ns.Labels}
		if !a.NamespaceSelector.Matches(pns.Labels) {
			fail(&nsStep, denied, fmt.Sprintf("namespace %s has labels %v; the selector is %s", h.ID.Namespace, ns.Labels, a.NamespaceSelector),
				"the platform team labels namespace "+h.ID.Namespace+" to match, or widens the authenticator's namespaceSelector")
		} else {
			nsStep.outcome = azuread.Pass
		}
	}
	if a.HostSelector.Matches(h.Labels) {
		hostStep.outcome = azuread.Pass
	} else {
		fail(&hostStep, denied, fmt.Sprintf("the host's labels do not match the selector %s", a.HostSelector),
			"label the AzureHost to match spec.allowedHosts.hostSelector")
	}
	if nsStep.outcome == azuread.Pass && hostStep.outcome == azuread.Pass &&
		!a.Admits(policy.Namespace{Known: true, Labels: ns.Labels}, h) {
		// The selectors are Admits' own; this cannot happen unless Admits gains a rule.
		fail(&hostStep, denied, "the authenticator does not admit the host", "")
	}
	return []step{nsStep, hostStep}
}

// renderExplanation prints the steps and returns the exit status: nil when
// every decided check passes and nothing but the signature is undecided.
func renderExplanation(w io.Writer, in explainInput, steps []step) error {
	verdict, err := writeExplanation(w, in, steps)
	if err != nil {
		return fmt.Errorf("writing the explanation: %w", err)
	}
	return verdict
}

// writeExplanation writes the steps; it returns the verdict, and the first
// write error.
func writeExplanation(w io.Writer, in explainInput, steps []step) (verdict, werr error) {
	p := func(format string, args ...any) {
		if werr == nil {
			_, werr = fmt.Fprintf(w, format, args...)
		}
	}
	p("Checks the server makes for %s on service %s, in its order.\n", in.login, in.service)
	if in.verify {
		p("The signature is verified with the provider's keys, fetched as the server does. The token is never printed.\n")
	} else {
		p("The signature is NOT verified (no --verify): explain does not fetch the provider's keys. The token is never printed.\n")
	}
	first := -1
	var undecided []string
	decided := map[failure.Code]bool{}
	for i, s := range steps {
		mark := "?"
		switch s.outcome {
		case azuread.Pass:
			mark = "✓"
		case azuread.Fail:
			mark = "✗"
		}
		codeList := make([]string, len(s.codes))
		for j, c := range s.codes {
			codeList[j] = string(c)
		}
		line := fmt.Sprintf("%s %-62s %s", mark, s.name, strings.Join(codeList, " "))
		if s.outcome == azuread.Fail {
			line = fmt.Sprintf("%s %-62s %s", mark, s.name, s.err.Code)
			if first < 0 {
				first = i
				line += "   <- the server answers " + string(s.err.Code) + " here"
			} else {
				line += "   (the server stops earlier)"
			}
		}
		p("%s\n", strings.TrimRight(line, " "))
		if s.detail != "" {
			p("    %s\n", s.detail)
		}
		if s.fix != "" {
			p("    fix: %s\n", s.fix)
		}
		if s.outcome == azuread.Unknown {
			if (s.name != azuread.CheckSignature || in.verify) && !strings.HasPrefix(s.detail, "not reached") {
				undecided = append(undecided, s.name)
			}
			continue
		}
		for _, c := range s.codes {
			decided[c] = true
		}
	}
	var dc []string
	for c := range decided {
		dc = append(dc, string(c))
	}
	slices.Sort(dc)
	p("\nDecided here: %s.\n", strings.Join(dc, " "))
	if in.verify {
		p("Never decided here: CONJ00008E (the account),\n")
	} else {
		p("Never decided here: CONJ00008E (the account), the signature and key fetch (CONJ00035E, CONJ00010E, CONJ00011E),\n")
	}
	p("the request body (CONJ00009E, CONJ00077E from the form, AZAUTH005E, AZAUTH011E, AZAUTH016E) and the server's state (AZAUTH009E, AZAUTH010E, AZAUTH014E).\n")
	switch {
	case first >= 0:
		p("Result: refused; the server answers %s (%s).\n", steps[first].err.Code, steps[first].name)
		return withCode(exitNotSatisfied, fmt.Errorf("the token would be refused with %s at %q", steps[first].err.Code, steps[first].name)), werr
	case len(undecided) > 0:
		p("Result: cannot tell; undecided: %s.\n", strings.Join(undecided, "; "))
		return errors.New("some checks could not be decided (marked ?)"), werr
	}
	if in.verify {
		p("Result: every check passes.\n")
	} else {
		p("Result: every check passes (but for the signature, not verified without --verify).\n")
	}
	return nil, werr
}

// readFileLimited reads at most limit bytes of file.
func readFileLimited(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return io.ReadAll(io.LimitReader(f, limit))
}
