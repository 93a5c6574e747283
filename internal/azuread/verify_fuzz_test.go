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

package azuread_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// FuzzVerify signs arbitrary header and claims bytes with the provider's
// real key (ISSUER and KID in them stand for the fake Entra ID's issuer
// and key id) and holds Verify to a plain rule read with encoding/json: a
// token is accepted only if its header names RS256 and the key and carries
// no key of its own, and its claims name the provider's issuer and tenant,
// an accepted audience, an object id, a resource id and times that are
// valid now; and the claims returned are the ones signed. Whatever the
// bytes, nothing panics.
func FuzzVerify(f *testing.F) {
	header := `{"typ":"JWT","alg":"RS256","kid":"KID","x5t":"KID"}`
	claims := `{"aud":"https://management.azure.com/","iss":"ISSUER","iat":1700000000,"nbf":1700000000,"exp":4102444800,` +
		`"oid":"7d1b2c3e-0000-4000-8000-000000000001","tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","ver":"1.0",` +
		`"xms_mirid":"/subscriptions/6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"}`
	f.Add([]byte(header), []byte(claims))
	for _, c := range []string{
		strings.Replace(claims, `"iss":"ISSUER"`, `"iss":"https://evil.example/","iss":"ISSUER"`, 1), // a claim twice
		strings.Replace(claims, `"exp":4102444800`, `"exp":"4102444800"`, 1),                         // a number as a string
		strings.Replace(claims, `"exp":4102444800`, `"exp":1e400`, 1),                                // out of range
		strings.Replace(claims, `"exp":4102444800`, `"exp":4.1024448e9`, 1),
		strings.Replace(claims, `"aud":"https://management.azure.com/"`, `"aud":["x","https://management.azure.com/"]`, 1),
		strings.Replace(claims, `"aud":"https://management.azure.com/"`, `"aud":["x",1]`, 1),
		strings.Replace(claims, `"tid":"72f988bf`, `"tid":"72F988BF`, 1),
		strings.Replace(claims, `"oid"`, `"\u006fid"`, 1),
	} {
		f.Add([]byte(header), []byte(c))
	}
	for _, h := range []string{`{"alg":"none","kid":"KID"}`, `{"alg":"HS256","kid":"KID"}`, `{"alg":"RS256","kid":"KID","jwk":{}}`, `{"alg":"RS256","kid":"KID","alg":"RS256"}`, `{"alg":"ES256","kid":"KID"}`} {
		f.Add([]byte(h), []byte(claims))
	}

	azure := azuretest.NewServer()
	f.Cleanup(azure.Close)
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	issuer := azure.IssuerV1(tenant)
	auth := &policy.Authenticator{
		ServiceID: "prod", Enabled: true, ClockSkew: time.Minute, Audiences: []string{"https://management.azure.com/"},
		Providers: []policy.Provider{{Issuer: issuer, TenantID: tenant, CABundle: azure.CAPEM()}},
	}
	v := &azuread.Verifier{Keys: azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext})}
	key := azure.SigningKey()
	token := func(header, claims []byte) string {
		input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.Private, crypto.SHA256, sum[:])
		if err != nil {
			f.Fatal(err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	// The rule below binds only what is accepted: the seed must be.
	if _, err := v.Verify(context.Background(), auth, token([]byte(strings.ReplaceAll(header, "KID", key.ID)), []byte(strings.ReplaceAll(claims, "ISSUER", issuer)))); err != nil {
		f.Fatalf("the seed token is refused: %v", err)
	}
	f.Fuzz(func(t *testing.T, header, claims []byte) {
		header = bytes.ReplaceAll(header, []byte("KID"), []byte(key.ID))
		claims = bytes.ReplaceAll(claims, []byte("ISSUER"), []byte(issuer))
		got, err := v.Verify(context.Background(), auth, token(header, claims))
		if err != nil {
			return
		}
		var h, c map[string]any
		if json.Unmarshal(header, &h) != nil || json.Unmarshal(claims, &c) != nil {
			t.Fatalf("accepted a token encoding/json cannot read: %q %q", header, claims)
		}
		for _, name := range []string{"jwk", "jku", "x5u", "x5c", "crit"} {
			if _, ok := h[name]; ok {
				t.Fatalf("accepted a header with %s: %q", name, header)
			}
		}
		now := time.Now()
		str := func(name string) string { s, _ := c[name].(string); return s }
		num := func(name string) (time.Time, bool) {
			x, ok := c[name].(float64)
			return time.Unix(int64(x), 0), ok
		}
		exp, expOK := num("exp")
		iat, iatOK := num("iat")
		nbf, nbfOK := num("nbf")
		_, nbfPresent := c["nbf"]
		var auds []string
		switch a := c["aud"].(type) {
		case string:
			auds = []string{a}
		case []any:
			for _, e := range a {
				s, _ := e.(string)
				auds = append(auds, s)
			}
		}
		switch {
		case h["alg"] != "RS256" || h["kid"] != key.ID:
			t.Fatalf("accepted header %q", header)
		case strings.TrimSuffix(str("iss"), "/") != strings.TrimSuffix(issuer, "/") || !strings.EqualFold(str("tid"), tenant):
			t.Fatalf("accepted issuer %q, tenant %q", str("iss"), str("tid"))
		case !slices.Contains(auds, "https://management.azure.com/"):
			t.Fatalf("accepted audience %v", c["aud"])
		case str("oid") == "" || str("xms_mirid") == "":
			t.Fatalf("accepted claims without oid or xms_mirid: %q", claims)
		case !expOK || !iatOK || !now.Before(exp.Add(time.Minute)) || iat.After(now.Add(time.Minute)) || nbfPresent && (!nbfOK || now.Before(nbf.Add(-time.Minute))):
			t.Fatalf("accepted times exp %v iat %v nbf %v", c["exp"], c["iat"], c["nbf"])
		case got.ObjectID != str("oid") || got.MIRID != str("xms_mirid") || got.TenantID != str("tid") || !got.Expiry.Equal(exp):
			t.Fatalf("returned %+v for claims %q", got, claims)
		}
	})
}
