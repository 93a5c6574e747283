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
	buf := lineBuffers.Get().(*[]byte)
	defer lineBuffers.Put(buf)
	line := a.clock.Now().UTC().AppendFormat(append((*buf)[:0], `{"time":"`...), time.RFC3339Nano)
	line = append(line, '"')
	e.Service, e.Account, e.Host, e.Variable = clean(e.Service), clean(e.Account), clean(e.Host), clean(e.Variable)
	e.Reason = clean(e.Reason)
	line = append(e.appendFields(line), '}', '\n')
	*buf = line
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = a.w.Write(line)
}

// lineBuffers hold audit lines while they are written (a line is at most
// about 2 KiB: every attacker-chosen field is cut at maxAuditField).
var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendFields writes e's members after time, as encoding/json would with
// the struct tags above (TestAuditLineIsEncodingJSON holds it to that):
// a line per request is too frequent for reflection.
func (e *AuditEvent) appendFields(b []byte) []byte {
	member := func(b []byte, name, v string, omitEmpty bool) []byte {
		if omitEmpty && v == "" {
			return b
		}
		b = append(append(append(b, ',', '"'), name...), '"', ':')
		return appendJSONString(b, v)
	}
	b = member(b, "request_id", e.RequestID, true)
	b = member(b, "operation", e.Operation, false)
	b = member(b, "result", e.Result, false)
	b = member(b, "service", e.Service, true)
	b = member(b, "account", e.Account, true)
	b = member(b, "host", e.Host, true)
	b = member(b, "variable", e.Variable, true)
	b = member(b, "client_ip", e.ClientIP, true)
	b = member(b, "code", e.Code, true)
	return member(b, "reason", e.Reason, true)
}

// appendJSONString writes s as encoding/json does: HTML-safe, U+2028 and
// U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
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
