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
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
)

func init() {
	addCommand(command{name: "env", summary: "Print a workload's Conjur client settings (shell exports or a ConfigMap)", run: runEnv})
}

const envSynopsis = `env [HOST] --service ID --url URL [flags]

Prints what a workload's Conjur client (conjur-api-go's LoadConfig and
NewClientFromEnvironment, or any SDK that reads CONJUR_* variables) needs to
log in as an AzureHost through an AzureAuthenticator: CONJUR_APPLIANCE_URL,
CONJUR_ACCOUNT, CONJUR_AUTHN_TYPE=azure, CONJUR_SERVICE_ID,
CONJUR_AUTHN_JWT_HOST_ID, CONJUR_SSL_CERTIFICATE (the CA's PEM),
CONJUR_CREDENTIAL_STORAGE=none and, for a user-assigned identity,
CONJUR_AUTHN_AZURE_CLIENT_ID. It prints no secret: none is needed.

The host is HOST in -n's namespace, or --host NAMESPACE/NAME. It is read
from the cluster: a host that does not exist, is not Ready or is not
admitted by --service is printed anyway, with a warning on standard error
and as a comment in the output.

--url is required: the address workloads reach the authenticator at (a load
balancer, a DNS name in the chart's tls.sans) is not recorded in the
cluster, and a guessed one would fail the TLS name check.`

// envVars are the variables env prints, in the order it prints them.
var envVars = []string{
	"CONJUR_APPLIANCE_URL",
	"CONJUR_ACCOUNT",
	"CONJUR_AUTHN_TYPE",
	"CONJUR_SERVICE_ID",
	"CONJUR_AUTHN_JWT_HOST_ID",
	"CONJUR_CREDENTIAL_STORAGE",
	"CONJUR_AUTHN_AZURE_CLIENT_ID",
	"CONJUR_SSL_CERTIFICATE",
}

// newEnvClient is how env reaches the cluster; unit tests put a fake
// behind it, the e2e test runs the built binary against a real one.
var newEnvClient = func(k *kubeFlags) (client.Client, error) { return k.Client() }

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type envOptions struct {
	kube                                  *kubeFlags
	host, service, url, account, clientID string
	caFile, caNamespace, caConfigMap      string
	output, name                          string
}

