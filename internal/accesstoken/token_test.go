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

package accesstoken

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
)

func testKey(t testing.TB) *SigningKey {
	k, err := NewSigningKey(time.Unix(1700000000, 0), time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func claimsWith(sub string) Claims {
	return Claims{Subject: sub, IssuedAt: 1800000000, Expiry: 1800000480, Issuer: Issuer, Audience: "default", Service: "prod", UID: "0f8b7e0c-0d5c-4a51-9c6e-2a7d8d3c1b90", Generation: 3}
}

// The payload must read the same as padded standard base64 (what the Conjur
// SDK decodes) and as unpadded base64url (what JWS says), whatever the claims
// hold: every length mod 3 and every troublesome character.
func TestPayloadDecodesInBothAlphabets(t *testing.T) {
	subjects := []string{"host/a/b", "host/a/bc", "host/a/bcd", "host/ns/x?y", "host/ns/~>~>??", "host/ns/\x7f", "host/ünï/çødé", "host/ns/😀emoji", "host/ns/\u2028", strings.Repeat("?", 50)}
	for _, sub := range subjects {
		c := claimsWith(sub)
		p, err := encodePayload(c)
		if err != nil {
			t.Fatalf("%q: %v", sub, err)
		}
		std, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("%q: standard base64: %v", sub, err)
		}
		url, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatalf("%q: base64url: %v", sub, err)
		}
		var a, b Claims
		if json.Unmarshal(std, &a) != nil || json.Unmarshal(url, &b) != nil || a != c || b != c {
			t.Fatalf("%q: decoded %+v / %+v, want %+v", sub, a, b, c)
		}
	}
}

func FuzzPayloadDecodesInBothAlphabets(f *testing.F) {
	f.Add("host/a/b", "prod")
	f.Add("?~>\x7f", "ü")
	f.Fuzz(func(t *testing.T, sub, svc string) {
		if !utf8.ValidString(sub) || !utf8.ValidString(svc) {
			t.Skip("claims are always valid UTF-8 (names from the API server)")
		}
		c := claimsWith(sub)
		c.Service = svc
		p, err := encodePayload(c)
		if err != nil {
			t.Fatalf("encodePayload(%q, %q): %v", sub, svc, err)
		}
		if strings.ContainsAny(p, "+/=") {
			t.Fatalf("payload %q has +, / or =", p)
		}
		var got Claims
		b, _ := base64.StdEncoding.DecodeString(p)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Fatalf("got %+v want %+v", got, c)
		}
	})
}

