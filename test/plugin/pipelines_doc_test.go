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

package plugin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const pipelinesDocEditorRole = "azure-authenticator-azurehost-editor"

// pipelinesDocBlock is one fenced code block of docs/pipelines.md.
type pipelinesDocBlock struct {
	lang, body string
	line       int // of the opening fence, for messages
}

// pipelinesDocCommand is one `kubectl azauthn` command line of the doc,
// as the shell would pass it: args start with the subcommand.
type pipelinesDocCommand struct {
	args []string
	line int
}

func (c pipelinesDocCommand) String() string {
	return fmt.Sprintf("line %d: kubectl azauthn %s", c.line, strings.Join(c.args, " "))
}

func pipelinesDocBlocks(t *testing.T) []pipelinesDocBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "pipelines.md"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks []pipelinesDocBlock
		cur    *pipelinesDocBlock
		body   []string
	)
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &pipelinesDocBlock{lang: strings.TrimPrefix(l, "```"), line: i + 1}
			body = nil
		case cur != nil && l == "```":
			cur.body = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body = append(body, l)
		}
	}
	if cur != nil {
		t.Fatalf("docs/pipelines.md: the code block at line %d is not closed", cur.line)
	}
	return blocks
}

// pipelinesDocVars are the values the doc's shell variables take in the
// test: the names of the az fixture (its VM is Ledger-VM in rg-payments
// of this subscription) and of the suite's authenticator.
func pipelinesDocVars(ns string) map[string]string {
	return map[string]string{
		"RG":              "rg-payments",
		"VM":              "ledger-vm",
		"NS":              ns,
		"SERVICE":         "plugin-test",
		"AUTHN_URL":       "https://authn.example.internal:9443",
		"SUBSCRIPTION_ID": "3f2c8a41-6b7d-4e90-a1c2-0d9e8f7a6b5c",
	}
}

var pipelinesDocContinuation = regexp.MustCompile(`\\\n[ \t]*`)

// pipelinesDocCommands extracts every `kubectl azauthn` command of the
// blocks that hold one, split into words as a POSIX shell would, with the
// variables expanded from vars.
func pipelinesDocCommands(t *testing.T, blocks []pipelinesDocBlock, vars map[string]string) []pipelinesDocCommand {
	t.Helper()
	var cmds []pipelinesDocCommand
	for _, b := range blocks {
		if !strings.Contains(b.body, "kubectl azauthn") {
			continue
		}
		joined := pipelinesDocContinuation.ReplaceAllString(b.body, " ")
		for i, l := range strings.Split(joined, "\n") {
			for rest := l; ; {
				at := strings.Index(rest, "kubectl azauthn ")
				if at < 0 {
					break
				}
				words, n, err := pipelinesDocWords(rest[at:], vars)
				if err != nil {
					t.Fatalf("docs/pipelines.md block at line %d: %q: %v", b.line, l, err)
				}
				if len(words) < 3 {
					t.Fatalf("docs/pipelines.md block at line %d: %q names no subcommand", b.line, l)
				}
				// The line number is approximate once continuations are joined.
				cmds = append(cmds, pipelinesDocCommand{args: words[2:], line: b.line + 1 + i})
				rest = rest[at+n:]
			}
		}
	}
	return cmds
}