func runEnv(ctx context.Context, args []string, s streams) error {
	fs := pflag.NewFlagSet("env", pflag.ContinueOnError)
	o := envOptions{kube: addKubeFlags(fs)}
	fs.StringVar(&o.host, "host", "", "The AzureHost as NAMESPACE/NAME (instead of HOST and -n).")
	fs.StringVar(&o.service, "service", "", "The service id: the AzureAuthenticator's name (required).")
	fs.StringVar(&o.url, "url", "", "The authenticator's https URL as workloads reach it, e.g. https://authn.example.internal:9443 (required: the cluster does not know it).")
	fs.StringVar(&o.account, "account", "default", "The Conjur account: the manager's --account.")
	fs.StringVar(&o.clientID, "client-id", "", "The client id of the user-assigned identity (az identity show --query clientId); for a user-assigned host only.")
	fs.StringVar(&o.caFile, "ca-file", "", "A PEM file with the CA that signs the authenticator's certificate (default: read it from --ca-configmap).")
	fs.StringVar(&o.caNamespace, "ca-namespace", "azure-authenticator-system", "The namespace of the CA ConfigMap: where the authenticator is installed.")
	fs.StringVar(&o.caConfigMap, "ca-configmap", "azure-authenticator-ca", "The ConfigMap (key ca.crt) into which the manager publishes its CA (--tls-ca-configmap).")
	fs.StringVarP(&o.output, "output", "o", "env", "Output format: env (shell export lines) or configmap (a v1 ConfigMap manifest, for envFrom).")
	fs.StringVar(&o.name, "name", "", "The ConfigMap's name with -o configmap (default: conjur-HOST).")
	if err := parseFlags(fs, args, s, envSynopsis); err != nil {
		return err
	}
	ns, name, err := o.validate(fs.Args())
	if err != nil {
		return err
	}
	c, err := newEnvClient(o.kube)
	if err != nil {
		return err
	}
	var warnings []string
	warn := func(format string, args ...any) {
		w := fmt.Sprintf(format, args...)
		warnings = append(warnings, w)
		_, _ = fmt.Fprintf(s.Err, "warning: %s\n", w)
	}
	host, err := o.checkHost(ctx, c, ns, name, warn)
	if err != nil {
		return err
	}
	o.checkAuthenticator(ctx, c, warn)
	if host != nil {
		if err := o.checkIdentity(host, warn); err != nil {
			return err
		}
	}
	ca, err := o.readCA(ctx, c, warn)
	if err != nil {
		return err
	}
	values := map[string]string{
		"CONJUR_APPLIANCE_URL":      o.url,
		"CONJUR_ACCOUNT":            o.account,
		"CONJUR_AUTHN_TYPE":         "azure",
		"CONJUR_SERVICE_ID":         o.service,
		"CONJUR_AUTHN_JWT_HOST_ID":  ns + "/" + name,
		"CONJUR_CREDENTIAL_STORAGE": "none",
		"CONJUR_SSL_CERTIFICATE":    ca,
	}
	if o.clientID != "" {
		values["CONJUR_AUTHN_AZURE_CLIENT_ID"] = o.clientID
	}
	header := fmt.Sprintf("Conjur client settings for host/%s/%s, service %s (kubectl azauthn env)", ns, name, o.service)
	if o.output == "configmap" {
		cmName := o.name
		if cmName == "" {
			cmName = truncateName("conjur-" + name)
		}
		return printEnvConfigMap(s.Out, cmName, header, warnings, values)
	}
	return printEnvExports(s.Out, header, warnings, values)
}

// validate checks everything that needs no cluster, so that a usage
// mistake is exit 2 before any request.
func (o *envOptions) validate(args []string) (ns, name string, err error) {
	if o.output != "env" && o.output != "configmap" {
		return "", "", usageErrorf("--output must be env or configmap, not %q", o.output)
	}
	if o.name != "" && o.output != "configmap" {
		return "", "", usageErrorf("--name is for -o configmap only")
	}
	if o.name != "" {
		if errs := validation.IsDNS1123Subdomain(o.name); len(errs) > 0 {
			return "", "", usageErrorf("--name %q: %s", o.name, strings.Join(errs, "; "))
		}
	}
	switch {
	case len(args) > 1:
		return "", "", usageErrorf("expected at most one HOST argument, got %d", len(args))
	case len(args) == 1 && o.host != "":
		return "", "", usageErrorf("give the host either as HOST or as --host, not both")
	case len(args) == 1:
		name = args[0]
		if ns, err = o.kube.Namespace(); err != nil {
			return "", "", err
		}
	case o.host != "":
		var ok bool
		ns, name, ok = strings.Cut(o.host, "/")
		if !ok || strings.Contains(name, "/") {
			return "", "", usageErrorf("--host must be NAMESPACE/NAME, not %q", o.host)
		}
		if o.kube.namespace != "" && o.kube.namespace != ns {
			return "", "", usageErrorf("--host %q is not in -n's namespace %q", o.host, o.kube.namespace)
		}
	default:
		return "", "", usageErrorf("which host? give HOST (with -n) or --host NAMESPACE/NAME")
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "", "", usageErrorf("namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", usageErrorf("host name %q: %s", name, strings.Join(errs, "; "))
	}
	if o.service == "" {
		return "", "", usageErrorf("--service is required: the AzureAuthenticator's name")
	}
	if errs := validation.IsDNS1123Subdomain(o.service); len(errs) > 0 {
		return "", "", usageErrorf("--service %q: %s", o.service, strings.Join(errs, "; "))
	}
	if err := authn.ValidateAccount(o.account); err != nil {
		return "", "", usageErrorf("--account: %v", err)
	}
	if o.url == "" {
		return "", "", usageErrorf("--url is required: the https address workloads reach the authenticator at (the cluster does not record it)")
	}
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", usageErrorf("--url must be an https URL such as https://authn.example.internal:9443, not %q", o.url)
	}
	// The SDK appends its routes to the URL; a trailing slash would double it.
	o.url = strings.TrimRight(o.url, "/")
	if o.clientID != "" && !guidPattern.MatchString(o.clientID) {
		return "", "", usageErrorf("--client-id must be a GUID (az identity show --query clientId), not %q", o.clientID)
	}
	return ns, name, nil
}

