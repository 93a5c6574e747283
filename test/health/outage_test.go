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

package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/app"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	// outageMaxStaleness is the strict replica's --max-staleness: short,
	// so that an outage passes it soon, long enough that a request made
	// right after the cut is still answered from the last index.
	outageMaxStaleness = 3 * time.Second
	// outageShort outlasts outageMaxStaleness; outageLong is long enough
	// for the reflectors' backoff to reach steps of 6 to 25 s.
	outageShort = 6 * time.Second
	outageLong  = 15 * time.Second
	// outageRevocationBound is the README's promise: a revocation takes
	// effect within 5 s of the replica's view being current again.
	outageRevocationBound     = 5 * time.Second
	outageGenericUnauthorized = `{"error":{"code":"unauthorized","message":"CONJ00002E Invalid credentials"}}`
)

// outageInformers are the index's informers and the Secret informer of a
// replica serving every namespace ("secrets").
var outageInformers = []string{"azurehosts", "azureauthenticators", "namespaces", "secrets"}

// outageReplica is a replica (as main.go assembles it) whose API server
// connections all go through the test's proxy. Its requests are the
// restricted replica's helpers; it runs as the envtest admin, since RBAC
// is not what these tests are about.
type outageReplica struct {
	restrictedReplica
	name   string
	strict bool // --max-staleness set
	done   chan struct{}
	err    error // why the manager stopped, once done is closed
}

func startOutageReplica(t *testing.T, p *testenv.Proxy, name string, maxStaleness time.Duration) *outageReplica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := app.Defaults()
	o.MetricsAddr, o.ProbeAddr, o.Namespace, o.Account, o.Audit = "0", "0", "default", account, io.Discard
	o.TLSSecret, o.TLSSANs, o.SigningKeySecret = "authn-test-tls", []string{"127.0.0.1"}, "authn-test-signing-keys"
	o.MaxStaleness = maxStaleness // every namespace's Secrets: one "secrets" informer
	o.Testing = app.Testing{Listener: ln, DialContext: loopback.DialContext, SeveralManagers: true}
	r := &outageReplica{name: name, strict: maxStaleness > 0, done: make(chan struct{})}
	if r.app, err = app.New(p.Config(env.Config), o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(r.done); r.err = r.app.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if r.err != nil {
			t.Errorf("%s stopped with: %v", name, r.err)
		}
	})
	r.base = "https://" + ln.Addr().String()
	eventually(t, name+" ready", r.app.Ready)
	transport, err := loopback.TransportTrusting(r.app.ServingCert.CertificatePEM())
	if err != nil {
		t.Fatal("no serving certificate")
	}
	r.client = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	return r
}

// alive fails t if the replica's manager has returned: an outage must
// not stop it.
func (r *outageReplica) alive(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		t.Fatalf("%s stopped during the outage: %v", r.name, r.err)
	default:
	}
}

// outageWorld is one cycle's objects, created while the API server is
// reachable: in namespace ns, hosts keep, gone and app, Secret db
// allowing app and keep; in namespace relabelled, host app, admitted by
// the namespace's label.
type outageWorld struct {
	f          *fixture
	relabelled string
	tokens     map[*outageReplica]map[string]string // access tokens, by login
}

func newOutageWorld(t *testing.T, replicas []*outageReplica) *outageWorld {
	t.Helper()
	f := newFixture(t)
	w := &outageWorld{f: f, relabelled: f.ns + "-r", tokens: map[*outageReplica]map[string]string{}}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.relabelled, Labels: map[string]string{"authn-test": f.ns}}})
	for _, h := range []string{"keep", "gone", "app"} {
		f.host(h, rgSpec("rg-apps"))
	}
	create(t, &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: w.relabelled, Name: "app"}, Spec: rgSpec("rg-apps")})
	f.exposedSecret("db", "app,keep", map[string][]byte{"k": []byte("value-" + f.ns)})
	for _, r := range replicas {
		w.tokens[r] = map[string]string{}
		eventually(t, r.name+" serves the cycle's hosts and Secret", func() error {
			for _, login := range [][2]string{{f.ns, "keep"}, {f.ns, "gone"}, {f.ns, "app"}, {w.relabelled, "app"}} {
				resp := r.authenticate(t, f, login[0], login[1])
				if resp.status != http.StatusOK {
					return fmt.Errorf("host/%s/%s: %d %s", login[0], login[1], resp.status, resp.body)
				}
				w.tokens[r][login[0]+"/"+login[1]] = resp.body
			}
			for _, h := range []string{"app", "keep"} {
				if resp := r.fetch(t, w.tokens[r][f.ns+"/"+h], w.secretID()); resp.status != http.StatusOK || resp.body != "value-"+f.ns {
					return fmt.Errorf("%s's secret: %d %s", h, resp.status, resp.body)
				}
			}
			return nil
		})
	}
	return w
}

