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

package signingkeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	ns      = "authn"
	keysSec = "authn-signing-keys"
)

func newStore(cs *fake.Clientset, clock *clocktesting.FakeClock) *Store {
	return &Store{Client: cs, Namespace: ns, Name: keysSec, Clock: clock, Log: logr.Discard()}
}

// stored returns the keys the fake API server holds, sorted as a Ring's.
func stored(t *testing.T, cs *fake.Clientset) []*accesstoken.SigningKey {
	t.Helper()
	keys, err := storedKeys(cs)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func storedKeys(cs *fake.Clientset) ([]*accesstoken.SigningKey, error) {
	obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("secrets"), ns, keysSec)
	if err != nil {
		return nil, err
	}
	keys, err := accesstoken.Unmarshal(obj.(*corev1.Secret).Data[DataKey])
	if err != nil {
		return nil, err
	}
	return accesstoken.NewRing(keys).Keys(), nil
}

// holds reports whether s holds exactly the keys ids.
func holds(s *Store, ids ...string) error {
	r := s.Ring()
	if r == nil {
		return errors.New("no keys")
	}
	var got []string
	for _, k := range r.Keys() {
		got = append(got, k.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		return fmt.Errorf("holds %v, want %v", got, ids)
	}
	return nil
}

// Start creates the Secret with one key that signs at once, follows the
// leader's rotation through the watch, and after the Secret's deletion
// holds no key until it has created a fresh one.
func TestStartCreatesFollowsAndRecreates(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	s := newStore(cs, clock)
	var mu sync.Mutex
	var loads []*accesstoken.Ring
	s.onLoad = func(r *accesstoken.Ring) {
		mu.Lock()
		defer mu.Unlock()
		loads = append(loads, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	testenv.Eventually(t, "the Secret is created and its key loaded", func() error {
		if r := s.Ring(); r == nil || r.Signer(clock.Now()) == nil {
			return errors.New("no key signs")
		}
		return nil
	})
	first := stored(t, cs)
	if len(first) != 1 {
		t.Fatalf("created with %d keys", len(first))
	}
	if err := holds(s, first[0].ID); err != nil {
		t.Fatal(err)
	}

	// The leader rotates; the new key reaches this replica.
	clock.Step(25 * time.Hour)
	leader := newStore(cs, clock)
	if err := leader.RotateOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := stored(t, cs)
	if len(rotated) != 2 {
		t.Fatalf("%d keys after a rotation", len(rotated))
	}
	testenv.Eventually(t, "the rotation reaches the replica", func() error { return holds(s, rotated[0].ID, rotated[1].ID) })

	// Key compromise: delete the Secret.
	if err := cs.CoreV1().Secrets(ns).Delete(context.Background(), keysSec, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "a fresh key replaces every old one", func() error {
		fresh, err := storedKeys(cs)
		if err != nil {
			return err
		}
		if len(fresh) != 1 || fresh[0].ID == rotated[0].ID || fresh[0].ID == rotated[1].ID {
			return fmt.Errorf("stored %d keys", len(fresh))
		}
		return holds(s, fresh[0].ID)
	})
	mu.Lock()
	defer mu.Unlock()
	cleared := false
	for _, r := range loads {
		cleared = cleared || r == nil
	}
	if !cleared {
		t.Fatal("the old keys were not dropped before the fresh one was loaded")
	}
}

// Replicas racing to create the Secret use whichever create won.
func TestCreateRaceUsesTheWinnersKeys(t *testing.T) {
	cs := fake.NewClientset()
	key, err := accesstoken.NewSigningKey(time.Now(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := accesstoken.Marshal([]*accesstoken.SigningKey{key})
	if err != nil {
		t.Fatal(err)
	}
	creates := 0
	cs.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		creates++
		winner := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: keysSec}, Data: map[string][]byte{DataKey: data}}
		if err := cs.Tracker().Add(winner); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, keysSec)
	})
	s := newStore(cs, clocktesting.NewFakeClock(time.Now()))
	if err := s.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := holds(s, key.ID); err != nil || creates != 1 {
		t.Fatalf("after %d creates: %v", creates, err)
	}
}

// RotateOnce publishes a new key Propagation before it signs, and drops a
// retired key Retain after its successor started signing.
func TestRotateOncePublishesEarlyAndRetiresLate(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	s := newStore(cs, clock)
	if err := s.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := stored(t, cs)[0]
	clock.Step(23 * time.Hour)
	if err := s.RotateOnce(context.Background()); err != nil || len(stored(t, cs)) != 1 {
		t.Fatalf("rotated before RotateAfter: %v", err)
	}
	clock.Step(time.Hour)
	if err := s.RotateOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := stored(t, cs)
	if len(keys) != 2 || keys[0].ID != first.ID || !keys[1].SignFrom.Equal(keys[1].Created.Add(2*time.Minute)) {
		t.Fatalf("after RotateAfter: %d keys", len(keys))
	}
	clock.Step(2*time.Minute + 70*time.Minute - time.Second)
	if err := s.RotateOnce(context.Background()); err != nil || len(stored(t, cs)) != 2 {
		t.Fatalf("retired key dropped before Retain: %v", err)
	}
	clock.Step(time.Second)
	if err := s.RotateOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := stored(t, cs); len(keys) != 1 || keys[0].ID == first.ID {
		t.Fatalf("after Retain: %d keys", len(keys))
	}
}

// A rotation that conflicts with another writer waits for the next round,
// and one without a Secret leaves its creation to the Store.
func TestRotateOnceLeavesConflictsAndMissingSecretsAlone(t *testing.T) {
	cs := fake.NewClientset()
	clock := clocktesting.NewFakeClock(time.Now())
	s := newStore(cs, clock)
	if err := s.RotateOnce(context.Background()); err != nil {
		t.Fatalf("without a Secret: %v", err)
	}
	if _, err := cs.CoreV1().Secrets(ns).Get(context.Background(), keysSec, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the rotation created the Secret: %v", err)
	}
	if err := s.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	updates := 0
	cs.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		updates++
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, keysSec, errors.New("the object has been modified"))
	})
	clock.Step(25 * time.Hour)
	if err := s.RotateOnce(context.Background()); err != nil || updates != 1 {
		t.Fatalf("on a conflict: %v after %d updates, want nil after one", err, updates)
	}
	if len(stored(t, cs)) != 1 {
		t.Fatal("a conflicting rotation was written")
	}
}
