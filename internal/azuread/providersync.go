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

package azuread

import (
	"context"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// ProviderSync keeps the key sets equal to the providers of the indexed
// authenticators and refreshes them in the background, on every replica.
type ProviderSync struct {
	Index *policy.Index
	Keys  *KeySets
	// Every is how often it looks for new or removed providers [1s].
	Every time.Duration

	lastRefresh providerKeysGauge
}

// NeedLeaderElection is false: every replica verifies tokens.
func (p *ProviderSync) NeedLeaderElection() bool { return false }

// Start runs until ctx ends.
func (p *ProviderSync) Start(ctx context.Context) error {
	every := p.Every
	if every == 0 {
		every = time.Second
	}
	p.sync()
	go p.Keys.Run(ctx, every)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.lastRefresh.update(nil, nil) // a stopped replica reports no provider
			return nil
		case <-t.C:
			p.sync()
		}
	}
}

func (p *ProviderSync) sync() {
	var providers []policy.Provider
	for _, a := range p.Index.Authenticators() {
		providers = append(providers, a.Providers...)
	}
	p.Keys.Sync(providers)
	p.lastRefresh.update(providers, p.Keys.Health)
}
