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
	"bytes"
	"encoding/json"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// TestAuditLineIsEncodingJSON: the hand-written audit line is byte for
// byte what encoding/json writes for the same event.
func TestAuditLineIsEncodingJSON(t *testing.T) {
	for _, e := range []AuditEvent{
		{Operation: "authenticate", Result: "success"},
		{RequestID: "r1", Operation: "fetch", Result: "failure", Service: "prod", Account: "default", Host: "host/ns/x",
			Variable: "ns/db/password", ClientIP: "10.0.0.1", Code: "CONJ00076E", Reason: `<script>&"\` + "\b\f\n\r\t\x00\x1f\u2028\u2029\x7f é😀"},
		{Operation: "other", Result: "failure", Reason: "bad \xff utf-8 \xc3"},
	} {
		checkAuditLine(t, e)
	}
}

func FuzzAuditLine(f *testing.F) {
	f.Add("host/ns/x", "<&>\"\\\u2028\xff", "prod")
	f.Fuzz(func(t *testing.T, host, reason, service string) {
		checkAuditLine(t, AuditEvent{Operation: "authenticate", Result: "failure", Host: host, Reason: reason, Service: service})
	})
}

func checkAuditLine(t *testing.T, e AuditEvent) {
	t.Helper()
	now := time.Date(2026, 12, 2, 3, 4, 5, 600, time.UTC)
	var buf bytes.Buffer
	a := &auditor{w: &buf, clock: clocktesting.NewFakePassiveClock(now)}
	a.record(e)
	want := e
	want.Time = now.Format(time.RFC3339Nano)
	want.Service, want.Account, want.Host, want.Variable, want.Reason = clean(e.Service), clean(e.Account), clean(e.Host), clean(e.Variable), clean(e.Reason)
	line, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(line)+"\n" {
		t.Fatalf("audit line\n got %s\nwant %s", got, line)
	}
}
