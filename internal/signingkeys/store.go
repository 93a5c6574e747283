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

// Package signingkeys keeps the access-token signing keys in one Secret
// that every replica reads, so a token issued by one replica verifies on all.
//
// Every replica creates the Secret if it is missing (racing replicas settle
// on whichever create won), reads it through the API server rather than a
// label-filtered cache, and watches it by name. The elected leader alone
// rotates: it publishes a new key Propagation before any replica may sign
// with it, and drops a retired key only after Retain, longer than the
// longest access-token lifetime plus clock skew.
package signingkeys

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
)

// DataKey is the Secret key holding the keys.
const DataKey = "keys.json"

// Store loads and watches the signing-key Secret. Ring is nil until loaded.
type Store struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// Propagation is how long a new key is published before anyone signs
	// with it [2m].
	Propagation time.Duration
	// RotateAfter is the age at which the leader adds a new key [24h].
	RotateAfter time.Duration
	// Retain is how long a key stays after a newer one starts signing [70m:
	// the 1h maximum tokenTTL + the 5m maximum clockSkew + margin].
	Retain time.Duration
	Now    func() time.Time
	Log    logr.Logger
	// OnLoad, if set, is called with the ring after every change of the
	// keys this replica holds, nil when it holds none (metrics).
	OnLoad func(*accesstoken.Ring)

	once sync.Once
	ring atomic.Pointer[accesstoken.Ring]
	// setMu orders ring changes with their OnLoad calls.
	setMu sync.Mutex
}

// defaults fills unset tunables once; Start, Sync and RotateOnce may run
// concurrently.
func (s *Store) defaults() { s.once.Do(s.setDefaults) }

func (s *Store) setDefaults() {
	if s.Propagation == 0 {
		s.Propagation = 2 * time.Minute
	}
	if s.RotateAfter == 0 {
		s.RotateAfter = 24 * time.Hour
	}
	if s.Retain == 0 {
		s.Retain = 70 * time.Minute
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}

// Ring returns the current keys, or nil before they are loaded.
func (s *Store) Ring() *accesstoken.Ring { return s.ring.Load() }

// setRing replaces the keys in use and reports them to OnLoad.
func (s *Store) setRing(r *accesstoken.Ring) {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.ring.Store(r)
	if s.OnLoad != nil {
		s.OnLoad(r)
	}
}

// NeedLeaderElection is false: every replica signs and verifies.
func (s *Store) NeedLeaderElection() bool { return false }

// Start ensures the Secret exists, loads it, and follows it until ctx ends.
// A deleted Secret (the key-compromise procedure) clears the ring, so the
// replica stops issuing and accepting tokens, and creates a fresh key.
func (s *Store) Start(ctx context.Context) error {
	s.defaults()
	if err := s.ensure(ctx); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(s.Client, 0,
		informers.WithNamespace(s.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + s.Name }))
	inf := factory.Core().V1().Secrets().Informer()
	recreate := make(chan struct{}, 1)
	_, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.load(obj) },
		UpdateFunc: func(_, obj any) { s.load(obj) },
		DeleteFunc: func(any) {
			s.Log.Info("Signing-key Secret deleted: no tokens are issued or accepted until it is recreated", "secret", s.Namespace+"/"+s.Name)
			s.setRing(nil)
			select {
			case recreate <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("failed to watch the signing-key Secret: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-recreate:
			if err := s.ensure(ctx); err != nil {
				s.Log.Error(err, "Failed to recreate the signing-key Secret; retrying")
				time.AfterFunc(5*time.Second, func() {
					select {
					case recreate <- struct{}{}:
					default:
					}
				})
			}
		}
	}
}

