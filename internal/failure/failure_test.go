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

package failure

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	codePattern   = regexp.MustCompile(`\b(CONJ|AZAUTH)\d{5}E\b|\bAZAUTH\d{3}E\b`)
	statusPattern = regexp.MustCompile(`^\d{3}\b`)
)

// The README's failure tables are the contract with users: every row's
// status must be what the server answers for each code the row names, on
// the row's route, and every code must be documented. A code, message or
// status changed in one place and not the other fails here.
func TestREADMECodeTablesAgreeWithThePackage(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[Code]bool{}
	route := Authenticate
	rows := 0
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "## Secrets"):
			route = Secrets
		case strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### What a client sees"):
			route = Authenticate
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			continue
		}
		status, err := strconv.Atoi(statusPattern.FindString(strings.TrimSpace(cells[1])))
		if err != nil {
			continue // not a failure row
		}
		rowRoute := route
		if strings.HasPrefix(strings.TrimSpace(cells[0]), "status route:") {
			rowRoute = Status
		}
		codes := codePattern.FindAllString(strings.Join(cells[2:], "|"), -1)
		if len(codes) == 0 {
			t.Errorf("README row names no code: %s", line)
		}
		for _, c := range codes {
			code := Code(c)
			if _, ok := table[code]; !ok {
				t.Errorf("README names %s, which the package does not have: %s", c, line)
				continue
			}
			documented[code] = true
			if got := HTTPStatus(code, rowRoute); got != status {
				t.Errorf("README says %d for %s, the server answers %d: %s", status, c, got, line)
			}
			// A body quoted in the row carries the code's message,
			// placeholders aside.
			if i := strings.Index(line, c+" "); i >= 0 && strings.Contains(line, `"message":"`+c) {
				if !messageMatches(Message(code), line[i+len(c)+1:]) {
					t.Errorf("README's message for %s differs from %q: %s", c, Message(code), line)
				}
			}
		}
		rows++
	}
	if rows < 30 {
		t.Fatalf("found only %d failure rows: has the README's table moved?", rows)
	}
	for _, c := range Codes() {
		if !documented[c] {
			t.Errorf("%s (%q) is not in the README's tables", c, Message(c))
		}
	}
}

// messageMatches reports whether text starts with message, where each %s
// of message stands for any text, and "..." in text elides the rest.
func messageMatches(message, text string) bool {
	if before, _, elided := strings.Cut(text, "..."); elided {
		return strings.HasPrefix(message, before)
	}
	parts := strings.Split(message, "%s")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*?")).MatchString(text)
}

func TestStatusesFollowTheRoute(t *testing.T) {
	cases := []struct {
		code  Code
		route Route
		want  int
	}{
		{WebserviceNotFound, Authenticate, http.StatusUnauthorized},
		{WebserviceNotFound, Status, http.StatusNotFound},
		{AuthenticatorDisabled, Authenticate, http.StatusUnauthorized},
		{AuthenticatorDisabled, Status, http.StatusInternalServerError},
		{ProviderDiscoveryTimeout, Status, http.StatusInternalServerError},
		{VariableNotFound, Secrets, http.StatusNotFound},
		{RoleNotAuthorizedOnResource, Secrets, http.StatusForbidden},
		{BodyTimeout, Authenticate, http.StatusRequestTimeout},
		{Code("CONJ99999E"), Authenticate, http.StatusUnauthorized}, // unknown: fail closed
	}
	for _, c := range cases {
		if got := HTTPStatus(c.code, c.route); got != c.want {
			t.Errorf("HTTPStatus(%s, %d) = %d, want %d", c.code, c.route, got, c.want)
		}
	}
}

// Every message fills its placeholders from New's arguments; none is left
// as a literal (Conjur's CONJ00054E kept a "{1}").
func TestMessagesHaveNoUnfilledPlaceholders(t *testing.T) {
	for _, c := range Codes() {
		n := strings.Count(Message(c), "%s")
		args := make([]any, n)
		for i := range args {
			args[i] = "x"
		}
		if msg := New(c, "", args...).Message; strings.ContainsAny(msg, "{}%") {
			t.Errorf("%s: %q", c, msg)
		}
	}
}
