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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	annotation = "authn.dap.io/registered-from"
	ledgerVM   = "/subscriptions/3f2c8a41-6b7d-4e90-a1c2-0d9e8f7a6b5c/resourceGroups/rg-payments/providers/Microsoft.Compute/virtualMachines/Ledger-VM"
	ledgerOID  = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "cmd", "kubectl-azauthn", "testdata", "az", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantCode(t *testing.T, what string, r result, code int, substr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.errOut+r.out, substr) {
		t.Fatalf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", what, r.code, r.out, r.errOut, code, substr)
	}
}

// The pipeline's path: az output on stdin, applied, waited for, and run
// again without changing anything.
func TestRegisterAppliesWaitsForReadyAndRerunsIdempotently(t *testing.T) {
	ns := testNamespace(t, true)
	r := azauthn(t, fixture(t, "vm-system.json"), "register", "-f", "-", "-n", ns, "--wait", "--timeout", "60s")
	wantCode(t, "register --wait", r, 0, "azurehost.authn.dap.io/ledger-vm is Ready (Admitted)")
	t.Logf("register --wait of a new host: Ready after %v (process start to exit)", r.took.Round(time.Millisecond))

	h := getHost(t, ns, "ledger-vm")
	if h.Spec.SubscriptionID != "3f2c8a41-6b7d-4e90-a1c2-0d9e8f7a6b5c" || h.Spec.ResourceGroup != "rg-payments" ||
		h.Spec.SystemAssignedIdentity != ledgerOID || h.Spec.TenantID != "5d7e9f1a-2b3c-4d5e-9f60-718293a4b5c6" {
		t.Errorf("stored spec %+v", h.Spec)
	}
	if h.Annotations[annotation] != ledgerVM {
		t.Errorf("annotation %q, want %q", h.Annotations[annotation], ledgerVM)
	}
	var applied bool
	for _, mf := range h.ManagedFields {
		if mf.Manager == "kubectl-azauthn" && mf.Operation == metav1.ManagedFieldsOperationApply {
			applied = true
		}
	}
	if !applied {
		t.Errorf("no server-side apply by kubectl-azauthn in managedFields: %+v", h.ManagedFields)
	}

	// Again, the same JSON, and the same resource named by flags with the
	// id in other casing (as az prints it at times): nothing changes.
	for i, args := range [][]string{
		{"register", "-f", "testdata/az/vm-system.json", "-n", ns, "--wait"},
		{"register", "--resource-id", strings.ToLower(ledgerVM), "--principal-id", ledgerOID,
			"--tenant-id", "5d7e9f1a-2b3c-4d5e-9f60-718293a4b5c6", "--name", "ledger-vm", "-n", ns, "--wait"},
	} {
		r := azauthn(t, "", args...)
		wantCode(t, "re-run", r, 0, "is Ready (Admitted)")
		again := getHost(t, ns, "ledger-vm")
		if again.UID != h.UID || again.Generation != h.Generation || !equality.Semantic.DeepEqual(again.Spec, h.Spec) {
			t.Errorf("re-run %d changed the host: uid %s→%s, generation %d→%d, spec %+v→%+v",
				i, h.UID, again.UID, h.Generation, again.Generation, h.Spec, again.Spec)
		}
	}

	// -o yaml --wait prints the stored object once Ready, status included
	// (without managedFields), and nothing else.
	r = azauthn(t, "", "register", "-f", "testdata/az/vm-system.json", "-n", ns, "-o", "yaml", "--wait")
	wantCode(t, "-o yaml", r, 0, "uid: "+string(h.UID))
	if !strings.Contains(r.out, "reason: Admitted") || strings.Contains(r.out, "azurehost.authn.dap.io/") {
		t.Errorf("-o yaml --wait printed %q", r.out)
	}
	if strings.Contains(r.out, "managedFields") {
		t.Errorf("-o yaml printed managedFields")
	}
	var printed authnv1alpha1.AzureHost
	if err := yaml.Unmarshal([]byte(r.out), &printed); err != nil || !equality.Semantic.DeepEqual(printed.Spec, h.Spec) {
		t.Errorf("-o yaml: %v, spec %+v", err, printed.Spec)
	}
}

