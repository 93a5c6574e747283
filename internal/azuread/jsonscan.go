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
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A JWT's header and claims are one flat JSON object of which we read a
// handful of members. Decoding them with encoding/json into a map cost
// about 90 allocations per token, most of the per-request work after the
// signature itself; this scanner reads the members we need in place and
// validates the rest without building it.
//
// It accepts a subset of what encoding/json accepts, and for what both
// accept it reads the same values (FuzzScanObject holds it to that). Where
// encoding/json is lenient it refuses instead, failing closed:
//   - invalid UTF-8 (encoding/json substitutes U+FFFD);
//   - an escaped lone surrogate such as \ud800 (likewise);
//   - a member we read that appears twice (encoding/json keeps the last,
//     so two parsers could disagree on which one was meant);
//   - values nested deeper than maxJSONDepth.

// maxJSONDepth bounds nesting: Azure's tokens nest two levels at most.
const maxJSONDepth = 16

// jsonKind is the type of a JSON value, as far as a claim check cares.
type jsonKind uint8

const (
	jsonAbsent jsonKind = iota
	jsonString
	jsonNumber
	jsonStringArray // an array of strings only
	jsonOther       // object, other array, true, false, null
)

// jsonValue is one member's value. Strings are slices of the input when
// they hold no escape, so reading a claim allocates nothing.
type jsonValue struct {
	kind jsonKind
	raw  string   // the value's text as sent
	str  string   // jsonString: decoded
	num  float64  // jsonNumber
	strs []string // jsonStringArray: decoded
}

// scanner walks one JSON text.
type scanner struct {
	s string
	i int
}

// scanObject reads s as exactly one JSON object (whitespace around it
// allowed) and calls member for each member, in order, with its decoded
// name; member returns the value to fill for a name it wants, or nil to
// have the value validated and skipped. A name wanted twice is an error.
func scanObject(s string, member func(name string) *jsonValue) bool {
	if !utf8.ValidString(s) {
		return false
	}
	sc := scanner{s: s}
	sc.space()
	if !sc.eat('{') {
		return false
	}
	sc.space()
	if !sc.eat('}') {
		for {
			name, ok := sc.str()
			sc.space()
			if !ok || !sc.eat(':') {
				return false
			}
			sc.space()
			if v := member(name); v != nil {
				if v.kind != jsonAbsent || !sc.value(v) {
					return false
				}
			} else if !sc.skip(1) {
				return false
			}
			sc.space()
			if sc.eat('}') {
				break
			}
			if !sc.eat(',') {
				return false
			}
			sc.space()
		}
	}
	sc.space()
	return sc.i == len(sc.s)
}

func (sc *scanner) space() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scanner) eat(c byte) bool {
	if sc.i < len(sc.s) && sc.s[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

func (sc *scanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// value reads one value into v: strings, numbers and arrays of strings
// decoded, anything else validated and marked jsonOther.
func (sc *scanner) value(v *jsonValue) bool {
	start := sc.i
	switch c := sc.peek(); {
	case c == '"':
		s, ok := sc.str()
		v.kind, v.str = jsonString, s
		if !ok {
			return false
		}
	case c == '-' || c >= '0' && c <= '9':
		f, ok := sc.number()
		v.kind, v.num = jsonNumber, f
		if !ok {
			return false
		}
	case c == '[':
		if !sc.stringArray(v) {
			sc.i = start
			if !sc.skip(1) {
				return false
			}
			v.kind, v.strs = jsonOther, nil
		}
	default:
		if !sc.skip(1) {
			return false
		}
		v.kind = jsonOther
	}
	v.raw = sc.s[start:sc.i]
	return true
}

// stringArray reads an array of strings only; false (position undefined)
// for anything else, which the caller then scans as a generic value.
func (sc *scanner) stringArray(v *jsonValue) bool {
	sc.i++ // '['
	sc.space()
	v.kind, v.strs = jsonStringArray, []string{}
	if sc.eat(']') {
		return true
	}
	for {
		if sc.peek() != '"' {
			return false
		}
		s, ok := sc.str()
		if !ok {
			return false
		}
		v.strs = append(v.strs, s)
		sc.space()
		if sc.eat(']') {
			return true
		}
		if !sc.eat(',') {
			return false
		}
		sc.space()
	}
}

// skip validates one value at nesting depth and steps over it.
func (sc *scanner) skip(depth int) bool {
	switch c := sc.peek(); {
	case c == '"':
		_, ok := sc.str()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		_, ok := sc.number()
		return ok
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		sc.i++
		sc.space()
		if sc.eat(closing) {
			return true
		}
		for {
			if c == '{' {
				if _, ok := sc.str(); !ok {
					return false
				}
				sc.space()
				if !sc.eat(':') {
					return false
				}
				sc.space()
			}
			if !sc.skip(depth + 1) {
				return false
			}
			sc.space()
			if sc.eat(closing) {
				return true
			}
			if !sc.eat(',') {
				return false
			}
			sc.space()
		}
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(sc.s[sc.i:], lit) {
				sc.i += len(lit)
				return true
			}
		}
		return false
	}
}

// number reads a number in JSON's grammar that fits a float64 (as
// encoding/json requires of a number it decodes into an interface).
func (sc *scanner) number() (float64, bool) {
	start := sc.i
	sc.eat('-')
	switch {
	case sc.eat('0'):
	case sc.digits() == 0:
		return 0, false
	}
	if sc.eat('.') && sc.digits() == 0 {
		return 0, false
	}
	if c := sc.peek(); c == 'e' || c == 'E' {
		sc.i++
		if c := sc.peek(); c == '+' || c == '-' {
			sc.i++
		}
		if sc.digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(sc.s[start:sc.i], 64)
	return f, err == nil
}

func (sc *scanner) digits() int {
	n := 0
	for sc.i < len(sc.s) && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9' {
		sc.i++
		n++
	}
	return n
}

// str reads a string, decoded. Without escapes it is a slice of the input.
func (sc *scanner) str() (string, bool) {
	if !sc.eat('"') {
		return "", false
	}
	start := sc.i
	end := strings.IndexByte(sc.s[start:], '"')
	if end < 0 {
		return "", false
	}
	end += start
	// Find the closing quote first (IndexByte is vectorised), then check
	// what it encloses: most strings have no escape and are done here.
	for i := start; i < end; i++ {
		if c := sc.s[i]; c < 0x20 || c == '\\' {
			if c < 0x20 {
				return "", false
			}
			sc.i = i
			return sc.escaped(start)
		}
	}
	sc.i = end + 1
	return sc.s[start:end], true
}

// escaped finishes a string that holds an escape, from its start.
func (sc *scanner) escaped(start int) (string, bool) {
	b := []byte(sc.s[start:sc.i])
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			sc.i++
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			sc.i++
			continue
		}
		sc.i++ // '\\'
		if sc.i >= len(sc.s) {
			return "", false
		}
		e := sc.s[sc.i]
		sc.i++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := sc.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one
				// makes a character; anything else is refused.
				if !strings.HasPrefix(sc.s[sc.i:], `\u`) {
					return "", false
				}
				sc.i += 2
				r2, ok := sc.hex4()
				if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
					return "", false
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (sc *scanner) hex4() (rune, bool) {
	if sc.i+4 > len(sc.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(sc.s[sc.i : sc.i+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	sc.i += 4
	return r, true
}