// checkHost reads the AzureHost. What the caller cannot read is a
// warning, not an error: a team may print settings for a host it is about
// to register, or lack the RBAC to read it.
func (o *envOptions) checkHost(ctx context.Context, c client.Client, ns, name string, warn func(string, ...any)) (*authnv1alpha1.AzureHost, error) {
	h := &authnv1alpha1.AzureHost{}
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, h)
	switch {
	case apierrors.IsNotFound(err):
		warn("AzureHost %s/%s does not exist (yet): authentication will be refused until it is registered", ns, name)
		return nil, nil
	case apierrors.IsForbidden(err):
		warn("cannot read AzureHost %s/%s with your permissions: its existence and admission are not checked", ns, name)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading AzureHost %s/%s: %w", ns, name, err)
	}
	if ready := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		reason := "no Ready condition yet"
		if ready != nil {
			reason = fmt.Sprintf("Ready=%s, reason %s: %s", ready.Status, ready.Reason, ready.Message)
		}
		warn("AzureHost %s/%s is not Ready (%s)", ns, name, reason)
	}
	if !slices.Contains(h.Status.Authenticators, o.service) {
		admitted := "none"
		if len(h.Status.Authenticators) > 0 {
			admitted = strings.Join(h.Status.Authenticators, ", ")
		}
		warn("AzureHost %s/%s is not admitted by service %q (its status.authenticators: %s): authentication through it will be refused", ns, name, o.service, admitted)
	}
	if sv := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionSecretsServable); sv != nil && sv.Status == metav1.ConditionFalse {
		warn("AzureHost %s/%s can authenticate but read no secret now (SecretsServable=False, reason %s)", ns, name, sv.Reason)
	}
	return h, nil
}

// checkAuthenticator warns about a missing or disabled service. Team
// members often may not read AzureAuthenticators (cluster-scoped); that is
// not worth a warning, the host's status already says whether it admits.
func (o *envOptions) checkAuthenticator(ctx context.Context, c client.Client, warn func(string, ...any)) {
	a := &authnv1alpha1.AzureAuthenticator{}
	err := c.Get(ctx, client.ObjectKey{Name: o.service}, a)
	switch {
	case apierrors.IsNotFound(err):
		warn("AzureAuthenticator %q does not exist: check --service", o.service)
	case err == nil && a.Spec.Enabled != nil && !*a.Spec.Enabled:
		warn("AzureAuthenticator %q is disabled (spec.enabled: false)", o.service)
	}
}

// checkIdentity matches --client-id with the identity the host accepts:
// IMDS returns the identity the client id names, so the wrong choice makes
// a configuration that can never log in.
func (o *envOptions) checkIdentity(h *authnv1alpha1.AzureHost, warn func(string, ...any)) error {
	switch {
	case h.Spec.SystemAssignedIdentity != "" && o.clientID != "":
		return usageErrorf("AzureHost %s/%s accepts the system-assigned identity only; with --client-id the SDK would ask IMDS for a user-assigned identity's token, which this host refuses", h.Namespace, h.Name)
	case h.Spec.UserAssignedIdentity != "" && o.clientID == "":
		warn("AzureHost %s/%s accepts the user-assigned identity %q: set CONJUR_AUTHN_AZURE_CLIENT_ID to its client id (az identity show -g %s -n %s --query clientId -o tsv; or pass --client-id), or IMDS may return another identity's token where the workload has several",
			h.Namespace, h.Name, h.Spec.UserAssignedIdentity, h.Spec.ResourceGroup, h.Spec.UserAssignedIdentity)
	}
	return nil
}