// A user-assigned identity from a compute resource's JSON is applied as
// the identity's host pinned to the resource, and the API server accepts it.
func TestRegisterUserAssignedFromSeveral(t *testing.T) {
	ns := testNamespace(t, true)
	r := azauthn(t, "", "register", "-f", "testdata/az/containerapp-users.json", "--identity", "user=id-checkout",
		"--label", "tier=web", "-n", ns, "--wait")
	wantCode(t, "register", r, 0, "azurehost.authn.dap.io/checkout is Ready (Admitted)")
	h := getHost(t, ns, "checkout")
	if h.Spec.UserAssignedIdentity != "id-checkout" || h.Spec.ResourceGroup != "rg-identities" ||
		!strings.HasSuffix(h.Spec.ResourceID, "/Microsoft.App/containerApps/checkout") || h.Labels["tier"] != "web" {
		t.Errorf("stored %v %+v", h.Labels, h.Spec)
	}
	if h.Status.Identity != "user-assigned/id-checkout" {
		t.Errorf("status.identity %q", h.Status.Identity)
	}
}

// Re-registering the same resource with another of its identities moves
// the host over whole: server-side apply drops the field this command
// set before and no longer sets, so the host never holds both identities.
func TestRegisterSwitchesTheIdentityOfTheSameResource(t *testing.T) {
	ns := testNamespace(t, true)
	wantCode(t, "system", azauthn(t, "", "register", "-f", "testdata/az/webapp-both.json", "--identity", "system", "-n", ns, "--wait"), 0, "is Ready (Admitted)")
	if h := getHost(t, ns, "billing-api"); h.Spec.SystemAssignedIdentity == "" {
		t.Fatalf("stored %+v", h.Spec)
	}
	wantCode(t, "user", azauthn(t, "", "register", "-f", "testdata/az/webapp-both.json", "--identity", "user", "-n", ns, "--wait"), 0, "is Ready (Admitted)")
	h := getHost(t, ns, "billing-api")
	if h.Spec.SystemAssignedIdentity != "" || h.Spec.UserAssignedIdentity != "id-billing-api" || h.Spec.ResourceGroup != "rg-identities" ||
		!strings.HasSuffix(h.Spec.ResourceID, "/sites/billing-api") || h.Status.Identity != "user-assigned/id-billing-api" {
		t.Errorf("after switching: spec %+v, status.identity %q", h.Spec, h.Status.Identity)
	}
}

// --wait on a host no authenticator admits: exit 3 (not 2) after the
// timeout, with the condition's reason.
func TestRegisterWaitTimesOutWithTheReason(t *testing.T) {
	ns := testNamespace(t, false)
	r := azauthn(t, "", "register", "-f", "testdata/az/functionapp-system.json", "-n", ns, "--wait", "--timeout", "2s")
	wantCode(t, "register --wait", r, 3, "reason NoAuthenticator")
	if !strings.Contains(r.errOut, "not Ready within 2s") {
		t.Errorf("stderr %q does not say what it waited for", r.errOut)
	}
	if r.took < 2*time.Second {
		t.Errorf("gave up after %v, before the 2s timeout", r.took)
	}
	t.Logf("--timeout 2s on a host never Ready: exit 3 after %v", r.took.Round(time.Millisecond))
	// It was applied nonetheless: a later authenticator may admit it.
	getHost(t, ns, "invoice-fn")
}

