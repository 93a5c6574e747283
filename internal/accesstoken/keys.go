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

package accesstoken

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// SigningKey is one Ed25519 key of the ring.
type SigningKey struct {
	ID      string
	Private ed25519.PrivateKey
	// Created is when the key was generated and published.
	Created time.Time
	// SignFrom is when replicas may start signing with it: at least one
	// propagation interval after Created, so every replica verifies it
	// before any replica signs with it.
	SignFrom time.Time
}

// Public returns the key's public half.
func (k *SigningKey) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// NewSigningKey generates a key that may sign from signFrom on.
func NewSigningKey(created, signFrom time.Time) (*SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("failed to generate an Ed25519 key: %w", err)
	}
	sum := sha256.Sum256(priv.Public().(ed25519.PublicKey))
	return &SigningKey{
		ID:       base64.RawURLEncoding.EncodeToString(sum[:12]),
		Private:  priv,
		Created:  created.UTC().Truncate(time.Second),
		SignFrom: signFrom.UTC().Truncate(time.Second),
	}, nil
}

// Ring is an immutable set of keys: all of them verify; the newest whose
// SignFrom has passed signs.
type Ring struct {
	keys []*SigningKey // oldest first
}

// NewRing returns a ring of the given keys.
func NewRing(keys []*SigningKey) *Ring {
	k := slices.Clone(keys)
	sort.SliceStable(k, func(i, j int) bool { return k[i].SignFrom.Before(k[j].SignFrom) })
	return &Ring{keys: k}
}

// Keys returns the ring's keys, oldest first.
func (r *Ring) Keys() []*SigningKey { return slices.Clone(r.keys) }

// Signer returns the key to sign with at now, or nil if none may sign yet.
func (r *Ring) Signer(now time.Time) *SigningKey {
	for i := len(r.keys) - 1; i >= 0; i-- {
		if !now.Before(r.keys[i].SignFrom) {
			return r.keys[i]
		}
	}
	return nil
}

// Verifiers returns every key's public half by id.
func (r *Ring) Verifiers() map[string]ed25519.PublicKey {
	m := make(map[string]ed25519.PublicKey, len(r.keys))
	for _, k := range r.keys {
		m[k.ID] = k.Public()
	}
	return m
}

// JWKS returns the public keys as a JSON Web Key Set.
func (r *Ring) JWKS() []byte {
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range r.keys {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public()), Kid: k.ID, Use: "sig", Alg: "EdDSA"})
	}
	b, _ := json.Marshal(set)
	return b
}

// storedKey is a key as kept in the signing-key Secret.
type storedKey struct {
	ID       string    `json:"kid"`
	Seed     string    `json:"seed"` // base64 Ed25519 seed
	Created  time.Time `json:"created"`
	SignFrom time.Time `json:"signFrom"`
}

// Marshal writes keys for the Secret.
func Marshal(keys []*SigningKey) ([]byte, error) {
	out := struct {
		Keys []storedKey `json:"keys"`
	}{}
	for _, k := range keys {
		out.Keys = append(out.Keys, storedKey{ID: k.ID, Seed: base64.StdEncoding.EncodeToString(k.Private.Seed()), Created: k.Created, SignFrom: k.SignFrom})
	}
	return json.Marshal(out)
}

// Unmarshal reads keys written by Marshal.
func Unmarshal(b []byte) ([]*SigningKey, error) {
	var in struct {
		Keys []storedKey `json:"keys"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("signing keys are not valid JSON: %w", err)
	}
	if len(in.Keys) == 0 {
		return nil, errors.New("no signing keys")
	}
	var keys []*SigningKey
	for _, s := range in.Keys {
		seed, err := base64.StdEncoding.DecodeString(s.Seed)
		if err != nil || len(seed) != ed25519.SeedSize || s.ID == "" {
			return nil, fmt.Errorf("signing key %q is malformed", s.ID)
		}
		keys = append(keys, &SigningKey{ID: s.ID, Private: ed25519.NewKeyFromSeed(seed), Created: s.Created, SignFrom: s.SignFrom})
	}
	return keys, nil
}
