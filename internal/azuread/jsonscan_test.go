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
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"testing"
	"unicode/utf8"
)

// claimNames are the members tokenClaims reads, by their JSON names.
var claimNames = []string{"iss", "ver", "tid", "oid", "xms_mirid", "xms_az_rid", "aud", "exp", "iat", "nbf"}

func TestScanObject(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"azure-like", `{"aud":"https://management.azure.com/","iss":"https://sts.windows.net/t/","iat":1700000000,"exp":1.7e9,"xms_mirid":"/subscriptions/s","idp":{"a":[1,true,null]}}`, true},
		{"empty", `{}`, true},
		{"spaces around", " \t\r\n{ \"iss\" : \"x\" } \n", true},
		{"escaped name", `{"\u0069ss":"x"}`, true},
		{"surrogate pair", `{"iss":"\ud83d\ude00"}`, true},
		{"aud array", `{"aud":["a","b"]}`, true},
		{"aud mixed array", `{"aud":["a",1]}`, true},
		{"null", `null`, false},
		{"array", `[]`, false},
		{"trailing data", `{}{}`, false},
		{"trailing comma", `{"a":1,}`, false},
		{"single quotes", `{'a':1}`, false},
		{"leading zero", `{"a":01}`, false},
		{"bare dot", `{"a":1.}`, false},
		{"number out of range", `{"a":1e400}`, false},
		{"control character", "{\"a\":\"\x01\"}", false},
		{"bad escape", `{"a":"\x"}`, false},
		{"unterminated", `{"a":"x`, false},
		{"invalid utf-8", "{\"a\":\"\xff\"}", false},
		{"lone high surrogate", `{"a":"\ud800"}`, false},
		{"lone low surrogate", `{"a":"\udc00x"}`, false},
		{"duplicate claim", `{"iss":"a","iss":"b"}`, false},
		{"duplicate other member", `{"x":"a","x":"b"}`, true},
		{"deep nesting", `{"a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}`, false},
		{"literal prefix", `{"a":nul}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c tokenClaims
			if got := scanObject(tc.in, c.member); got != tc.ok {
				t.Fatalf("scanObject(%q) = %v, want %v", tc.in, got, tc.ok)
			}
		})
	}
}

// TestScanObjectReadsClaimsInPlace: a token's claims cost no allocation
// beyond the one audience array.
func TestScanObjectReadsClaimsInPlace(t *testing.T) {
	in := `{"aud":"https://management.azure.com/","iss":"https://sts.windows.net/t/","iat":1700000000,"nbf":1700000000,"exp":1700003600,` +
		`"oid":"o","tid":"t","xms_mirid":"/subscriptions/s/resourcegroups/r/providers/Microsoft.Compute/virtualMachines/v","ver":"1.0","other":{"x":[1,2]}}`
	var c tokenClaims
	if n := testing.AllocsPerRun(100, func() { c = tokenClaims{}; scanObject(in, c.member) }); n > 1 {
		t.Fatalf("%v allocations per scan", n)
	}
	if c.iss.str != "https://sts.windows.net/t/" || c.exp.num != 1700003600 || c.mirid.kind != jsonString || c.azrid.kind != jsonAbsent {
		t.Fatalf("claims %+v", c)
	}
}

// FuzzScanObject holds the scanner to encoding/json: what it accepts,
// encoding/json accepts and reads the same; what encoding/json refuses, it
// refuses; it refuses more only for the reasons jsonscan.go lists.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{"aud":"https://management.azure.com/","iss":"https://sts.windows.net/t/","iat":1700000000,"exp":1700003600,"xms_mirid":"/subscriptions/s"}`,
		`{"alg":"RS256","kid":"k","typ":"JWT","x5t":"abc"}`,
		`{"aud":["a","b"],"exp":-0.5e-3,"nbf":null,"tid":true}`,
		`{"\u0069ss":"\ud83d\ude00\n\"","ver":{"a":[{}]}}`,
		`{"iss":"a","iss":"b"}`,
		`{"a":"\ud800"}`,
		"{\"a\":\"\xff\"}",
		`{"a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var c tokenClaims
		ok := scanObject(string(in), c.member)
		var m map[string]any
		jerr := json.Unmarshal(in, &m)
		if jerr == nil && m == nil {
			jerr = errors.New("null")
		}
		if !ok {
			if jerr == nil && !deliberatelyStricter(in) {
				t.Fatalf("refused %q, which encoding/json reads as %v", in, m)
			}
			return
		}
		if jerr != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", in, jerr)
		}
		for _, name := range claimNames {
			if got, want := c.member(name).interfaceValue(), m[name]; !reflect.DeepEqual(got, want) {
				if _, other := got.(otherValue); !other || isScalarOrStrings(want) {
					t.Fatalf("%q: claim %s read as %#v, encoding/json reads %#v", in, name, got, want)
				}
			}
		}
	})
}

// otherValue stands for a value the scanner only validated.
type otherValue struct{}

func (v *jsonValue) interfaceValue() any {
	switch v.kind {
	case jsonString:
		return v.str
	case jsonNumber:
		return v.num
	case jsonStringArray:
		a := make([]any, len(v.strs))
		for i, s := range v.strs {
			a[i] = s
		}
		return a
	case jsonOther:
		return otherValue{}
	}
	return nil
}

// isScalarOrStrings: values the scanner must have decoded, not just
// validated.
func isScalarOrStrings(v any) bool {
	switch v := v.(type) {
	case string, float64:
		return true
	case []any:
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}

var surrogateEscape = regexp.MustCompile(`(?i)\\ud[89a-f][0-9a-f]{2}`)

// deliberatelyStricter reports whether in has one of the properties for
// which the scanner refuses what encoding/json accepts.
func deliberatelyStricter(in []byte) bool {
	if !utf8.Valid(in) || surrogateEscape.Match(in) {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	depth, maxDepth := 0, 0
	seen := map[string]bool{}
	expectName := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				depth++
				maxDepth = max(maxDepth, depth)
				expectName = tok == '{' && depth == 1
				continue
			}
			depth--
		case string:
			if depth == 1 && expectName {
				for _, n := range claimNames {
					if tok == n && seen[n] {
						return true
					}
				}
				seen[tok] = true
				expectName = false
				continue
			}
		}
		if depth == 1 {
			expectName = true
		}
	}
	return maxDepth > maxJSONDepth
}