// The guard against inheriting grants: a host of that name registered for
// another resource, or written by hand, is left alone unless --overwrite,
// and --overwrite replaces it whole.
func TestRegisterRefusesAnotherResourcesHostUnlessOverwrite(t *testing.T) {
	ns := testNamespace(t, true)
	r := azauthn(t, "", "register", "-f", "testdata/az/vm-system.json", "-n", ns, "--name", "shared", "--label", "keep=no")
	wantCode(t, "first", r, 0, "azurehost.authn.dap.io/shared applied")
	before := getHost(t, ns, "shared")

	r = azauthn(t, "", "register", "-f", "testdata/az/vm-user.json", "-n", ns, "--name", "shared", "--wait")
	wantCode(t, "another resource", r, 1, "already exists and is registered for "+ledgerVM)
	if !strings.Contains(r.errOut, "--overwrite") {
		t.Errorf("the refusal does not name --overwrite: %q", r.errOut)
	}
	if after := getHost(t, ns, "shared"); after.UID != before.UID || after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("the refused run changed the host")
	}
	// --dry-run=server --overwrite changes nothing either.
	r = azauthn(t, "", "register", "-f", "testdata/az/vm-user.json", "-n", ns, "--name", "shared", "--overwrite", "--dry-run=server")
	wantCode(t, "dry-run overwrite", r, 0, "replaced (server dry run)")
	if after := getHost(t, ns, "shared"); after.UID != before.UID || !equality.Semantic.DeepEqual(after.Spec, before.Spec) {
		t.Fatalf("the server dry run changed the host")
	}

	r = azauthn(t, "", "register", "-f", "testdata/az/vm-user.json", "-n", ns, "--name", "shared", "--overwrite", "--wait")
	wantCode(t, "--overwrite", r, 0, "is Ready (Admitted)")
	after := getHost(t, ns, "shared")
	want := authnv1alpha1.AzureHostSpec{SubscriptionID: "9c1e2d3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5", ResourceGroup: "rg-identities",
		UserAssignedIdentity: "id-ledger",
		ResourceID:           "/subscriptions/3f2c8a41-6b7d-4e90-a1c2-0d9e8f7a6b5c/resourceGroups/rg-payments/providers/Microsoft.Compute/virtualMachines/batch-vm-01"}
	if after.Spec.SubscriptionID != want.SubscriptionID || after.Spec.ResourceGroup != want.ResourceGroup ||
		after.Spec.UserAssignedIdentity != want.UserAssignedIdentity || after.Spec.ResourceID != want.ResourceID ||
		after.Spec.SystemAssignedIdentity != "" || after.Spec.TenantID != "" || len(after.Labels) != 0 {
		t.Errorf("--overwrite left %v %+v, want exactly %+v", after.Labels, after.Spec, want)
	}
	if after.UID == before.UID || !strings.HasSuffix(after.Annotations[annotation], "/batch-vm-01") {
		t.Errorf("--overwrite kept uid %s / annotation %q", after.UID, after.Annotations[annotation])
	}

	// A host written by hand (no annotation) is refused the same way.
	hand := &authnv1alpha1.AzureHost{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger-vm"},
		Spec:       authnv1alpha1.AzureHostSpec{SubscriptionID: "3f2c8a41-6b7d-4e90-a1c2-0d9e8f7a6b5c", ResourceGroup: "rg-payments"},
	}
	if err := k8s.Create(context.Background(), hand); err != nil {
		t.Fatal(err)
	}
	r = azauthn(t, "", "register", "-f", "testdata/az/vm-system.json", "-n", ns)
	wantCode(t, "hand-written host", r, 1, "was not registered by this command")
}

func TestRegisterDryRunServerStoresNothing(t *testing.T) {
	ns := testNamespace(t, true)
	r := azauthn(t, "", "register", "-f", "testdata/az/webapp-both.json", "--identity", "system", "-n", ns, "--dry-run=server", "-o", "json", "--wait")
	wantCode(t, "--dry-run=server", r, 0, `"systemAssignedIdentity": "8d9e0f1a-2b3c-4d4e-b5f6-a7b8c9d0e1f2"`)
	var h authnv1alpha1.AzureHost
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "billing-api"}, &h); !apierrors.IsNotFound(err) {
		t.Fatalf("after a server dry run: %v, want NotFound", err)
	}
	// The server side answers: a namespace that does not exist is refused.
	r = azauthn(t, "", "register", "-f", "testdata/az/webapp-both.json", "--identity", "system", "-n", "no-such-namespace", "--dry-run=server")
	wantCode(t, "missing namespace", r, 1, "not found")
}