func TestTokenHasExactlyThreeStringMembersAndVerifiesAsJWS(t *testing.T) {
	key := testKey(t)
	raw, err := Sign(key, claimsWith("host/payments/billing-api"))
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]any
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatal(err)
	}
	if len(members) != 3 {
		t.Fatalf("members = %v", members)
	}
	for _, m := range []string{"protected", "payload", "signature"} {
		if _, ok := members[m].(string); !ok {
			t.Fatalf("member %s missing or not a string in %s", m, raw)
		}
	}
	// A JOSE library verifies it as a flattened JWS with the published key.
	ring := NewRing([]*SigningKey{key})
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(ring.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedJSON(string(raw), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose cannot parse the token: %v", err)
	}
	payload, err := jws.Verify(set.Key(key.ID)[0])
	if err != nil {
		t.Fatalf("go-jose cannot verify the token with the JWKS: %v", err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil || c.Subject != "host/payments/billing-api" {
		t.Fatalf("payload %s", payload)
	}
}

func TestVerify(t *testing.T) {
	key, other := testKey(t), testKey(t)
	keys := NewRing([]*SigningKey{key}).Verifiers()
	now := time.Unix(1800000100, 0)
	good, _ := Sign(key, claimsWith("host/a/b"))
	if c, err := Verify(keys, good, now, "default"); err != nil || c.Subject != "host/a/b" {
		t.Fatalf("Verify(good) = %+v, %v", c, err)
	}
	foreign, _ := Sign(other, claimsWith("host/a/b"))
	var tampered Token
	_ = json.Unmarshal(good, &tampered)
	evil := claimsWith("host/a/admin")
	tampered.Payload, _ = encodePayload(evil)
	tamperedJSON, _ := json.Marshal(tampered)
	// Go's base64 decoders skip CR and LF: a line break escaped into the
	// signature member left the signature, and the verdict, unchanged.
	var broken Token
	_ = json.Unmarshal(good, &broken)
	broken.Signature = broken.Signature[:10] + "\n" + broken.Signature[10:]
	brokenJSON, _ := json.Marshal(broken)
	tests := []struct {
		name string
		tok  []byte
		now  time.Time
		acct string
		want error
	}{
		{"an unknown key", foreign, now, "default", ErrUnknownKey},
		{"a tampered payload", tamperedJSON, now, "default", ErrSignature},
		{"expired", good, time.Unix(1800000480, 0), "default", ErrExpired},
		{"another account", good, now, "other", ErrWrongIssuer},
		{"a line break in the signature", brokenJSON, now, "default", ErrMalformed},
		{"extra members", []byte(`{"protected":"a","payload":"b","signature":"c","x":1}`), now, "default", ErrMalformed},
		{"not JSON", []byte("garbage"), now, "default", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(keys, tc.tok, tc.now, tc.acct); err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRingSignsWithTheNewestKeyWhoseTimeHasCome(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	old, _ := NewSigningKey(t0, t0)
	next, _ := NewSigningKey(t0.Add(time.Hour), t0.Add(time.Hour+2*time.Minute))
	ring := NewRing([]*SigningKey{next, old})
	if got := ring.Signer(t0.Add(time.Hour + time.Minute)); got.ID != old.ID {
		t.Fatalf("before the new key's SignFrom the old key must sign")
	}
	if got := ring.Signer(t0.Add(time.Hour + 2*time.Minute)); got.ID != next.ID {
		t.Fatalf("after SignFrom the new key must sign")
	}
	if len(ring.Verifiers()) != 2 {
		t.Fatal("both keys must verify")
	}
	b, err := Marshal(ring.Keys())
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(b)
	if err != nil || len(back) != 2 || back[1].ID != next.ID || !back[1].SignFrom.Equal(next.SignFrom) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func TestFromAuthorization(t *testing.T) {
	tok := []byte(`{"protected":"a","payload":"b","signature":"c"}`)
	h := `Token token="` + base64.StdEncoding.EncodeToString(tok) + `"`
	if got, err := FromAuthorization(h); err != nil || string(got) != string(tok) {
		t.Fatalf("FromAuthorization = %s, %v", got, err)
	}
	for _, bad := range []string{"", "Bearer x", `Token token="not base64!"`, `Token token=abc`} {
		if _, err := FromAuthorization(bad); err == nil {
			t.Errorf("FromAuthorization(%q) accepted", bad)
		}
	}
}

// Every malformed Authorization value is an error, never a panic: the
// bare prefix `Token token="` once sliced out of bounds.
func TestFromAuthorizationRefusesEveryMalformedHeader(t *testing.T) {
	for _, v := range []string{
		``, `"`, `Token`, `Token token=`, `Token token="`, `Token token=""`, `Token token="""`,
		`token token="e30="`, `Token token="e30=`, `Token token='e30='`, `Bearer e30=`,
		`Token token="!!!"`, `Token token="` + strings.Repeat("A", 2*maxTokenBytes) + `"`,
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%q: panic %v", v, p)
				}
			}()
			if b, err := FromAuthorization(v); err == nil && len(b) > 0 {
				t.Errorf("%q accepted as %q", v, b)
			}
		}()
	}
	if b, err := FromAuthorization(`Token token="e30="`); err != nil || string(b) != "{}" {
		t.Fatalf("a well-formed header: %q %v", b, err)
	}
}
