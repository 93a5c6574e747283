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

package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// Two replicas serve; the leader is killed without a chance to release
// its Lease; the survivor takes over status writes within the lease
// timings, while its own authentication never stops and revocations
// reach every live replica within the bound, before, during and after the
// leaderless window.
func TestSurvivorTakesOverWhenTheLeaderIsKilled(t *testing.T) {
	f := newFixture(t)
	f.host("steady", "rg-steady")
	f.exposedSecret("steady-db", "steady")
	f.host("flipper", "rg-flipper")
	flip := f.exposedSecret("flip-db", "flipper")
	victim1, victim2 := f.host("victim-1", "rg-victim-1"), f.host("victim-2", "rg-victim-2")
	f.exposedSecret("victim-db", "victim-1, victim-2")

	// The leader starts alone, so the Lease's first holder is its identity.
	leader := f.start("a")
	leaderID := f.waitHolder(t)
	survivor := f.start("b")
	both := []*replica{leader, survivor}
	for _, r := range both {
		tok := r.accessToken(t, f, "steady", "rg-steady")
		expectFetch(t, r, tok, f.variable("steady-db"), http.StatusOK)
	}
	if holder, err := f.leaseHolder(); err != nil || holder != leaderID {
		t.Fatalf("the Lease moved from a live leader: holder %q (%v), was %q", holder, err, leaderID)
	}
	// Tokens issued by the leader, used on both: the keys are shared.
	flipTok := leader.accessToken(t, f, "flipper", "rg-flipper")
	victim1Tok := leader.accessToken(t, f, "victim-1", "rg-victim-1")
	victim2Tok := leader.accessToken(t, f, "victim-2", "rg-victim-2")

	traffic := startTraffic(f, survivor)
	defer traffic.stop() // on a failure; a second stop is a no-op

	revokeGrant(t, "before the kill", flip, "flipper", flipTok, f.variable("flip-db"), both)
	revokeHost(t, "before the kill", victim1, victim1Tok, f.variable("victim-db"), both)

	killed := time.Now()
	leader.kill()
	// Created only once the leader is gone, so that only the survivor can
	// write its status.
	late := f.host("late", "rg-late")
	watch := watchTakeover(f, leaderID, late)

	// Leaderless: status writes wait for the takeover, revocations do not.
	revokeGrant(t, "leaderless", flip, "flipper", flipTok, f.variable("flip-db"), []*replica{survivor})
	revokeHost(t, "leaderless", victim2, victim2Tok, f.variable("victim-db"), []*replica{survivor})
	revokedBy := time.Since(killed)

	res := <-watch
	if res.err != nil {
		t.Fatal(res.err)
	}
	leaseTaken, statusWritten := res.leaseAt.Sub(killed), res.statusAt.Sub(killed)
	t.Logf("after the SIGKILL: the survivor held the Lease after %v and had written the new host's status after %v; "+
		"the leaderless-window revocations were done after %v",
		leaseTaken.Round(time.Millisecond), statusWritten.Round(time.Millisecond), revokedBy.Round(time.Millisecond))
	// The bound is leaseDuration + retryPeriod (4.5 s), plus a
	// stated margin of 2 s, because client-go's standby takes over once it
	// has seen the Lease unchanged for leaseDuration and looks every
	// retryPeriod plus up to 120% jitter (its JitterFactor): it may notice
	// the leader's last renewal up to one look after the kill and the
	// expiry up to one look late, so acquisition alone can take
	// leaseDuration + 2 x 2.2 x retryPeriod = 6.2 s at worst. Then the
	// controllers start on the new leader (the cache they read is synced
	// already: every replica feeds its index from it) and reconcile the
	// new host once, about 0.1 s here. The 6.5 s bound leaves that reconcile
	// 0.3 s even after the worst jitter.
	bound := leaseDuration + retryPeriod + 2*time.Second
	if statusWritten > bound {
		t.Fatalf("the survivor wrote status %v after the kill, want at most %v", statusWritten, bound)
	}
	if res.holder == leaderID {
		t.Fatalf("the Lease is still held by the killed leader %q", leaderID)
	}

	revokeGrant(t, "after the takeover", flip, "flipper", flipTok, f.variable("flip-db"), []*replica{survivor})

	st := traffic.stop()
	t.Logf("survivor traffic throughout: %d login+fetch rounds, %d during the leaderless window, longest gap between two successes %v",
		st.rounds, st.during(killed, res.leaseAt), st.maxGap.Round(time.Millisecond))
	if len(st.bad) > 0 {
		t.Fatalf("authentication on the survivor was interrupted (%d of %d rounds failed), first failures:\n%s",
			st.failed, st.rounds, strings.Join(st.bad, "\n"))
	}
	if st.during(killed, res.leaseAt) == 0 {
		t.Fatal("no survivor traffic during the leaderless window: the test proved nothing")
	}
}