// ensure reads the Secret, creating it with one key when it is missing.
func (s *Store) ensure(ctx context.Context) error {
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	sec, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		now := s.Now()
		// Nobody can hold a token or a verifier yet: the first key signs at once.
		key, kerr := accesstoken.NewSigningKey(now, now)
		if kerr != nil {
			return kerr
		}
		data, kerr := accesstoken.Marshal([]*accesstoken.SigningKey{key})
		if kerr != nil {
			return kerr
		}
		sec, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "azure-authenticator"}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{DataKey: data},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Another replica won the race; use its keys.
			sec, err = secrets.Get(ctx, s.Name, metav1.GetOptions{})
		} else if err == nil {
			s.Log.Info("Created the signing-key Secret", "secret", s.Namespace+"/"+s.Name, "kid", key.ID)
		}
	}
	if err != nil {
		return fmt.Errorf("failed to read or create the signing-key Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	s.load(sec)
	if s.Ring() == nil {
		return fmt.Errorf("the signing-key Secret %s/%s holds no usable keys", s.Namespace, s.Name)
	}
	return nil
}

func (s *Store) load(obj any) {
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	if sec.DeletionTimestamp != nil {
		// Deleted, even if a finalizer holds it: the key-compromise
		// procedure must not depend on who else holds the Secret.
		s.setRing(nil)
		s.Log.Info("Signing-key Secret is being deleted: no tokens are issued or accepted until it is recreated", "secret", s.Namespace+"/"+s.Name)
		return
	}
	keys, err := accesstoken.Unmarshal(sec.Data[DataKey])
	if err != nil {
		// Fail closed: a broken Secret must not leave old keys in use.
		s.setRing(nil)
		s.Log.Error(err, "Signing-key Secret unusable: no tokens are issued or accepted", "secret", s.Namespace+"/"+s.Name)
		return
	}
	s.setRing(accesstoken.NewRing(keys))
}

// Rotator is the leader's half: it adds and retires keys.
type Rotator struct {
	Store *Store
	// Every is how often it checks [1m].
	Every time.Duration
}

// NeedLeaderElection is true: one writer.
func (r *Rotator) NeedLeaderElection() bool { return true }

// Start rotates when due until ctx ends.
func (r *Rotator) Start(ctx context.Context) error {
	every := r.Every
	if every == 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Store.RotateOnce(ctx); err != nil {
			r.Store.Log.Error(err, "Signing-key rotation failed; will retry")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RotateOnce adds a key when the newest is older than RotateAfter and drops
// keys retired longer than Retain ago. A conflict means another writer got
// there first; the next round looks again.
func (s *Store) RotateOnce(ctx context.Context) error {
	s.defaults()
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	sec, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return client404(err)
	}
	keys, err := accesstoken.Unmarshal(sec.Data[DataKey])
	if err != nil {
		return err
	}
	ring := accesstoken.NewRing(keys)
	keys = ring.Keys() // sorted by SignFrom
	now := s.Now()
	changed := false
	if newest := keys[len(keys)-1]; now.Sub(newest.Created) >= s.RotateAfter {
		k, err := accesstoken.NewSigningKey(now, now.Add(s.Propagation))
		if err != nil {
			return err
		}
		keys = append(keys, k)
		changed = true
		s.Log.Info("Published a new signing key", "kid", k.ID, "signFrom", k.SignFrom)
	}
	// A key is retired once its successor may sign; drop it Retain later.
	kept := keys[:0:0]
	for i, k := range keys {
		if i+1 < len(keys) && now.Sub(keys[i+1].SignFrom) >= s.Retain {
			changed = true
			s.Log.Info("Dropped a retired signing key", "kid", k.ID)
			continue
		}
		kept = append(kept, k)
	}
	if !changed {
		return nil
	}
	data, err := accesstoken.Marshal(slices.Clip(kept))
	if err != nil {
		return err
	}
	sec.Data[DataKey] = data
	if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to update the signing-key Secret: %w", err)
	}
	return nil
}

func client404(err error) error {
	if apierrors.IsNotFound(err) {
		return nil // the Store recreates it
	}
	return fmt.Errorf("failed to read the signing-key Secret: %w", err)
}
