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
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// policyRef names a Conjur resource or role from inside a statement, e.g.
// `role: !group apps`; id is already resolved against the enclosing branch.
type policyRef struct {
	kind string
	id   string
}

func (r policyRef) String() string { return r.kind + ":" + r.id }

// policyStatement is one Conjur policy statement, flattened: nested
// `!policy` bodies are walked and every id is made absolute (no leading
// slash), so the converter never has to know where a statement was written.
type policyStatement struct {
	kind   string // the tag without '!': host, group, permit, ...
	id     string // absolute id; for a `!policy`, the branch it opens
	branch string // the enclosing policy branch ("" at the root)
	pos    string // file:line, for the report

	annotations  []policyAnnotation // in policy order: Conjur's precedence needs no order, the report does
	restrictedTo []string

	roles, members, resources []policyRef
	privileges                []string
}

type policyAnnotation struct{ key, value string }

// recordKinds are the statements that declare something with an id.
var recordKinds = map[string]bool{
	"policy": true, "host": true, "group": true, "layer": true, "user": true,
	"webservice": true, "variable": true, "host-factory": true,
}

// parseConjurPolicy reads one policy file (a YAML sequence of tagged
// statements). Custom tags are why this uses yaml.v3's nodes: a plain
// unmarshal into maps would drop `!host` and friends.
func parseConjurPolicy(name string, data []byte) ([]policyStatement, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not YAML: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // an empty policy file is valid in Conjur
	}
	p := &policyParser{file: name}
	if err := p.body(doc.Content[0], ""); err != nil {
		return nil, err
	}
	return p.out, nil
}

type policyParser struct {
	file string
	out  []policyStatement
}

func (p *policyParser) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.file, n.Line, fmt.Sprintf(format, args...))
}

func (p *policyParser) body(n *yaml.Node, branch string) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return p.errorf(n, "a policy is a list of statements such as - !host, not a %s", nodeKindName(n))
	}
	for _, item := range n.Content {
		if err := p.statement(item, branch); err != nil {
			return err
		}
	}
	return nil
}

func (p *policyParser) statement(n *yaml.Node, branch string) error {
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return p.errorf(n, "a statement needs a tag such as !host or !permit")
	}
	st := policyStatement{kind: strings.TrimPrefix(n.Tag, "!"), branch: branch, pos: fmt.Sprintf("%s:%d", p.file, n.Line)}
	var body *yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		// `- !webservice` (empty id) or `- !group apps` (id only).
		st.id = resolvePolicyID(branch, n.Value)
	case yaml.MappingNode:
		st.id = branch // Conjur: a record without id is the branch itself
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var err error
			switch k.Value {
			case "id":
				if v.Kind != yaml.ScalarNode {
					return p.errorf(v, "id must be a string")
				}
				st.id = resolvePolicyID(branch, v.Value)
			case "owner", "kind", "mime_type", "public_key", "public_keys", "layers", "uidnumber", "gidnumber", "admin", "replace":
				// Ownership and metadata have no counterpart; they do not change who may log in.
			case "annotations":
				st.annotations, err = p.annotations(v)
			case "restricted_to":
				st.restrictedTo, err = p.strings(v)
			case "body":
				body = v
			case "role", "roles":
				st.roles, err = p.refs(v, branch)
			case "member", "members":
				st.members, err = p.refs(v, branch)
			case "resource", "resources":
				st.resources, err = p.refs(v, branch)
			case "privilege", "privileges":
				st.privileges, err = p.strings(v)
			default:
				return p.errorf(k, "unknown attribute %q in !%s", k.Value, st.kind)
			}
			if err != nil {
				return err
			}
		}
	default:
		return p.errorf(n, "!%s must be a mapping or a plain id", st.kind)
	}
	if st.kind == "policy" && st.id == branch {
		return p.errorf(n, "!policy needs an id")
	}
	p.out = append(p.out, st)
	if body != nil {
		if st.kind != "policy" {
			return p.errorf(body, "only !policy has a body")
		}
		return p.body(body, st.id)
	}
	return nil
}

func (p *policyParser) annotations(n *yaml.Node) ([]policyAnnotation, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "annotations must be a mapping")
	}
	var out []policyAnnotation
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return nil, p.errorf(v, "annotation %q must have a plain value", k.Value)
		}
		out = append(out, policyAnnotation{key: k.Value, value: v.Value})
	}
	return out, nil
}

func (p *policyParser) strings(n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, p.errorf(c, "expected a plain value")
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, p.errorf(n, "expected a value or a list of values")
}

// refs reads `!group apps`, `[!host a, !layer b]` or `!member {role: ...}`.
func (p *policyParser) refs(n *yaml.Node, branch string) ([]policyRef, error) {
	if n.Kind == yaml.SequenceNode {
		var out []policyRef
		for _, c := range n.Content {
			r, err := p.refs(c, branch)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
		return out, nil
	}
	if n.Tag == "!member" && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "role" {
				return p.refs(n.Content[i+1], branch)
			}
		}
		return nil, p.errorf(n, "!member needs a role")
	}
	if n.Kind != yaml.ScalarNode || !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return nil, p.errorf(n, "expected a reference such as !group apps")
	}
	return []policyRef{{kind: strings.TrimPrefix(n.Tag, "!"), id: resolvePolicyID(branch, n.Value)}}, nil
}

// resolvePolicyID applies Conjur's id rules: a leading '/' is absolute,
// anything else is relative to the branch, and an empty id is the branch.
func resolvePolicyID(branch, id string) string {
	switch {
	case strings.HasPrefix(id, "/"):
		return strings.TrimPrefix(id, "/")
	case id == "":
		return branch
	case branch == "":
		return id
	}
	return branch + "/" + id
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "value"
	}
	return "document"
}

var errNoStatements = errors.New("no policy statements")