// readCA returns the CA's certificates as PEM, from --ca-file or the
// ConfigMap the manager publishes. Only CERTIFICATE blocks are printed:
// a file that also holds a private key (a tls.key pasted by mistake) is
// refused rather than copied to every workload.
func (o *envOptions) readCA(ctx context.Context, c client.Client, warn func(string, ...any)) (string, error) {
	var data []byte
	var from string
	if o.caFile != "" {
		b, err := os.ReadFile(o.caFile)
		if err != nil {
			return "", fmt.Errorf("reading --ca-file: %w", err)
		}
		data, from = b, "--ca-file "+o.caFile
	} else {
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: o.caNamespace, Name: o.caConfigMap}, cm); err != nil {
			return "", fmt.Errorf("reading the CA from ConfigMap %s/%s (set --ca-namespace to where the authenticator is installed, or pass --ca-file): %w", o.caNamespace, o.caConfigMap, err)
		}
		if cm.Data["ca.crt"] == "" {
			return "", fmt.Errorf("ConfigMap %s/%s has no ca.crt: the manager publishes it only with --tls-ca-configmap and managed TLS; pass --ca-file", o.caNamespace, o.caConfigMap)
		}
		data, from = []byte(cm.Data["ca.crt"]), "ConfigMap "+o.caNamespace+"/"+o.caConfigMap
	}
	var out strings.Builder
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return "", usageErrorf("%s holds a %q block, not only certificates: refusing to print it (give the CA certificate alone)", from, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", usageErrorf("%s: a certificate that does not parse: %v", from, err)
		}
		if time.Now().After(cert.NotAfter) {
			warn("the CA %q from %s expired on %s", cert.Subject.String(), from, cert.NotAfter.UTC().Format(time.RFC3339))
		}
		if !cert.IsCA {
			warn("the certificate %q from %s is not a CA: clients trust it only as long as the server presents exactly it", cert.Subject.String(), from)
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}); err != nil {
			return "", fmt.Errorf("encoding the CA: %w", err)
		}
	}
	if out.Len() == 0 {
		return "", usageErrorf("%s holds no PEM certificate", from)
	}
	return out.String(), nil
}

// printEnvExports writes POSIX shell export lines. Every value is single
// quoted, so nothing in it is expanded; the PEM keeps its newlines.
func printEnvExports(w io.Writer, header string, warnings []string, values map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", header)
	for _, warning := range warnings {
		fmt.Fprintf(&b, "# WARNING: %s\n", oneLine(warning))
	}
	for _, k := range envVars {
		if v, ok := values[k]; ok {
			fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shellQuote single-quotes s for a POSIX shell: inside single quotes
// nothing is special but the quote itself, written as '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func printEnvConfigMap(w io.Writer, name, header string, warnings []string, values map[string]string) error {
	// Not corev1.ConfigMap: its ObjectMeta would print creationTimestamp: null.
	type metadata struct {
		Name string `json:"name"`
	}
	cm := struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metadata          `json:"metadata"`
		Data       map[string]string `json:"data"`
	}{"v1", "ConfigMap", metadata{name}, values}
	body, err := yaml.Marshal(cm)
	if err != nil {
		return fmt.Errorf("encoding the ConfigMap: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", header)
	for _, warning := range warnings {
		fmt.Fprintf(&b, "# WARNING: %s\n", oneLine(warning))
	}
	b.Write(body)
	_, err = io.WriteString(w, b.String())
	return err
}

// oneLine keeps a warning (which may quote a condition message) inside
// its comment line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func truncateName(s string) string {
	if len(s) > validation.DNS1123SubdomainMaxLength {
		s = strings.TrimRight(s[:validation.DNS1123SubdomainMaxLength], "-.")
	}
	return s
}
