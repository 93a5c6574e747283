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

package authn

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"k8s.io/utils/clock"
)

// auditor writes one JSON line per attempt to its own stream, apart from
// the operational log. It never receives a token, a signature or a secret
// value: only the fields of AuditEvent.
type auditor struct {
	mu    sync.Mutex
	w     io.Writer
	clock clock.PassiveClock
}

// AuditEvent is one audit line.
type AuditEvent struct {
	Time      string `json:"time"`
	RequestID string `json:"request_id,omitempty"` // also the response's X-Request-Id
	Operation string `json:"operation"`            // authenticate, validate-status, fetch, identity-check, jwks, other
	Result    string `json:"result"`               // success or failure
	Service   string `json:"service,omitempty"`
	Account   string `json:"account,omitempty"`
	Host      string `json:"host,omitempty"`
	Variable  string `json:"variable,omitempty"` // for fetches: the id, never the value
	ClientIP  string `json:"client_ip,omitempty"`
	Code      string `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// maxAuditField bounds attacker-chosen text (path segments) in the log.
const maxAuditField = 256

// record writes e with the current time.
func (a *auditor) record(e AuditEvent) {
	e.Time = a.clock.Now().UTC().Format(time.RFC3339Nano)
	e.Service, e.Account, e.Host, e.Variable = clean(e.Service), clean(e.Account), clean(e.Host), clean(e.Variable)
	e.Reason = clean(e.Reason)
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = a.w.Write(append(line, '\n'))
}

func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxAuditField {
		cut := maxAuditField
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
