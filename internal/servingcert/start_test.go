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

package servingcert_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/servingcert"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

// start runs s.Start until the test ends, and returns once Start waits on
// its timer: its first sync is done and its watch has begun. s's clock
// must be clock and have no other waiters.
func start(t *testing.T, s *servingcert.Source, clock *clocktesting.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	checked(t, clock)
}

// checked waits until Start has done what the last timer tick (if any)
// asked and waits on its timer again.
func checked(t *testing.T, clock *clocktesting.FakeClock) {
	t.Helper()
	testenv.Eventually(t, "Start waits on its timer", func() error {
		if !clock.HasWaiters() {
			return errors.New("no timer")
		}
		return nil
	})
}

// watching returns once a running Source's watch delivers events: the
// fake clientset drops a deletion made before its watch is registered (an
// API server would not). It makes the claim look unrenewed for an hour
// and waits until the Source, seeing that, renews it.
func watching(t *testing.T, cs *fake.Clientset, clock *clocktesting.FakeClock) {
	t.Helper()
	sec := stored(t, cs).DeepCopy()
	sec.Annotations[servingcert.RenewedAnnotation] = clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	if _, err := cs.CoreV1().Secrets(ns).Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := clock.Now().UTC().Format(time.RFC3339Nano)
	testenv.Eventually(t, "the Source renews the claim it sees unrenewed", func() error {
		if got := stored(t, cs).Annotations[servingcert.RenewedAnnotation]; got != want {
			return fmt.Errorf("renewed %s, want %s", got, want)
		}
		return nil
	})
}

// secretCalls counts the reads and writes of the serving-certificate
// Secret, by verb (not the list and watch of its watch).
func secretCalls(cs *fake.Clientset) map[string]int {
	n := map[string]int{}
	for _, a := range cs.Actions() {
		if v := a.GetVerb(); a.GetResource().Resource == "secrets" && v != "list" && v != "watch" {
			n[v]++
		}
	}
	return n
}

// A change by another replica is served as soon as the watch sees it, with
// no timer tick and no read of the Secret by this replica.
func TestStartFollowsAnotherReplicasWrite(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	old := newSource(cs, clock, "authn.old.example")
	start(t, old, clock)
	before := secretCalls(cs)

	updated := newSource(cs, clocktesting.NewFakeClock(clock.Now()), "authn.new.example")
	updated.Claimed = clock.Now().Add(time.Minute) // a newer rollout
	mustSync(t, updated)
	testenv.Eventually(t, "the running replica serves the newer claim's certificate", func() error {
		if !bytes.Equal(old.CAPEM(), updated.CAPEM()) {
			return errors.New("not yet")
		}
		return nil
	})
	if leaf := servedLeaf(t, old); !slices.Equal(leaf.DNSNames, []string{"authn.new.example"}) {
		t.Fatalf("serves %v", leaf.DNSNames)
	}
	after := secretCalls(cs)
	if after["get"] != before["get"]+1 || after["update"] != before["update"]+1 {
		t.Fatalf("requests for the Secret went from %v to %v, want only the other replica's read and write", before, after)
	}
}

// What time alone makes due is checked every Every from the Secret as last
// seen: nothing is asked of the API server until a claim renewal or a leaf
// renewal is due, and those are written.
func TestStartChecksWhatTimeMakesDueOnItsTimer(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	s := newSource(cs, clock, "localhost", "127.0.0.1")
	start(t, s, clock)
	first := servedLeaf(t, s)
	before := secretCalls(cs)

	for range 4 { // the claim is renewed every 5 minutes
		clock.Step(time.Minute)
		checked(t, clock)
	}
	if after := secretCalls(cs); !maps.Equal(after, before) {
		t.Fatalf("requests for the Secret went from %v to %v with nothing due", before, after)
	}
	clock.Step(time.Minute)
	want := clock.Now().UTC().Format(time.RFC3339Nano)
	testenv.Eventually(t, "the claim is renewed", func() error {
		if got := stored(t, cs).Annotations[servingcert.RenewedAnnotation]; got != want {
			return fmt.Errorf("renewed %s, want %s", got, want)
		}
		return nil
	})
	checked(t, clock)

	caPEM := s.CAPEM()
	clock.Step(61 * day) // 29 days before the leaf expires
	testenv.Eventually(t, "the leaf is renewed", func() error {
		if bytes.Equal(servedLeaf(t, s).Raw, first.Raw) {
			return errors.New("not yet")
		}
		return nil
	})
	if !bytes.Equal(s.CAPEM(), caPEM) {
		t.Fatal("the leaf renewal replaced the CA")
	}
	if after := secretCalls(cs); after["get"] != before["get"] {
		t.Fatalf("the Secret was read %d times, want its watch only", after["get"]-before["get"])
	}
}

// A deleted Secret is recreated at once, not at the next timer tick.
func TestStartRecreatesADeletedSecret(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	s := newSource(cs, clock, "localhost")
	start(t, s, clock)
	watching(t, cs, clock)
	old := s.CAPEM()
	if err := cs.CoreV1().Secrets(ns).Delete(context.Background(), secName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "a new Secret is written and served", func() error {
		sec, err := cs.CoreV1().Secrets(ns).Get(context.Background(), secName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if bytes.Equal(sec.Data["ca.crt"], old) || !bytes.Equal(s.CAPEM(), sec.Data["ca.crt"]) {
			return errors.New("not yet")
		}
		return nil
	})
}

// stored is the Secret as the fake API server holds it, read without a
// request that secretCalls would count.
func stored(t *testing.T, cs *fake.Clientset) *corev1.Secret {
	t.Helper()
	obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("secrets"), ns, secName)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*corev1.Secret)
}
