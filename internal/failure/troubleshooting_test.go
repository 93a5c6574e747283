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

// An external test package: it compares the guide's bodies with what the
// HTTP side renders (authn.ClientBody), which imports this package.
package failure_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
)

const troubleshootingPath = "../../docs/troubleshooting.md"

// The labels every entry carries, in this order.
var entryLabels = []string{"Seen as", "Audit reason", "Cause", "Fix"}

// routeNames are the route names an entry's "Seen as" items may start
// with. "any route" is a refusal made around the route (overload, panic),
// which the server answers from the table's default column on every route.
var routeNames = map[string]failure.Route{
	"authenticate": failure.Authenticate,
	"status":       failure.Status,
	"secrets":      failure.Secrets,
	"any route":    failure.Authenticate,
}

var (
	entryHeading = regexp.MustCompile(`^### ((?:CONJ\d{5}|AZAUTH\d{3})E) — \S`)
	anyCode      = regexp.MustCompile(`\b(?:CONJ\d{5}|AZAUTH\d{3})E\b`)
	labelLine    = regexp.MustCompile(`^\*\*([A-Za-z ]+):\*\*`)
	seenAsItem   = regexp.MustCompile(`^- ([a-z ]+): (\d{3})\b(.*)$`)
	quotedBody   = regexp.MustCompile("`(\\{[^`]*\\})`")
	mdLink       = regexp.MustCompile(`\]\(([^)\s]*)#([^)\s]+)\)`)
	statusCell   = regexp.MustCompile(`^\s*\d{3}\b`)
)

// seen is one "Seen as" item: the status and, when quoted, the body a
// client gets on a route.
type seen struct {
	route   string
	status  int
	body    string // "" when the item quotes none
	generic bool   // the item says "the generic body"
	same    bool   // the item says "the same body" as the item before
	line    string
}

// guideEntry is one code's section of the guide.
type guideEntry struct {
	code   failure.Code
	labels []string
	seen   []seen
}

// parseGuide reads the guide's entries: a "### CODE — title" heading, then
// bold labels, the "Seen as" label followed by one "- route: status ..."
// item per route. It reports every line it cannot read as an error.
func parseGuide(t reporter, text string) []guideEntry {
	var entries []guideEntry
	var cur *guideEntry
	inSeen := false
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			inSeen = false
			cur = nil
			if m := entryHeading.FindStringSubmatch(line); m != nil {
				entries = append(entries, guideEntry{code: failure.Code(m[1])})
				cur = &entries[len(entries)-1]
			} else if strings.HasPrefix(line, "### ") && anyCode.MatchString(line) {
				t.Errorf("line %d: a heading that names a code must read \"### CODE — title\": %s", i+1, line)
			}
			continue
		}
		if cur == nil {
			continue
		}
		if m := labelLine.FindStringSubmatch(line); m != nil {
			cur.labels = append(cur.labels, m[1])
			inSeen = m[1] == "Seen as"
			continue
		}
		if !inSeen {
			continue
		}
		if line == "" {
			inSeen = false
			continue
		}
		m := seenAsItem.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d: %s: a \"Seen as\" item must read \"- <route>: <status> ...\": %s", i+1, cur.code, line)
			continue
		}
		status, _ := strconv.Atoi(m[2])
		s := seen{route: m[1], status: status, line: line,
			generic: strings.Contains(m[3], "the generic body"),
			same:    strings.Contains(m[3], "the same body")}
		if b := quotedBody.FindStringSubmatch(m[3]); b != nil {
			s.body = b[1]
		}
		cur.seen = append(cur.seen, s)
	}
	return entries
}

// bodyPattern is the body the server sends for code on route, as a
// pattern in which each placeholder of the message, and the reason where
// the body carries one (the status route's 500s), stand for any text.
func bodyPattern(code failure.Code, route failure.Route) (int, *regexp.Regexp) {
	const arg, reason = "ZZARGZZ", "ZZREASONZZ"
	args := make([]any, strings.Count(failure.Message(code), "%s"))
	for i := range args {
		args[i] = arg
	}
	status, body := authn.ClientBody(failure.New(code, reason, args...), route)
	p := regexp.QuoteMeta(body)
	p = strings.ReplaceAll(p, regexp.QuoteMeta(": "+reason), `(?:: .+?)?`)
	p = strings.ReplaceAll(p, arg, `.+?`)
	return status, regexp.MustCompile("^" + p + "$")
}