func (w *outageWorld) secretID() string { return w.f.ns + "/db/k" }

// outageRevocation is one kind of revocation made during the outage: the
// informer whose recovery brings it to a replica, and the request it
// denies, with the status that shows it.
type outageRevocation struct {
	kind     string
	informer string
	revoke   func(t *testing.T)
	request  func(t *testing.T, r *outageReplica) response
	denied   int
}

func (w *outageWorld) revocations() []outageRevocation {
	f := w.f
	return []outageRevocation{{
		kind: "AzureHost deleted", informer: "azurehosts",
		revoke: func(t *testing.T) {
			h := &authnv1alpha1.AzureHost{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "gone"}}
			if err := k8s.Delete(context.Background(), h); err != nil {
				t.Fatal(err)
			}
		},
		request: func(t *testing.T, r *outageReplica) response { return r.authenticate(t, f, f.ns, "gone") },
		denied:  http.StatusUnauthorized,
	}, {
		kind: "namespace relabelled", informer: "namespaces",
		revoke: func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.relabelled}}
			testenv.Update(t, k8s, ns, func() { ns.Labels["authn-test"] = "elsewhere" })
		},
		// The host exists but its authenticator no longer admits it.
		request: func(t *testing.T, r *outageReplica) response { return r.authenticate(t, f, w.relabelled, "app") },
		denied:  http.StatusForbidden,
	}, {
		kind: "Secret's allowed-hosts narrowed", informer: "secrets",
		revoke: func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "db"}}
			testenv.Update(t, k8s, s, func() { s.Annotations[secrets.AllowedHostsAnnotation] = "keep" })
		},
		request: func(t *testing.T, r *outageReplica) response {
			return r.fetch(t, w.tokens[r][f.ns+"/app"], w.secretID())
		},
		denied: http.StatusForbidden,
	}}
}

// outageSample is one revocation on one replica after one outage:
// relist is restore → the informer carrying it lists/watches again (its
// staleness back to 0); current is restore → the replica may answer from
// that informer (the strict one also needs its whole view current);
// effect is restore → the request is denied with the revocation's
// status.
type outageSample struct {
	replica, kind           string
	outage                  time.Duration
	relist, current, effect time.Duration
	revokedServed           int // 200s to the revoked request after restore
}

// outageModes are the two ways the API server becomes unreachable
// (testenv.Proxy), each with its short outage. Refused, as a stopped API
// server or a Service without endpoints: the reflectors retry their watch
// from the last resource version, with backoff. Closed at once, as a load
// balancer without backends: client-go's REST client retries a GET that
// fails with EOF or a reset 10 times, 1 s apart, before an informer hears
// of it, so that outage must last longer to be seen.
var outageModes = []struct {
	name  string
	cut   func(*testenv.Proxy) (int, error)
	short time.Duration
}{
	{"refused", func(p *testenv.Proxy) (int, error) { return p.Cut(), nil }, outageShort},
	{"closed at once", (*testenv.Proxy).CutClosing, 14 * time.Second},
}