var pipelinesDocVar = regexp.MustCompile(`^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)

// pipelinesDocWords splits one simple command into words: quotes,
// backslashes and $VAR/${VAR} as the shell reads them; it stops at the
// first operator (| ; & < > ) or comment, and returns how much it read.
// Command substitution is refused: the test could not know its value.
func pipelinesDocWords(s string, vars map[string]string) (words []string, n int, err error) {
	var (
		w      strings.Builder
		inWord bool
	)
	end := func() {
		if inWord {
			words = append(words, w.String())
		}
		w.Reset()
		inWord = false
	}
	expand := func(i int) (int, error) {
		m := pipelinesDocVar.FindStringSubmatch(s[i:])
		if m == nil {
			return 0, fmt.Errorf("unsupported expansion at %q", s[i:])
		}
		name := m[1] + m[2]
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("variable $%s has no value in the test: add it to pipelinesDocVars", name)
		}
		w.WriteString(v)
		inWord = true
		return len(m[0]), nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			end()
			i++
		case strings.IndexByte("|;&<>)", c) >= 0:
			end()
			return words, i, nil
		case c == '#' && !inWord:
			return words, len(s), nil
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, 0, errors.New("unterminated single quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 2
		case c == '"':
			inWord = true
			i++
			for {
				if i >= len(s) {
					return nil, 0, errors.New("unterminated double quote")
				}
				if s[i] == '"' {
					i++
					break
				}
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\", s[i+1]) >= 0:
					w.WriteByte(s[i+1])
					i += 2
				case s[i] == '$':
					k, err := expand(i)
					if err != nil {
						return nil, 0, err
					}
					i += k
				case s[i] == '`':
					return nil, 0, errors.New("command substitution")
				default:
					w.WriteByte(s[i])
					i++
				}
			}
		case c == '\\' && i+1 < len(s):
			w.WriteByte(s[i+1])
			inWord = true
			i += 2
		case c == '$':
			k, err := expand(i)
			if err != nil {
				return nil, 0, err
			}
			i += k
		case c == '`':
			return nil, 0, errors.New("command substitution")
		default:
			w.WriteByte(c)
			inWord = true
			i++
		}
	}
	end()
	return words, len(s), nil
}

var pipelinesDocFlagUsage = regexp.MustCompile(`(?m)^\s+(?:-([A-Za-z0-9]), )?--([A-Za-z0-9][A-Za-z0-9-]*)`)

// pipelinesDocFlags is the set of flags the built plugin's subcommand
// lists in its --help: "--name" and "-x" forms.
func pipelinesDocFlags(t *testing.T, sub string) map[string]bool {
	t.Helper()
	r := azauthn(t, "", sub, "--help")
	wantCode(t, sub+" --help", r, 0, "Flags:")
	flags := map[string]bool{}
	for _, m := range pipelinesDocFlagUsage.FindAllStringSubmatch(r.out, -1) {
		flags["--"+m[2]] = true
		if m[1] != "" {
			flags["-"+m[1]] = true
		}
	}
	if !flags["--help"] || !flags["--namespace"] || !flags["-n"] {
		t.Fatalf("%s --help lists %v: the parser no longer reads pflag's usage", sub, flags)
	}
	return flags
}

