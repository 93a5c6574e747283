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
	"crypto/ed25519"
	"encoding/base64"
	"testing"
	"time"
)

// FuzzAuthorization feeds Authorization headers to FromAuthorization and
// Verify: nothing panics, and the one thing accepted is what the key
// signed (however its JSON is spaced), unexpired, for its account.
func FuzzAuthorization(f *testing.F) {
	key := &SigningKey{ID: "k1", Private: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}
	signed := claimsWith("host/apps/vm-1")
	token, err := Sign(key, signed)
	if err != nil {
		f.Fatal(err)
	}
	header := `Token token="` + base64.StdEncoding.EncodeToString(token) + `"`
	for _, s := range []string{
		header,
		`Token token=""`,
		`Token token="` + base64.StdEncoding.EncodeToString([]byte(`{"protected":"e30","payload":"e30","signature":"AA"}`)) + `"`,
		"Bearer " + string(token),
		`Token token="not base64"`,
	} {
		f.Add(s)
	}
	keys := map[string]ed25519.PublicKey{key.ID: key.Public()}
	now := time.Unix(signed.IssuedAt+60, 0)
	f.Fuzz(func(t *testing.T, authorization string) {
		raw, err := FromAuthorization(authorization)
		if err != nil {
			return
		}
		got, err := Verify(keys, raw, now, "default")
		if err != nil {
			return
		}
		if *got != signed {
			t.Fatalf("accepted claims %+v that the key never signed", got)
		}
	})
}