// The API server becomes unreachable (every connection of the replicas
// cut, new ones refused or closed at once) while two replicas serve:
// "strict" with --max-staleness, "lenient" without. Both keep
// authenticating from their last index at first; the strict one answers
// 503 AZAUTH014E once its view is older than --max-staleness, the lenient
// one keeps answering 200, even for a host revoked meanwhile, and both
// answer 503 AZAUTH018E for Secrets (a Secret informer that fails is not
// served). Nothing stops. When the API server is back, each informer
// recovers after client-go's backoff, and every revocation made during
// the outage is in effect within 5 s of the replica being current again.
//
// One short outage per mode always runs (about 30 s in all, most of it
// the outages and the replicas' start: well under the 90 s this suite
// may spend here). SOAK=1 adds, to the refused mode, a long outage and
// another short one on the same replicas, to show client-go's backoff
// growing with the outage and carrying over to the next one (it is reset
// only 2 min after its last reset): up to about 3 min more.
func TestAPIServerOutageServesTheLastIndexThenFollowsRevocationsOnceBack(t *testing.T) {
	for _, mode := range outageModes {
		t.Run(mode.name, func(t *testing.T) {
			p, err := testenv.NewAPIServerProxy(env.Config)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			replicas := []*outageReplica{
				startOutageReplica(t, p, "strict", outageMaxStaleness),
				startOutageReplica(t, p, "lenient", 0),
			}
			lengths := []time.Duration{mode.short}
			if os.Getenv("SOAK") == "1" && mode.name == "refused" {
				lengths = append(lengths, outageLong, outageShort)
			}
			var samples []outageSample
			for i, length := range lengths {
				w := newOutageWorld(t, replicas)
				got := outageCycle(t, p, mode.cut, replicas, w, length)
				for _, s := range got {
					t.Logf("cycle %d, outage %v, %s, %s: restore → informer recovered %v, → replica current %v, → revocation in effect %v (%v after current); 200s to the revoked request after restore: %d",
						i+1, s.outage.Round(time.Millisecond), s.replica, s.kind, s.relist.Round(time.Millisecond), s.current.Round(time.Millisecond),
						s.effect.Round(time.Millisecond), (s.effect - s.current).Round(time.Millisecond), s.revokedServed)
				}
				samples = append(samples, got...)
				outageAfterRecovery(t, replicas, w)
			}
			for _, s := range samples {
				if d := s.effect - s.current; d > outageRevocationBound {
					t.Errorf("%s, %s: in effect %v after the replica was current again, want at most %v", s.replica, s.kind, d, outageRevocationBound)
				}
			}
		})
	}
}