// docs/troubleshooting.md promises an entry for every code the server can
// answer, with the statuses and bodies the server sends: a code added to
// the catalogue without an entry, an entry for a code that is gone, or a
// status or body changed on one side only fails here.
func TestTroubleshootingGuideCoversTheCatalogue(t *testing.T) {
	raw, err := os.ReadFile(troubleshootingPath)
	if err != nil {
		t.Fatal(err)
	}
	checkGuide(t, string(raw))
}

func checkGuide(t reporter, text string) {
	entries := parseGuide(t, text)
	known := map[failure.Code]bool{}
	for _, c := range failure.Codes() {
		known[c] = true
	}
	documented := map[failure.Code]bool{}
	checked := 0
	for _, e := range entries {
		if !known[e.code] {
			t.Errorf("the guide has an entry for %s, which the failure package does not have", e.code)
			continue
		}
		if documented[e.code] {
			t.Errorf("the guide has two entries for %s", e.code)
		}
		documented[e.code] = true
		if !slices.Equal(e.labels, entryLabels) {
			t.Errorf("%s: labels %q, want %q in that order", e.code, e.labels, entryLabels)
		}
		if len(e.seen) == 0 {
			t.Errorf("%s: the entry names no route and status", e.code)
		}
		routes := map[string]bool{}
		prev := ""
		for _, s := range e.seen {
			route, ok := routeNames[s.route]
			if !ok {
				t.Errorf("%s: unknown route %q: %s", e.code, s.route, s.line)
				continue
			}
			if routes[s.route] {
				t.Errorf("%s: route %q given twice", e.code, s.route)
			}
			routes[s.route] = true
			want, pattern := bodyPattern(e.code, route)
			if s.status != want {
				t.Errorf("%s: the guide says %d on %s, the server answers %d: %s", e.code, s.status, s.route, want, s.line)
			}
			body := s.body
			switch {
			case s.generic && body != "":
				t.Errorf("%s: an item quotes a body and says \"the generic body\": %s", e.code, s.line)
			case s.generic:
				body = authn.GenericUnauthorizedBody
			case s.same && prev == "":
				t.Errorf("%s: \"the same body\" with no body before it: %s", e.code, s.line)
			case s.same:
				body = prev
			case body == "":
				t.Errorf("%s: the item quotes no body and says neither \"the generic body\" nor \"the same body\": %s", e.code, s.line)
				continue
			}
			if !pattern.MatchString(body) {
				t.Errorf("%s on %s: the guide's body\n  %s\ndoes not match the server's\n  %s", e.code, s.route, body, pattern)
			}
			if s.body != "" && want == 503 && !strings.Contains(s.line, "Retry-After: 1") {
				t.Errorf("%s: a 503 comes with Retry-After: 1; the item does not say so: %s", e.code, s.line)
			}
			prev = body
			checked++
		}
	}
	for _, c := range failure.Codes() {
		if !documented[c] {
			t.Errorf("%s (%q) has no entry in %s", c, failure.Message(c), troubleshootingPath)
		}
	}
	t.Logf("%d entries, %d route statuses and bodies checked against the server", len(documented), checked)
}

// Every route on which the README's tables say a code is answered has
// that route in the code's entry (or "any route"): the two documents
// cannot drift apart on where a code occurs.
func TestTroubleshootingGuideHasTheREADMERoutes(t *testing.T) {
	guide, err := os.ReadFile(troubleshootingPath)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	inGuide := map[failure.Code]map[string]bool{}
	for _, e := range parseGuide(t, string(guide)) {
		inGuide[e.code] = map[string]bool{}
		for _, s := range e.seen {
			inGuide[e.code][s.route] = true
		}
	}
	// The README's sections and row prefixes name the route, as
	// TestREADMECodeTablesAgreeWithThePackage reads them.
	route, pairs := "authenticate", 0
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "## Secrets"):
			route = "secrets"
		case strings.HasPrefix(line, "## "):
			route = "authenticate"
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !strings.HasPrefix(line, "|") || len(cells) < 3 || !statusCell.MatchString(cells[1]) {
			continue
		}
		rowRoute := route
		if strings.HasPrefix(strings.TrimSpace(cells[0]), "status route:") {
			rowRoute = "status"
		}
		codes := anyCode.FindAllString(strings.Join(cells[2:], "|"), -1)
		slices.Sort(codes)
		for _, c := range slices.Compact(codes) {
			routes := inGuide[failure.Code(c)]
			if !routes[rowRoute] && !routes["any route"] {
				t.Errorf("the README answers %s on %s; its entry in the guide does not name that route: %s", c, rowRoute, line)
			}
			pairs++
		}
	}
	if pairs < 30 {
		t.Fatalf("found only %d codes in the README's tables: have they moved?", pairs)
	}
	t.Logf("%d README (code, route) pairs found in the guide", pairs)
}