// An access token issued before a restart still opens secrets after it:
// the signing keys live in the Secret, not in the process.
func TestTokensSurviveARestart(t *testing.T) {
	f := newFixture(t)
	f.host("app", "rg-app")
	f.exposedSecret("db", "app")
	first := f.start("first")
	tok := first.accessToken(t, f, "app", "rg-app")
	expectFetch(t, first, tok, f.variable("db"), http.StatusOK)
	keys := f.signingKeys(t)

	first.stop(t)
	second := f.startOn("second", first.authnAddr, first.probeAdr)
	expectFetch(t, second, tok, f.variable("db"), http.StatusOK)
	if after := f.signingKeys(t); after.UID != keys.UID || after.ResourceVersion != keys.ResourceVersion {
		t.Fatalf("the signing-key Secret changed across the restart (uid %s -> %s, resourceVersion %s -> %s)",
			keys.UID, after.UID, keys.ResourceVersion, after.ResourceVersion)
	}
}

// Deleting the signing-key Secret while no replica runs invalidates every
// access token issued with its keys: the next start makes new keys. The
// old token gets the generic 401, the reason only in the audit log; a new
// login works.
func TestRestartWithoutTheSigningKeySecretInvalidatesTokens(t *testing.T) {
	f := newFixture(t)
	f.host("app", "rg-app")
	f.exposedSecret("db", "app")
	first := f.start("first")
	tok := first.accessToken(t, f, "app", "rg-app")
	expectFetch(t, first, tok, f.variable("db"), http.StatusOK)
	keys := f.signingKeys(t)

	first.stop(t)
	if err := k8s.Delete(context.Background(), keys); err != nil {
		t.Fatalf("deleting the signing-key Secret: %v", err)
	}
	testenv.Eventually(t, "the signing-key Secret is gone", func() error {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(keys), &corev1.Secret{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	second := f.startOn("second", first.authnAddr, first.probeAdr)
	a := expectFetch(t, second, tok, f.variable("db"), http.StatusUnauthorized)
	if a.body != authn.GenericUnauthorizedBody {
		t.Fatalf("the old token got %s, want the generic 401 body", a)
	}
	audit := second.audit(t)
	if !slices.ContainsFunc(audit, func(e authn.AuditEvent) bool {
		return e.Operation == "fetch" && e.Result == "failure" && e.Code == string(failure.AccessTokenInvalid)
	}) {
		t.Fatalf("no fetch failure with %s in the new process's audit log: %+v", failure.AccessTokenInvalid, audit)
	}
	// Neither process logged the token (its signature is the secret part).
	var parsed struct{ Signature string }
	if err := json.Unmarshal([]byte(tok), &parsed); err != nil || parsed.Signature == "" {
		t.Fatalf("access token %q: %v", tok, err)
	}
	for _, path := range []string{first.auditPath, first.logPath, second.auditPath, second.logPath} {
		if b, err := os.ReadFile(path); err != nil || strings.Contains(string(b), parsed.Signature) {
			t.Fatalf("%s holds the access token's signature (or cannot be read: %v)", path, err)
		}
	}
	if recreated := f.signingKeys(t); recreated.UID == keys.UID {
		t.Fatal("the signing-key Secret was not re-created")
	}
	fresh := second.accessToken(t, f, "app", "rg-app")
	expectFetch(t, second, fresh, f.variable("db"), http.StatusOK)
}

// signingKeys is the fixture's signing-key Secret.
func (f *fixture) signingKeys(t *testing.T) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: signingSecret}, s); err != nil {
		t.Fatalf("reading the signing-key Secret: %v", err)
	}
	return s
}

// expectFetch fetches until the answer is not a 503 (a replica serves a
// namespace's secrets once its Secret cache has listed them) and fails
// unless that answer has status want (and, for a 200, the value).
func expectFetch(t *testing.T, r *replica, tok, variable string, want int) answer {
	t.Helper()
	var a answer
	testenv.Eventually(t, "replica "+r.name+" answers a fetch of "+variable, func() error {
		if a = r.fetch(tok, variable); a.err != nil || a.status == http.StatusServiceUnavailable {
			return errors.New(a.String())
		}
		return nil
	})
	_, secret, _ := strings.Cut(variable, "/")
	secret, _, _ = strings.Cut(secret, "/")
	if a.status != want || (want == http.StatusOK && a.body != "value of "+secret) {
		t.Fatalf("replica %s: fetching %s answered %s, want %d", r.name, variable, a, want)
	}
	return a
}