// outageCycle cuts the API server for length, revoking each kind during
// the cut, and measures the recovery.
func outageCycle(t *testing.T, p *testenv.Proxy, cut func(*testenv.Proxy) (int, error), replicas []*outageReplica, w *outageWorld, length time.Duration) []outageSample {
	t.Helper()
	f := w.f
	revocations := w.revocations()
	cutAt := time.Now()
	if n, err := cut(p); err != nil || n == 0 {
		t.Fatalf("cutting the replicas' connections: %d cut, %v", n, err)
	}
	for _, r := range replicas {
		if resp := r.authenticate(t, f, f.ns, "keep"); resp.status != http.StatusOK {
			t.Fatalf("%s right after the cut (staleness %v): %d %s", r.name, r.app.Contact.Staleness(), resp.status, resp.body)
		}
	}
	// Through the test's own client, which does not go through the proxy.
	for _, rev := range revocations {
		rev.revoke(t)
	}

	eventually(t, "views older than --max-staleness", func() error {
		for _, r := range replicas {
			if s := r.app.Contact.Staleness(); s <= outageMaxStaleness {
				return fmt.Errorf("%s: staleness %v", r.name, s)
			}
		}
		if v := outageGauge(t, "azure_authenticator_view_staleness_seconds", ""); v <= outageMaxStaleness.Seconds() {
			return fmt.Errorf("view staleness metric %v", v)
		}
		return nil
	})
	t.Logf("cut → views older than --max-staleness (%v): %v", outageMaxStaleness, time.Since(cutAt).Round(time.Millisecond))
	for _, r := range replicas {
		testenv.EventuallyWithin(t, 25*time.Second, r.name+": every informer reports the outage", func() error {
			for _, name := range outageInformers {
				if s := r.app.Informers.Staleness(name); s == 0 {
					return fmt.Errorf("%s staleness 0", name)
				}
			}
			return nil
		})
	}
	t.Logf("cut → every informer reports the outage: %v", time.Since(cutAt).Round(time.Millisecond))
	eventually(t, "the informer staleness metric", func() error {
		if v := outageGauge(t, "azure_authenticator_informer_staleness_seconds", "azurehosts"); v == 0 {
			return errors.New("azurehosts informer staleness metric 0")
		}
		return nil
	})
	for _, r := range replicas {
		r.alive(t)
		keep := r.authenticate(t, f, f.ns, "keep")
		secret := r.fetch(t, w.tokens[r][f.ns+"/keep"], w.secretID())
		if r.strict {
			var fe *failure.Error
			if err := r.app.Ready(); !errors.As(err, &fe) || fe.Code != failure.ViewTooStale {
				t.Fatalf("%s readiness past --max-staleness: %v, want %s", r.name, err, failure.ViewTooStale)
			}
			outageWant503(t, r, keep, failure.ViewTooStale, "authenticate")
			outageWant503(t, r, secret, failure.ViewTooStale, "secret")
			if ra := outageRetryAfter(t, r, f); ra != "1" {
				t.Fatalf("%s: a stale 503 with Retry-After %q, want 1", r.name, ra)
			}
			continue
		}
		if err := r.app.Ready(); err != nil {
			t.Fatalf("%s (no --max-staleness) unready during the outage: %v", r.name, err)
		}
		if keep.status != http.StatusOK {
			t.Fatalf("%s during the outage: %d %s, want 200 from the last index", r.name, keep.status, keep.body)
		}
		// Its last index predates the revocations: it cannot know.
		if gone := r.authenticate(t, f, f.ns, "gone"); gone.status != http.StatusOK {
			t.Fatalf("%s during the outage, a host deleted meanwhile: %d %s, want 200 from the last index", r.name, gone.status, gone.body)
		}
		outageWant503(t, r, secret, failure.SecretsUnavailable, "secret")
	}

	time.Sleep(time.Until(cutAt.Add(length))) // the outage's length is the experiment's input
	restoreAt := time.Now()
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	outage := restoreAt.Sub(cutAt)

	type state struct {
		relist  map[string]time.Duration // by informer
		current time.Duration            // the strict replica's whole view
		effect  map[string]time.Duration // by kind
		served  map[string]int
	}
	states := map[*outageReplica]*state{}
	for _, r := range replicas {
		states[r] = &state{relist: map[string]time.Duration{}, effect: map[string]time.Duration{}, served: map[string]int{}}
	}
	testenv.EventuallyWithin(t, backoffBound, "every informer recovered and every revocation in effect", func() error {
		var pending []string
		for _, r := range replicas {
			s := states[r]
			for _, name := range outageInformers {
				if _, ok := s.relist[name]; ok {
					continue
				}
				if r.app.Informers.Staleness(name) == 0 {
					s.relist[name] = time.Since(restoreAt)
				} else {
					pending = append(pending, r.name+": "+name+" informer")
				}
			}
			if s.current == 0 && r.app.Ready() == nil {
				s.current = time.Since(restoreAt)
			}
			for _, rev := range revocations {
				if _, ok := s.effect[rev.kind]; ok {
					continue
				}
				switch resp := rev.request(t, r); resp.status {
				case rev.denied:
					s.effect[rev.kind] = time.Since(restoreAt)
				case http.StatusOK:
					// --max-staleness: never from a view older than that.
					if r.strict && r.app.Ready() != nil {
						t.Fatalf("%s, %s: 200 while its view is stale (%v)", r.name, rev.kind, r.app.Contact.Staleness())
					}
					s.served[rev.kind]++
					pending = append(pending, r.name+": "+rev.kind+" (200)")
				default:
					pending = append(pending, fmt.Sprintf("%s: %s (%d)", r.name, rev.kind, resp.status))
				}
			}
			r.alive(t)
		}
		if len(pending) > 0 {
			return errors.New(strings.Join(pending, "; "))
		}
		return nil
	})

	var samples []outageSample
	for _, r := range replicas {
		s := states[r]
		var recovered []string
		for _, name := range outageInformers {
			recovered = append(recovered, fmt.Sprintf("%s %v", name, s.relist[name].Round(time.Millisecond)))
		}
		t.Logf("outage %v, %s: restore → informer recovered: %s; → ready %v", outage.Round(time.Millisecond), r.name,
			strings.Join(recovered, ", "), s.current.Round(time.Millisecond))
		for _, rev := range revocations {
			relist, ok := s.relist[rev.informer]
			if !ok {
				t.Fatalf("%s: the %s informer's recovery was not seen before the revocation took effect", r.name, rev.informer)
			}
			current := relist
			if r.strict {
				current = max(relist, s.current)
			}
			samples = append(samples, outageSample{replica: r.name, kind: rev.kind, outage: outage,
				relist: relist, current: current, effect: s.effect[rev.kind], revokedServed: s.served[rev.kind]})
		}
	}
	return samples
}

