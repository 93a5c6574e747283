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

package testenv

import "sync"

// SecretsHealth is a controllers.SecretsHealth whose answers a test sets;
// every namespace is servable until Set says otherwise.
type SecretsHealth struct {
	mu    sync.Mutex
	state map[string]fakeSecretsState
	subs  map[int]func(string)
	next  int
}

type fakeSecretsState struct {
	known  bool
	reason string
}

// NewSecretsHealth serves every namespace.
func NewSecretsHealth() *SecretsHealth {
	return &SecretsHealth{state: map[string]fakeSecretsState{}, subs: map[int]func(string){}}
}

// Set makes namespace unknown (known false), unservable for reason, or
// servable (known, reason ""), and tells the subscribers.
func (f *SecretsHealth) Set(namespace string, known bool, reason string) {
	f.mu.Lock()
	f.state[namespace] = fakeSecretsState{known, reason}
	var subs []func(string)
	for _, fn := range f.subs {
		subs = append(subs, fn)
	}
	f.mu.Unlock()
	for _, fn := range subs {
		fn(namespace)
	}
}

// Servable answers as Set said.
func (f *SecretsHealth) Servable(namespace string) (ok, known bool, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, found := f.state[namespace]
	if !found {
		return true, true, ""
	}
	return s.known && s.reason == "", s.known, s.reason
}

// OnChange registers fn for Set's changes.
func (f *SecretsHealth) OnChange(fn func(string)) (cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.next
	f.next++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

// Subscribers is how many OnChange callbacks are registered.
func (f *SecretsHealth) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}