// pipelinesDocUnknownFlags returns the flags of args that the set lacks.
// A bare "-" is a value (standard input), not a flag.
func pipelinesDocUnknownFlags(args []string, flags map[string]bool) []string {
	var unknown []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") && len(name) > 2 {
			name = name[:2] // -nVALUE
		}
		if !flags[name] {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

// pipelinesDocSubstitute puts the test's files in place of the doc's:
// the az fixture for -f (a file or standard input), a CA for --ca-file.
func pipelinesDocSubstitute(args []string, azJSON, caFile string) []string {
	out := append([]string(nil), args...)
	for i := 0; i < len(out); i++ {
		name, value, eq := strings.Cut(out[i], "=")
		var repl string
		switch name {
		case "-f", "--filename":
			repl = azJSON
		case "--ca-file":
			repl = caFile
		default:
			continue
		}
		switch {
		case eq && value != "-":
			out[i] = name + "=" + repl
		case !eq && i+1 < len(out) && out[i+1] != "-":
			out[i+1] = repl
			i++
		}
	}
	return out
}

func pipelinesDocCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pipelines doc test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "conjur-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pipelinesDocRBAC returns the ServiceAccount and RoleBinding of the
// doc's RBAC block.
func pipelinesDocRBAC(t *testing.T, blocks []pipelinesDocBlock) (*corev1.ServiceAccount, *rbacv1.RoleBinding) {
	t.Helper()
	var (
		sa      *corev1.ServiceAccount
		binding *rbacv1.RoleBinding
	)
	for _, b := range blocks {
		if b.lang != "yaml" || !strings.Contains(b.body, "kind: RoleBinding") {
			continue
		}
		for _, doc := range strings.Split(b.body, "\n---\n") {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("block at line %d: %v", b.line, err)
			}
			switch tm.Kind {
			case "RoleBinding":
				binding = &rbacv1.RoleBinding{}
				if err := yaml.UnmarshalStrict([]byte(doc), binding); err != nil {
					t.Fatalf("the RoleBinding at line %d: %v", b.line, err)
				}
			case "ServiceAccount":
				sa = &corev1.ServiceAccount{}
				if err := yaml.UnmarshalStrict([]byte(doc), sa); err != nil {
					t.Fatalf("the ServiceAccount at line %d: %v", b.line, err)
				}
			default:
				t.Fatalf("the RBAC block at line %d holds a %q", b.line, tm.Kind)
			}
		}
	}
	if sa == nil || binding == nil {
		t.Fatal("docs/pipelines.md has no yaml block with the pipeline's ServiceAccount and RoleBinding")
	}
	if binding.APIVersion != "rbac.authorization.k8s.io/v1" || binding.RoleRef.APIGroup != rbacv1.GroupName ||
		binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != pipelinesDocEditorRole {
		t.Errorf("the RoleBinding refers to %s %+v, want the ClusterRole %s", binding.APIVersion, binding.RoleRef, pipelinesDocEditorRole)
	}
	if len(binding.Subjects) != 1 || binding.Subjects[0].Kind != rbacv1.ServiceAccountKind ||
		binding.Subjects[0].Name != sa.Name || binding.Subjects[0].Namespace != binding.Namespace || sa.Namespace != binding.Namespace {
		t.Errorf("the RoleBinding (namespace %q) binds %+v, want exactly the ServiceAccount %s/%s of its own namespace",
			binding.Namespace, binding.Subjects, sa.Namespace, sa.Name)
	}
	return sa, binding
}

// The doc's commands use only flags the built plugin has, and the RBAC
// block is what the chart's role needs.
func TestPipelinesDocFlagsExist(t *testing.T) {
	blocks := pipelinesDocBlocks(t)
	pipelinesDocRBAC(t, blocks)
	cmds := pipelinesDocCommands(t, blocks, pipelinesDocVars("payments"))
	seen := map[string]int{}
	flags := map[string]map[string]bool{}
	for _, c := range cmds {
		sub := c.args[0]
		switch sub {
		case "register", "unregister", "env":
		default:
			continue
		}
		seen[sub]++
		if flags[sub] == nil {
			flags[sub] = pipelinesDocFlags(t, sub)
		}
		if unknown := pipelinesDocUnknownFlags(c.args[1:], flags[sub]); len(unknown) > 0 {
			t.Errorf("%s: the plugin has no flag %v", c, unknown)
		}
	}
	// The doc shows the pipeline three times (shell, GitHub, Azure DevOps).
	if seen["register"] < 3 || seen["env"] < 3 || seen["unregister"] < 1 {
		t.Errorf("found %v command lines; want register and env in each of the three pipelines and an unregister", seen)
	}
	t.Logf("checked %d kubectl azauthn lines: %v", len(cmds), seen)
}