// The guide must keep pointing at the tool that says which check fails.
func TestTroubleshootingGuidePointsToExplain(t *testing.T) {
	raw, err := os.ReadFile(troubleshootingPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubectl azauthn explain --service ", " --login host/"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the guide does not show %q", want)
		}
	}
}

// Links into the guide's own sections and into the other docs (the quick
// table links to entries by their headings) must resolve.
func TestTroubleshootingGuideLinksResolve(t *testing.T) {
	raw, err := os.ReadFile(troubleshootingPath)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		text, err := os.ReadFile(filepath.Join(filepath.Dir(troubleshootingPath), file))
		if err != nil {
			t.Errorf("link to %s: %v", file, err)
		}
		anchors[file] = headingSlugs(string(text))
		return anchors[file]
	}
	links := 0
	for _, m := range mdLink.FindAllStringSubmatch(string(raw), -1) {
		file := m[1]
		if file == "" {
			file = filepath.Base(troubleshootingPath)
		}
		if !anchorsOf(file)[m[2]] {
			t.Errorf("link %s#%s names no heading", m[1], m[2])
		}
		links++
	}
	if links == 0 {
		t.Fatal("found no links with anchors: has the quick table moved?")
	}
}

// headingSlugs are the anchors GitHub gives a document's headings:
// lower case, punctuation dropped, spaces to hyphens (outside code blocks).
func headingSlugs(text string) map[string]bool {
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	slugs := map[string]bool{}
	fence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slugs[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(title), ""), " ", "-")] = true
	}
	return slugs
}

// The check above must be able to fail: an entry removed, a code that
// does not exist, a wrong status and a wrong body are each reported.
func TestTroubleshootingCheckFailsOnMistakes(t *testing.T) {
	raw, err := os.ReadFile(troubleshootingPath)
	if err != nil {
		t.Fatal(err)
	}
	guide := string(raw)
	cut := func(code string) string {
		start := strings.Index(guide, "### "+code+" ")
		if start < 0 {
			t.Fatalf("no entry for %s", code)
		}
		end := strings.Index(guide[start+1:], "\n#")
		return guide[:start] + guide[start+1+end+1:]
	}
	cases := []struct {
		name, guide, want string
	}{
		{"entry removed", cut("CONJ00049E"), "CONJ00049E"},
		{"unknown code", guide + "\n### CONJ00099E — no such code\n", "CONJ00099E"},
		{"wrong status", strings.Replace(guide, "- status: 404 `", "- status: 401 `", 1), "says 401 on status"},
		{"wrong body", strings.Replace(guide, `"CONJ00076E Variable <id> is empty`, `"CONJ00076E Secret <id> is empty`, 1), "does not match the server's"},
		{"generic body on a 403", strings.Replace(guide, "- status: 403, the same body", "- status: 403, the generic body", 1), "CONJ00006E on status"},
		{"label missing", strings.Replace(guide, "**Fix:**\n- Retry after a second", "- Retry after a second", 1), "AZAUTH009E: labels"},
	}
	for _, c := range cases {
		if c.guide == guide {
			t.Fatalf("%s: the mutation changed nothing; has the guide changed?", c.name)
		}
		r := &recorder{}
		checkGuide(r, c.guide)
		if !slices.ContainsFunc(r.errors, func(e string) bool { return strings.Contains(e, c.want) }) {
			t.Errorf("%s: no error mentions %q; got %q", c.name, c.want, r.errors)
		}
	}
}

// reporter is the part of testing.TB the check uses, so that a test can
// collect what it reports about a broken guide.
type reporter interface {
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// recorder collects what the check reports instead of failing the test.
type recorder struct{ errors []string }

func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
