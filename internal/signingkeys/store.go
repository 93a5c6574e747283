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
// on whichever create won), reads it through the API server, and watches
// it by name (internal/namedsecret). The elected leader alone rotates: it
// publishes a new key Propagation before any replica may sign with it, and
// drops a retired key only after Retain, longer than the longest
// access-token lifetime plus clock skew.
//
// It imports only internal/accesstoken and internal/namedsecret; never the
// controllers, the HTTP side or the assembly.
package signingkeys

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/namedsecret"
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
	// Clock dates the keys [the real clock].
	Clock clock.PassiveClock
	Log   logr.Logger

	once sync.Once
	ring atomic.Pointer[accesstoken.Ring]
	// setMu orders ring changes with their publication.
	setMu sync.Mutex
	// onLoad hears every ring change (tests).
	onLoad func(*accesstoken.Ring)
}

// defaults fills unset tunables once: Start and the Rotator's RotateOnce
// may run concurrently.
func (s *Store) defaults() { s.once.Do(s.setDefaults) }

func (s *Store) setDefaults() {
	s.Propagation = cmp.Or(s.Propagation, 2*time.Minute)
	s.RotateAfter = cmp.Or(s.RotateAfter, 24*time.Hour)
	s.Retain = cmp.Or(s.Retain, 70*time.Minute)
	if s.Clock == nil {
		s.Clock = clock.RealClock{}
	}
}

func (s *Store) secret() namedsecret.Secret {
	return namedsecret.Secret{Client: s.Client, Namespace: s.Namespace, Name: s.Name}
}

// Ring returns the current keys, or nil before they are loaded.
func (s *Store) Ring() *accesstoken.Ring { return s.ring.Load() }

// setRing replaces the keys in use and publishes their number.
func (s *Store) setRing(r *accesstoken.Ring) {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.ring.Store(r)
	n := 0
	if r != nil {
		n = len(r.Keys())
	}
	keysHeld.Set(float64(n))
	if s.onLoad != nil {
		s.onLoad(r)
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
	w, err := s.secret().Watch(ctx, func(sec *corev1.Secret) {
		if sec == nil {
			s.Log.Info("Signing-key Secret deleted: no tokens are issued or accepted until it is recreated", "secret", s.secret().String())
		}
		s.load(sec)
	})
	if w == nil {
		return err // nil when ctx ended first
	}
	defer w.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.Changed():
		case <-retry:
		}
		retry = nil
		if w.Last() != nil {
			continue
		}
		if err := s.ensure(ctx); err != nil {
			s.Log.Error(err, "Failed to recreate the signing-key Secret; retrying")
			retry = time.After(5 * time.Second)
		}
	}
}

// ensure reads the Secret, creating it with one key when it is missing.
func (s *Store) ensure(ctx context.Context) error {
	var created *accesstoken.SigningKey
	// Two attempts: a create that loses the race reads the winner's keys.
	sec, err := s.secret().Change(ctx, 2, func(sec *corev1.Secret) (*corev1.Secret, error) {
		created = nil
		if sec != nil {
			return nil, nil
		}
		now := s.Clock.Now()
		// Nobody can hold a token or a verifier yet: the first key signs at once.
		key, err := accesstoken.NewSigningKey(now, now)
		if err != nil {
			return nil, err
		}
		data, err := accesstoken.Marshal([]*accesstoken.SigningKey{key})
		if err != nil {
			return nil, err
		}
		created = key
		return s.secret().New(corev1.SecretTypeOpaque, map[string][]byte{DataKey: data}), nil
	})
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if created != nil {
		s.Log.Info("Created the signing-key Secret", "secret", s.secret().String(), "kid", created.ID)
	}
	s.load(sec)
	if s.Ring() == nil {
		return fmt.Errorf("the signing-key Secret %s holds no usable keys", s.secret())
	}
	return nil
}

// load makes the keys of sec the ones in use; none when sec is nil,
// being deleted or unusable.
func (s *Store) load(sec *corev1.Secret) {
	if sec == nil {
		s.setRing(nil)
		return
	}
	if sec.DeletionTimestamp != nil {
		// Deleted, even if a finalizer holds it: the key-compromise
		// procedure must not depend on who else holds the Secret.
		s.setRing(nil)
		s.Log.Info("Signing-key Secret is being deleted: no tokens are issued or accepted until it is recreated", "secret", s.secret().String())
		return
	}
	keys, err := accesstoken.Unmarshal(sec.Data[DataKey])
	if err != nil {
		// Fail closed: a broken Secret must not leave old keys in use.
		s.setRing(nil)
		s.Log.Error(err, "Signing-key Secret unusable: no tokens are issued or accepted", "secret", s.secret().String())
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
	_, err := s.secret().Change(ctx, 1, s.rotate)
	if errors.Is(err, namedsecret.ErrLostRace) {
		return nil
	}
	return err
}

// rotate returns sec with a key added or dropped as due, or nil when
// nothing is due or sec is nil (the Store recreates it).
func (s *Store) rotate(sec *corev1.Secret) (*corev1.Secret, error) {
	if sec == nil {
		return nil, nil
	}
	keys, err := accesstoken.Unmarshal(sec.Data[DataKey])
	if err != nil {
		return nil, err
	}
	ring := accesstoken.NewRing(keys)
	keys = ring.Keys() // sorted by SignFrom
	now := s.Clock.Now()
	changed := false
	if newest := keys[len(keys)-1]; now.Sub(newest.Created) >= s.RotateAfter {
		k, err := accesstoken.NewSigningKey(now, now.Add(s.Propagation))
		if err != nil {
			return nil, err
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
		return nil, nil
	}
	data, err := accesstoken.Marshal(slices.Clip(kept))
	if err != nil {
		return nil, err
	}
	sec.Data[DataKey] = data
	return sec, nil
}

var keysHeld = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "azure_authenticator_signing_keys",
	Help: "Access-token signing keys this replica holds. 0 while it holds none (not loaded yet, or the signing-key Secret deleted or unusable): it then neither issues nor accepts access tokens.",
})

func init() { ctrlmetrics.Registry.MustRegister(keysHeld) }