// outageAfterRecovery: the revoked are refused, the rest served, and
// nothing is stale any more.
func outageAfterRecovery(t *testing.T, replicas []*outageReplica, w *outageWorld) {
	t.Helper()
	f := w.f
	for _, r := range replicas {
		testenv.EventuallyWithin(t, backoffBound, r.name+": every informer current", func() error {
			for _, name := range outageInformers {
				if s := r.app.Informers.Staleness(name); s != 0 {
					return fmt.Errorf("%s staleness %v", name, s)
				}
			}
			return r.app.Ready()
		})
		if resp := r.authenticate(t, f, f.ns, "gone"); resp.status != http.StatusUnauthorized || resp.body != outageGenericUnauthorized {
			t.Errorf("%s, the deleted host: %d %s", r.name, resp.status, resp.body)
		}
		if resp := r.authenticate(t, f, w.relabelled, "app"); resp.status != http.StatusForbidden || !strings.Contains(resp.body, "CONJ00006E") {
			t.Errorf("%s, a host of the relabelled namespace: %d %s", r.name, resp.status, resp.body)
		}
		// A token issued before the host was deleted dies with it.
		if resp := r.fetch(t, w.tokens[r][f.ns+"/gone"], w.secretID()); resp.status != http.StatusUnauthorized {
			t.Errorf("%s, the deleted host's earlier token: %d %s", r.name, resp.status, resp.body)
		}
		if resp := r.fetch(t, w.tokens[r][f.ns+"/app"], w.secretID()); resp.status != http.StatusForbidden {
			t.Errorf("%s, a host no longer allowed by the Secret: %d %s", r.name, resp.status, resp.body)
		}
		if resp := r.authenticate(t, f, f.ns, "keep"); resp.status != http.StatusOK {
			t.Errorf("%s, the host still allowed: %d %s", r.name, resp.status, resp.body)
		}
		if resp := r.fetch(t, w.tokens[r][f.ns+"/keep"], w.secretID()); resp.status != http.StatusOK || resp.body != "value-"+f.ns {
			t.Errorf("%s, the Secret for the host still allowed: %d %s", r.name, resp.status, resp.body)
		}
		r.alive(t)
	}
	eventually(t, "the staleness metrics back to 0", func() error {
		for _, r := range replicas {
			// The API contact is probed each second.
			if s := r.app.Contact.Staleness(); s > 2*time.Second {
				return fmt.Errorf("%s: staleness %v after recovery", r.name, s)
			}
		}
		if v := outageGauge(t, "azure_authenticator_view_staleness_seconds", ""); v >= 2 {
			return fmt.Errorf("view staleness %v", v)
		}
		for _, name := range outageInformers {
			if v := outageGauge(t, "azure_authenticator_informer_staleness_seconds", name); v != 0 {
				return fmt.Errorf("%s informer staleness %v", name, v)
			}
		}
		return nil
	})
}

func outageWant503(t *testing.T, r *outageReplica, resp response, code failure.Code, what string) {
	t.Helper()
	if resp.status != http.StatusServiceUnavailable || !strings.Contains(resp.body, string(code)) {
		t.Fatalf("%s, %s during the outage: %d %s, want 503 %s", r.name, what, resp.status, resp.body, code)
	}
}

// outageRetryAfter is the Retry-After header of an authenticate request.
func outageRetryAfter(t *testing.T, r *outageReplica, f *fixture) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.base+"/authn-azure/"+f.service+"/"+account+"/"+url.PathEscape("host/"+f.ns+"/keep")+"/authenticate",
		strings.NewReader("jwt="+azure.Token(f.vm("rg-apps", "vm-1"), azuretest.TokenOptions{})))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s: %d, want 503", r.name, resp.StatusCode)
	}
	return resp.Header.Get("Retry-After")
}

// outageGauge reads a gauge of the process's registry; label is the
// informer label's value ("" for an unlabelled gauge). Every replica in
// the process sets the same series, each second.
func outageGauge(t *testing.T, name, label string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || outageLabel(m, "informer") == label {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{informer=%q}", name, label)
	return 0
}

func outageLabel(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
