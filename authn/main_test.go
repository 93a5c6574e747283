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

package authn_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
)

// The handler's tests run without an API server: the index is filled by
// hand and the fake Entra ID serves the providers' keys on loopback.
var azure *azuretest.Server

func TestMain(m *testing.M) {
	azure = azuretest.NewServer()
	code := m.Run()
	azure.Close()
	os.Exit(code)
}

const unauthorized = authn.GenericUnauthorizedBody

const subscription = "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11"

var seq atomic.Int64

// newTenant is a fresh tenant GUID: each test gets its own issuer, so its
// provider key set (and its refresh cooldown) is its own.
func newTenant() string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, seq.Add(1))
}

// syncBuffer collects audit lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) events() []authn.AuditEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []authn.AuditEvent
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var e authn.AuditEvent
		if json.Unmarshal([]byte(line), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}