func TestUnregisterDeletesOnlyTheResourcesHost(t *testing.T) {
	ns := testNamespace(t, true)
	wantCode(t, "register vm", azauthn(t, "", "register", "-f", "testdata/az/vm-system.json", "-n", ns), 0, "applied")
	wantCode(t, "register other", azauthn(t, "", "register", "-f", "testdata/az/vm-user.json", "-n", ns), 0, "applied")

	// --name of a host registered for another resource: refused.
	r := azauthn(t, "", "unregister", "--resource-id", ledgerVM, "--name", "batch-vm-01", "-n", ns)
	wantCode(t, "wrong --name", r, 1, "is not registered for")
	getHost(t, ns, "batch-vm-01")

	r = azauthn(t, "", "unregister", "-f", "testdata/az/vm-system.json", "-n", ns, "--dry-run=server")
	wantCode(t, "server dry run", r, 0, "azurehost.authn.dap.io/ledger-vm deleted (server dry run)")
	getHost(t, ns, "ledger-vm")

	r = azauthn(t, fixture(t, "vm-system.json"), "unregister", "-f", "-", "-n", ns)
	wantCode(t, "unregister", r, 0, "azurehost.authn.dap.io/ledger-vm deleted from namespace "+ns)
	var h authnv1alpha1.AzureHost
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "ledger-vm"}, &h); !apierrors.IsNotFound(err) {
		t.Fatalf("after unregister: %v, want NotFound", err)
	}
	getHost(t, ns, "batch-vm-01") // the other resource's host stays

	// Re-runs: an error, unless --ignore-not-found.
	wantCode(t, "again", azauthn(t, "", "unregister", "--resource-id", strings.ToUpper(ledgerVM), "-n", ns), 1, "no azurehost in namespace")
	wantCode(t, "again, ignored", azauthn(t, "", "unregister", "--resource-id", ledgerVM, "-n", ns, "--ignore-not-found"), 0, "")
}

// A pipeline holds the azurehost-editor role in its namespace only: that
// is enough for register --wait and unregister there, and nothing
// elsewhere.
func TestPipelineWithTheEditorRoleInOneNamespace(t *testing.T) {
	ns, other := testNamespace(t, true), testNamespace(t, true)
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "azurehost_editor_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k8s.Create(ctx, &role); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	user, groups := testenv.ServiceAccountUser(ns, "pipeline")
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pipeline"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "pipeline"}},
	}
	if err := k8s.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	kc, err := env.KubeconfigAs(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	// RBAC may take a moment to see the binding.
	testenv.Eventually(t, "register as the pipeline", func() error {
		if r := azauthnAs(t, kc, "", "register", "-f", "testdata/az/vm-system.json", "-n", ns, "--wait"); r.code != 0 {
			return &failure{r}
		}
		return nil
	})
	wantCode(t, "re-run as the pipeline", azauthnAs(t, kc, "", "register", "-f", "testdata/az/vm-system.json", "-n", ns, "--wait"), 0, "is Ready (Admitted)")
	wantCode(t, "another namespace", azauthnAs(t, kc, "", "register", "-f", "testdata/az/vm-system.json", "-n", other), 1, "forbidden")
	wantCode(t, "unregister as the pipeline", azauthnAs(t, kc, "", "unregister", "-f", "testdata/az/vm-system.json", "-n", ns), 0, "deleted")
}

type failure struct{ r result }

func (f *failure) Error() string { return f.r.errOut }

// Another field manager's fields are not taken silently.
func TestRegisterConflictWithAnotherFieldManager(t *testing.T) {
	ns := testNamespace(t, true)
	wantCode(t, "first", azauthn(t, "", "register", "-f", "testdata/az/webapp-both.json", "--identity", "system", "-n", ns, "--field-manager", "pipeline-a"), 0, "applied")
	before := getHost(t, ns, "billing-api")
	r := azauthn(t, "", "register", "-f", "testdata/az/webapp-both.json", "--identity", "user", "-n", ns, "--field-manager", "pipeline-b")
	wantCode(t, "second manager", r, 1, "--force-conflicts takes them over")
	if after := getHost(t, ns, "billing-api"); after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the conflicting apply changed the host")
	}
}
