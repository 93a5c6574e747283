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

// Package accesstoken issues and verifies the short-lived access tokens a
// workload gets in exchange for its Azure token.
//
// The wire format is Conjur's, which the Conjur SDKs parse: a JSON object
// with exactly the members "protected", "payload" and "signature". It is at
// the same time a valid JWS (flattened JSON serialization, EdDSA), so any
// JOSE library can verify it against /.well-known/jwks.json. The SDK decodes
// "payload" as padded standard base64 while JWS uses unpadded base64url;
// both read the same text because the claims JSON is written so that its
// standard base64 has no '+', '/' or '=' (see encodePayload).
//
// A domain package: it imports nothing of ours, and never a client.
package accesstoken

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Issuer is the iss of every access token.
const Issuer = "azure-authenticator"

// Claims are the access token's claims.
type Claims struct {
	Subject    string `json:"sub"` // host/<namespace>/<name>
	IssuedAt   int64  `json:"iat"`
	Expiry     int64  `json:"exp"`
	Issuer     string `json:"iss"`
	Audience   string `json:"aud"` // the Conjur account
	Service    string `json:"svc"` // the service id that issued it
	UID        string `json:"uid"` // the AzureHost's UID ...
	Generation int64  `json:"gen"` // ... and generation when issued
}

// Token is the wire form.
type Token struct {
	Protected string `json:"protected"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// ErrEncoding means the claims could not be written in the form both
// decoders read; the token is refused rather than issued half-readable.
var ErrEncoding = errors.New("access token payload would not be valid in both base64 alphabets")

// Sign issues a token for claims with key. It runs once per
// authentication, so it writes its JSON by hand into a few buffers (it was
// a fifth of an authentication's allocations with encoding/json).
func Sign(key *SigningKey, c Claims) ([]byte, error) {
	var scratch [512]byte
	header := appendASCIIString(append(scratch[:0], `{"alg":"EdDSA","kid":`...), key.ID)
	header = append(header, `,"typ":"JWT"}`...)
	input := base64.RawURLEncoding.AppendEncode(make([]byte, 0, 1024), header)
	protectedLen := len(input)
	input = append(input, '.')
	var err error
	if input, err = appendPayload(input, c); err != nil {
		return nil, err
	}
	sig := ed25519.Sign(key.Private, input)
	out := make([]byte, 0, len(input)+base64.RawURLEncoding.EncodedLen(len(sig))+48)
	out = append(out, `{"protected":"`...)
	out = append(out, input[:protectedLen]...)
	out = append(out, `","payload":"`...)
	out = append(out, input[protectedLen+1:]...)
	out = append(out, `","signature":"`...)
	out = base64.RawURLEncoding.AppendEncode(out, sig)
	return append(out, `"}`...), nil
}

// encodePayload returns the claims as appendPayload writes them.
func encodePayload(c Claims) (string, error) {
	b, err := appendPayload(nil, c)
	return string(b), err
}

// appendPayload writes the claims so that one text is both padded standard
// base64 and unpadded base64url. A base64 digit is '+' or '/' only when the
// 6 bits it encodes are 62 or 63; for ASCII input that happens only in the
// last digit of a 3-byte group whose third byte is '>', '?', '~' or DEL. So:
// write JSON in ASCII only, with those four characters and every non-ASCII
// character escaped as \uXXXX (they occur only inside strings, where the
// escapes mean the same); pad with trailing spaces (insignificant JSON
// whitespace) to a multiple of 3 bytes, so there is no '='; then check, and
// fail closed if the reasoning were ever wrong.
func appendPayload(dst []byte, c Claims) ([]byte, error) {
	var scratch [512]byte
	j := append(scratch[:0], `{"sub":`...)
	j = appendASCIIString(j, c.Subject)
	j = strconv.AppendInt(append(j, `,"iat":`...), c.IssuedAt, 10)
	j = strconv.AppendInt(append(j, `,"exp":`...), c.Expiry, 10)
	j = appendASCIIString(append(j, `,"iss":`...), c.Issuer)
	j = appendASCIIString(append(j, `,"aud":`...), c.Audience)
	j = appendASCIIString(append(j, `,"svc":`...), c.Service)
	j = appendASCIIString(append(j, `,"uid":`...), c.UID)
	j = strconv.AppendInt(append(j, `,"gen":`...), c.Generation, 10)
	j = append(j, '}')
	for len(j)%3 != 0 {
		j = append(j, ' ')
	}
	start := len(dst)
	dst = base64.StdEncoding.AppendEncode(dst, j)
	if bytes.ContainsAny(dst[start:], "+/=") {
		return nil, ErrEncoding
	}
	return dst, nil
}

// appendASCIIString writes s as a JSON string in ASCII only, escaping what
// JSON requires and what appendPayload must keep out of its text. Invalid
// UTF-8 becomes U+FFFD, as encoding/json writes it.
func appendASCIIString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s { // invalid UTF-8 ranges as U+FFFD
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r == '?' || r == '~' || r == '>' || r == 0x7f:
			b = u(b, r)
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = u(u(b, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
		default:
			b = u(b, r)
		}
	}
	return append(b, '"')
}

// Verification failures; the server maps them all to one 401.
var (
	ErrMalformed   = errors.New("access token malformed")
	ErrUnknownKey  = errors.New("access token signed by an unknown key")
	ErrSignature   = errors.New("access token signature invalid")
	ErrExpired     = errors.New("access token expired")
	ErrWrongIssuer = errors.New("access token issuer or audience wrong")
)

// maxTokenBytes bounds what Verify looks at.
const maxTokenBytes = 8 << 10

// Verify checks the token's signature with the verification keys, its
// expiry against now, its issuer, and that it is for account.
func Verify(keys map[string]ed25519.PublicKey, tokenJSON []byte, now time.Time, account string) (*Claims, error) {
	if len(tokenJSON) > maxTokenBytes {
		return nil, ErrMalformed
	}
	dec := json.NewDecoder(bytes.NewReader(tokenJSON))
	dec.DisallowUnknownFields()
	var t Token
	if err := dec.Decode(&t); err != nil || t.Protected == "" || t.Payload == "" || t.Signature == "" {
		return nil, ErrMalformed
	}
	// The base64 decoders skip CR and LF, which base64url never holds:
	// refused, so that a signature has one spelling.
	if strings.ContainsAny(t.Signature, "\r\n") || strings.ContainsAny(t.Protected, "\r\n") || strings.ContainsAny(t.Payload, "\r\n") {
		return nil, ErrMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(t.Protected)
	if err != nil {
		return nil, ErrMalformed
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "EdDSA" {
		return nil, ErrMalformed
	}
	pub, ok := keys[h.Kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	sig, err := base64.RawURLEncoding.DecodeString(t.Signature)
	if err != nil || !ed25519.Verify(pub, []byte(t.Protected+"."+t.Payload), sig) {
		return nil, ErrSignature
	}
	pb, err := base64.RawURLEncoding.DecodeString(t.Payload)
	if err != nil {
		return nil, ErrMalformed
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, ErrMalformed
	}
	if c.Issuer != Issuer || c.Audience != account {
		return nil, ErrWrongIssuer
	}
	if now.Unix() >= c.Expiry {
		return nil, ErrExpired
	}
	return &c, nil
}

// FromAuthorization extracts the token JSON from a Conjur Authorization
// header: Token token="<standard base64 of the token JSON>".
func FromAuthorization(value string) ([]byte, error) {
	const prefix = `Token token="`
	// The length check comes first: `Token token="` alone both starts
	// with the prefix and ends with its quote.
	if len(value) < len(prefix)+1 || len(value) > 2*maxTokenBytes || !strings.HasPrefix(value, prefix) || !strings.HasSuffix(value, `"`) {
		return nil, ErrMalformed
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[len(prefix) : len(value)-1]))
	if err != nil {
		return nil, ErrMalformed
	}
	return b, nil
}