// followWithin waits until every replica answers a fetch with want,
// failing once revocationBound has passed since the API server
// acknowledged the change (since), and returns how long the slowest took.
func followWithin(t *testing.T, what string, since time.Time, replicas []*replica, tok, variable string, want int) time.Duration {
	t.Helper()
	for _, r := range replicas {
		for {
			a := r.fetch(tok, variable)
			if a.status == want {
				break
			}
			if time.Since(since) > revocationBound {
				t.Fatalf("%s: replica %s still answers %s %v after the change, want %d", what, r.name, a, revocationBound, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return time.Since(since)
}

// revokeGrant removes host from an exposed Secret's allowed-hosts and
// restores it; every replica must follow each change within the bound.
func revokeGrant(t *testing.T, phase string, sec *corev1.Secret, host, tok, variable string, replicas []*replica) {
	t.Helper()
	followWithin(t, phase+": the grant in place", time.Now(), replicas, tok, variable, http.StatusOK)
	testenv.Update(t, k8s, sec, func() { sec.Annotations[secrets.AllowedHostsAnnotation] = "nobody" })
	revoked := followWithin(t, phase+": grant revoked", time.Now(), replicas, tok, variable, http.StatusForbidden)
	testenv.Update(t, k8s, sec, func() { sec.Annotations[secrets.AllowedHostsAnnotation] = host })
	restored := followWithin(t, phase+": grant restored", time.Now(), replicas, tok, variable, http.StatusOK)
	t.Logf("%s: %d replica(s) followed the revoked grant within %v and the restored one within %v",
		phase, len(replicas), revoked.Round(time.Microsecond), restored.Round(time.Microsecond))
}

// revokeHost deletes an AzureHost; every replica must refuse its access
// token within the bound.
func revokeHost(t *testing.T, phase string, h *authnv1alpha1.AzureHost, tok, variable string, replicas []*replica) {
	t.Helper()
	followWithin(t, phase+": host "+h.Name+" in place", time.Now(), replicas, tok, variable, http.StatusOK)
	if err := k8s.Delete(context.Background(), h); err != nil {
		t.Fatalf("deleting host %s: %v", h.Name, err)
	}
	took := followWithin(t, phase+": host "+h.Name+" deleted", time.Now(), replicas, tok, variable, http.StatusUnauthorized)
	t.Logf("%s: %d replica(s) refused deleted host %s's token within %v", phase, len(replicas), h.Name, took.Round(time.Microsecond))
}

// takeover is when the test saw the Lease change hands and the new host's
// status written.
type takeover struct {
	holder            string
	leaseAt, statusAt time.Time
	err               error
}

// watchTakeover polls the Lease and the host until the host's Ready
// condition describes its generation (the leader's reconciler wrote it).
func watchTakeover(f *fixture, oldHolder string, h *authnv1alpha1.AzureHost) <-chan takeover {
	out := make(chan takeover, 1)
	go func() {
		var res takeover
		deadline := time.Now().Add(30 * time.Second)
		for res.statusAt.IsZero() {
			if time.Now().After(deadline) {
				res.err = fmt.Errorf("no status written within 30s of the kill (Lease holder %q)", res.holder)
				break
			}
			if res.leaseAt.IsZero() {
				if holder, err := f.leaseHolder(); err == nil && holder != "" && holder != oldHolder {
					res.holder, res.leaseAt = holder, time.Now()
				}
			}
			got := &authnv1alpha1.AzureHost{}
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(h), got); err == nil &&
				got.Status.ObservedGeneration == got.Generation && meta.FindStatusCondition(got.Status.Conditions, authnv1alpha1.ConditionReady) != nil {
				res.statusAt = time.Now()
				if !meta.IsStatusConditionTrue(got.Status.Conditions, authnv1alpha1.ConditionReady) {
					res.err = fmt.Errorf("the new host's status was written, but not Ready: %+v", got.Status.Conditions)
				}
				if res.leaseAt.IsZero() {
					// Seen in the same round: the Lease changed first.
					res.holder, _ = f.leaseHolder()
					res.leaseAt = res.statusAt
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		out <- res
	}()
	return out
}

// traffic is a workload logging in and reading its secret on one replica,
// over and over, for the whole test.
type traffic struct {
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	stats    trafficStats
}

type trafficStats struct {
	rounds, failed int
	bad            []string    // the first failures
	ok             []time.Time // when each successful round ended
	maxGap         time.Duration
}

// during counts the successful rounds that ended between from and to.
func (s trafficStats) during(from, to time.Time) int {
	n := 0
	for _, at := range s.ok {
		if at.After(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// startTraffic runs rounds of a fresh Azure token, a login as host
// "steady" and a fetch of "steady-db" on r, 20 ms apart (a steady
// workload, not a load test: the two cores are shared with the API
// server and both replicas).
func startTraffic(f *fixture, r *replica) *traffic {
	tr := &traffic{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		s := &tr.stats
		last := time.Now()
		for {
			a := r.login(f, "steady", f.azureToken("rg-steady"))
			if a.status == http.StatusOK {
				a = r.fetch(a.body, f.variable("steady-db"))
			}
			now := time.Now()
			s.rounds++
			if a.status != http.StatusOK || a.body != "value of steady-db" {
				s.failed++
				if len(s.bad) < 10 {
					s.bad = append(s.bad, fmt.Sprintf("%s: %s", now.Format(time.RFC3339Nano), a))
				}
			} else {
				s.ok = append(s.ok, now)
				s.maxGap = max(s.maxGap, now.Sub(last))
				last = now
			}
			select {
			case <-tr.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return tr
}

// stop ends the traffic and returns what it saw.
func (tr *traffic) stop() trafficStats {
	tr.stopOnce.Do(func() { close(tr.quit) })
	<-tr.done
	return tr.stats
}
