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
	"errors"
	"fmt"
	"time"
)

type waitHookKey struct{}

// WithWaitHook returns a context in which Verify calls hook just before it
// blocks on a key fetch (first-ever, or forced by an unknown key id), and
// the resume it returned (unless nil) exactly once when it stops waiting.
// The server uses it to give back its in-flight slot: a caller waiting on a
// slow provider is idle and must not starve requests that need no fetch.
func WithWaitHook(ctx context.Context, hook func() (resume func())) context.Context {
	if hook == nil {
		return ctx
	}
	return context.WithValue(ctx, waitHookKey{}, hook)
}

// waitSlack is how much longer than HTTPTimeout a caller waits for a
// fetch: enough for the fetch to record its outcome after its deadline.
const waitSlack = time.Second

// errWaitBound is what a caller sees if a fetch outlives HTTPTimeout by
// more than waitSlack, which the fetch's own deadline should make
// impossible: the wait is bounded even so.
var errWaitBound = errors.New("the key fetch did not end within its timeout")

// wait blocks until c ends, ctx ends, or HTTPTimeout + waitSlack passed.
// Leaving early never cancels the fetch: the others waiting for it, and
// the background refresh, still get its answer.
func (s *keySet) wait(ctx context.Context, c *fetchCall) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	if hook, _ := ctx.Value(waitHookKey{}).(func() (resume func())); hook != nil {
		if resume := hook(); resume != nil {
			defer resume()
		}
	}
	bound := time.NewTimer(s.opts.HTTPTimeout + waitSlack)
	defer bound.Stop()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the keys of %s: %w", s.provider.Issuer, ctx.Err())
	case <-bound.C:
		return &FetchError{Stage: StageDiscovery, Timeout: true, Err: errWaitBound}
	}
}
