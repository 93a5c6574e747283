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

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sample = `# A file header, not a description.

# -- The replicas.
replicaCount: 2
# Section title, ignored.
# -- The image,
# on two lines.
image:
  # -- Repository.
  repository: example/x
  # -- (int or string) A bound; null: unset.
  bound: null
# -- Kubernetes fields: one row.
resources:
  requests:
    cpu: 50m
# -- Needs | escaping and <tags>, not in ` + "`<code>`" + `.
odd: "a|b"
`

func TestParseValues(t *testing.T) {
	rows, err := parseValues([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"replicaCount", "int", "2", "The replicas."},
		{"image.repository", "string", `"example/x"`, "Repository."},
		{"image.bound", "int or string", "null", "A bound; null: unset."},
		{"resources", "object", `{"requests":{"cpu":"50m"}}`, "Kubernetes fields: one row."},
		{"odd", "string", `"a|b"`, "Needs | escaping and <tags>, not in `<code>`."},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %q\nwant %q", rows, want)
	}
	table := renderTable(rows)
	for _, line := range []string{
		"| `replicaCount` | int | `2` | The replicas. |",
		"| `odd` | string | `\"a\\|b\"` | Needs \\| escaping and &lt;tags>, not in `<code>`. |",
	} {
		if !strings.Contains(table, line+"\n") {
			t.Errorf("table lacks %q:\n%s", line, table)
		}
	}
}

func TestUndocumentedKey(t *testing.T) {
	_, err := parseValues([]byte("# -- Fine.\na: 1\nb: 2\n# -- A map.\nc:\n  # -- Fine.\n  d: 1\n  e: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "key b has no") || !strings.Contains(err.Error(), "key c.e has no") {
		t.Errorf("err = %v, want b and c.e named", err)
	}
}

func TestReplaceTableAndCheck(t *testing.T) {
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	readme := filepath.Join(dir, "README.md")
	if err := os.WriteFile(values, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	before := "# Title\n\n" + beginMarker + "\nold table\n" + endMarker + "\n\nAfter.\n"
	if err := os.WriteFile(readme, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(values, readme, true); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("--check on a stale README: %v", err)
	}
	if err := run(values, readme, false); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := parseValues([]byte(sample))
	want := "# Title\n\n" + beginMarker + "\n" + renderTable(rows) + endMarker + "\n\nAfter.\n"
	if string(got) != want {
		t.Errorf("README:\n%s\nwant:\n%s", got, want)
	}
	if err := run(values, readme, true); err != nil {
		t.Errorf("--check after writing: %v", err)
	}
	if err := run(values, readme, false); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(readme); string(again) != want {
		t.Error("a second run changed the README")
	}
	for _, bad := range []string{"no markers\n", endMarker + "\n" + beginMarker + "\n", beginMarker + beginMarker + endMarker} {
		if _, err := replaceTable([]byte(bad), "x\n"); err == nil {
			t.Errorf("replaceTable(%q) succeeded", bad)
		}
	}
}