// The doc's pipeline, run as the doc's RBAC allows: register becomes
// Ready and re-runs change nothing, env prints the host's settings,
// unregister deletes the host and succeeds again.
func TestPipelinesDocRunsAsThePipeline(t *testing.T) {
	ns := testNamespace(t, true)
	blocks := pipelinesDocBlocks(t)
	sa, binding := pipelinesDocRBAC(t, blocks)
	ctx := context.Background()

	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "azurehost_editor_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatal(err)
	}
	if role.Name != pipelinesDocEditorRole {
		t.Fatalf("config/rbac names the editor role %q, the doc %q", role.Name, pipelinesDocEditorRole)
	}
	if err := k8s.Create(ctx, &role); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	// The doc's objects, moved into the test's namespace.
	sa.Namespace, binding.Namespace, binding.Subjects[0].Namespace = ns, ns, ns
	for _, obj := range []client.Object{sa, binding} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("applying the doc's %T: %v", obj, err)
		}
	}
	user, groups := testenv.ServiceAccountUser(ns, sa.Name)
	kc, err := env.KubeconfigAs(user, groups...)
	if err != nil {
		t.Fatal(err)
	}

	azJSON := filepath.Join(testenv.RepoRoot(), "cmd", "kubectl-azauthn", "testdata", "az", "vm-system.json")
	stdin := fixture(t, "vm-system.json")
	ca := pipelinesDocCA(t)
	bySub := map[string][]pipelinesDocCommand{}
	for _, c := range pipelinesDocCommands(t, blocks, pipelinesDocVars(ns)) {
		c.args = pipelinesDocSubstitute(c.args, azJSON, ca)
		bySub[c.args[0]] = append(bySub[c.args[0]], c)
	}
	if len(bySub["register"]) == 0 || len(bySub["env"]) == 0 || len(bySub["unregister"]) == 0 {
		t.Fatalf("the doc lacks a register, env or unregister line: %v", bySub)
	}

	// The first register, once RBAC has seen the binding (a forbidden
	// attempt changes nothing).
	first := bySub["register"][0]
	var r result
	testenv.Eventually(t, "the doc's register as the pipeline", func() error {
		if r = azauthnAs(t, kc, stdin, first.args...); r.code != 0 {
			return &failure{r}
		}
		return nil
	})
	wantCode(t, first.String(), r, 0, "azurehost.authn.dap.io/ledger-vm is Ready (Admitted)")
	t.Logf("%s: Ready after %v (process start to exit)", first, r.took.Round(time.Millisecond))
	h := getHost(t, ns, "ledger-vm")
	if h.Spec.SystemAssignedIdentity != ledgerOID || h.Annotations[annotation] != ledgerVM {
		t.Errorf("the registered host: annotations %v, spec %+v", h.Annotations, h.Spec)
	}
	if ready := meta.FindStatusCondition(h.Status.Conditions, authnv1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("after --wait the host's Ready condition is %+v", ready)
	}

	// Every register line of the doc, and the first again: a re-run.
	for _, c := range append(bySub["register"], first) {
		r := azauthnAs(t, kc, stdin, c.args...)
		wantCode(t, c.String()+" (re-run)", r, 0, "is Ready (Admitted)")
		again := getHost(t, ns, "ledger-vm")
		if again.UID != h.UID || again.Generation != h.Generation || !equality.Semantic.DeepEqual(again.Spec, h.Spec) {
			t.Errorf("%s re-run changed the host: uid %s→%s, generation %d→%d, spec %+v→%+v",
				c, h.UID, again.UID, h.Generation, again.Generation, h.Spec, again.Spec)
		}
	}

	for _, c := range bySub["env"] {
		r := azauthnAs(t, kc, "", c.args...)
		wantCode(t, c.String(), r, 0, "export CONJUR_AUTHN_JWT_HOST_ID='"+ns+"/ledger-vm'")
		for _, want := range []string{"export CONJUR_SERVICE_ID='plugin-test'", "BEGIN CERTIFICATE", "export CONJUR_AUTHN_TYPE='azure'"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("%s: output lacks %q:\n%s", c, want, r.out)
			}
		}
		// With only the editor role the output is clean: the host is
		// readable, the unreadable authenticator is no warning.
		if r.errOut != "" || strings.Contains(r.out, "WARNING") {
			t.Errorf("%s as the pipeline warned: stderr %q, stdout %q", c, r.errOut, r.out)
		}
	}

	for i, c := range bySub["unregister"] {
		r := azauthnAs(t, kc, stdin, c.args...)
		if i == 0 {
			wantCode(t, c.String(), r, 0, "azurehost.authn.dap.io/ledger-vm deleted from namespace "+ns)
			var gone authnv1alpha1.AzureHost
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ledger-vm"}, &gone); !apierrors.IsNotFound(err) {
				t.Fatalf("after %s: %v, want NotFound", c, err)
			}
		}
		// The doc promises that the teardown can be re-run.
		r = azauthnAs(t, kc, stdin, c.args...)
		wantCode(t, c.String()+" (re-run)", r, 0, "")
		if r.out != "" {
			t.Errorf("%s re-run printed %q", c, r.out)
		}
	}
}
