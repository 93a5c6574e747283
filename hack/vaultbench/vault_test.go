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

// Package vaultbench puts a reference figure beside the product's
// BenchmarkAuthenticateVsFloor (authn/floor_test.go): the login handler of
// HashiCorp Vault's JWT auth plugin (github.com/hashicorp/vault-plugin-auth-jwt)
// configured as an Azure managed-identity authenticator, measured against the
// same crypto floor in the same run.
//
// What runs: the plugin's backend Factory on an in-memory storage
// (logical.InmemStorage), no Vault core. The config is a static RS256 public
// key (jwt_validation_pubkeys, so nothing is ever fetched: no OIDC discovery,
// no JWKS URL, no provider_config, hence no Graph calls) and bound_issuer
// https://sts.windows.net/<tenant>/; the role is role_type "jwt",
// bound_audiences https://management.azure.com/, user_claim "oid" and
// bound_claims_type "glob" binding xms_mirid to
// /subscriptions/<sub>/resourcegroups/<rg>/providers/*. Config and role are
// written once; each iteration is one "login" UpdateOperation through
// backend.HandleRequest, which reads the role from storage, verifies the
// RS256 signature (go-jose via hashicorp/cap), checks iss/aud/exp/nbf/iat,
// matches the glob and builds the logical.Auth. It is the plugin's share of
// a Vault login only: Vault core's HTTP handling, token creation, token
// store writes, identity entity lookup and audit come on top and are not
// measured here, so the figure flatters Vault.
//
// Tokens: 100 Azure-shaped v1 managed-identity tokens (distinct oid, sub,
// appid and xms_mirid under the glob), signed here with an RSA-2048 key made
// at setup, are cycled. Vault has no verified-token cache; distinct tokens
// keep anything else from being timed on one input only.
//
// The floor is the product's floor, the cryptography no authenticator can
// skip: one RS256 verification of the very token the Vault part just logged
// in with (crypto/rsa VerifyPKCS1v15 over SHA-256 of the signing input) plus
// one access-token signature as the product makes it (Ed25519 over a ~200
// byte JSON payload, wrapped in the same JSON the product emits). The
// metrics keep the product's names: µs-vault, µs-base (both medians) and
// x-base (their ratio), plus allocs-vault and B-vault, the allocations of
// one login measured apart after the timed loop.
//
// Why its own module: the plugin drags in Vault's SDK and API, gRPC, the
// Google and cloud SQL clients, Docker's and more. A test-only module under
// hack/ keeps all of that out of the product's go.mod and go.sum; it does
// not require the root module either, so it builds on its own. Run it with
//
//	cd hack/vaultbench && go test -run '^$' -bench VsFloor -benchtime 3000x -benchmem .
package vaultbench

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	jwtauth "github.com/hashicorp/vault-plugin-auth-jwt"
	"github.com/hashicorp/vault/sdk/logical"
)

const (
	tenant       = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	subscription = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	group        = "rg-apps"
	audience     = "https://management.azure.com/"
	roleName     = "azure-apps"
	tokens       = 100
)

var issuer = "https://sts.windows.net/" + tenant + "/"

// BenchmarkVaultLoginVsFloor: one Vault JWT-plugin login against the
// product's floor, alternating in one loop as authn's benchmarks do.
func BenchmarkVaultLoginVsFloor(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	backend, storage := newVault(b, &key.PublicKey)
	toks := make([]string, tokens)
	now := time.Now()
	for i := range toks {
		toks[i] = azureToken(b, key, i, now)
	}
	ctx := context.Background()
	login := func(tok string) (*logical.Response, error) {
		return backend.HandleRequest(ctx, &logical.Request{
			Operation: logical.UpdateOperation,
			Path:      "login",
			Storage:   storage,
			Data:      map[string]any{"role": roleName, "jwt": tok},
		})
	}
	// Every token must log in, as the right user, before anything is timed.
	for i, tok := range toks {
		resp, err := login(tok)
		if err != nil || resp == nil || resp.IsError() || resp.Auth == nil {
			b.Fatalf("setup login %d: err=%v resp=%#v", i, err, resp)
		}
		if want := guid("oid", i); resp.Auth.Alias == nil || resp.Auth.Alias.Name != want {
			b.Fatalf("setup login %d: alias %+v, want %s", i, resp.Auth.Alias, want)
		}
	}
	// And a token outside the glob must not, or the glob is not being applied.
	if resp, err := login(azureTokenFor(b, key, 0, now, "/subscriptions/"+subscription+"/resourcegroups/rg-other/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-000")); err == nil && resp != nil && resp.Auth != nil {
		b.Fatal("a token outside the bound xms_mirid glob logged in")
	}

	// The floor's inputs are split and decoded ahead, as authn's are.
	inputs, sigs := make([]string, len(toks)), make([][]byte, len(toks))
	for i, tok := range toks {
		parts := strings.Split(tok, ".")
		inputs[i] = parts[0] + "." + parts[1]
		if sigs[i], err = base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
			b.Fatal(err)
		}
	}
	sign := accessTokenSigner(b)
	var next, cur int
	vault := func() {
		cur, next = next, (next+1)%len(toks)
		resp, err := login(toks[cur])
		if err != nil || resp == nil || resp.Auth == nil {
			b.Fatalf("login: err=%v resp=%#v", err, resp)
		}
	}
	floor := func() { // on the token the Vault part just took
		sum := sha256.Sum256([]byte(inputs[cur]))
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sigs[cur]) != nil {
			b.Fatal("the floor's verification failed")
		}
		sign()
	}
	alternate(b, "vault", vault, floor)

	// Allocations of the Vault part alone, outside the timed loop so that
	// reading MemStats disturbs no timing.
	allocs, bytes := allocsPerRun(200, vault)
	b.ReportMetric(allocs, "allocs-vault")
	b.ReportMetric(bytes, "B-vault")
}

// newVault makes the plugin's backend and writes config and role once.
func newVault(b *testing.B, pub *rsa.PublicKey) (logical.Backend, logical.Storage) {
	b.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		b.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	storage := &logical.InmemStorage{}
	conf := logical.TestBackendConfig()
	conf.StorageView = storage
	// Vault's default level is info; the handler logs nothing on success,
	// and anything it would log goes nowhere.
	conf.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: io.Discard})
	ctx := context.Background()
	backend, err := jwtauth.Factory(ctx, conf)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { backend.Cleanup(ctx) })

	write := func(op logical.Operation, path string, data map[string]any) {
		resp, err := backend.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Storage: storage, Data: data})
		if err != nil || (resp != nil && resp.IsError()) {
			b.Fatalf("write %s: err=%v resp=%#v", path, err, resp)
		}
	}
	write(logical.UpdateOperation, "config", map[string]any{
		"jwt_validation_pubkeys": []string{pemKey},
		"jwt_supported_algs":     []string{"RS256"},
		"bound_issuer":           issuer,
	})
	write(logical.CreateOperation, "role/"+roleName, map[string]any{
		"role_type":         "jwt",
		"bound_audiences":   []string{audience},
		"user_claim":        "oid",
		"bound_claims_type": "glob",
		"bound_claims": map[string]any{
			"xms_mirid": "/subscriptions/" + subscription + "/resourcegroups/" + group + "/providers/*",
		},
		"token_policies": []string{"apps"},
		"token_ttl":      "8m",
	})
	return backend, storage
}

// azureToken is the i-th user-assigned managed-identity token, shaped as
// Azure's v1 tokens for ARM are.
func azureToken(b *testing.B, key *rsa.PrivateKey, i int, now time.Time) string {
	mirid := fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-%03d", subscription, group, i)
	return azureTokenFor(b, key, i, now, mirid)
}

func azureTokenFor(b *testing.B, key *rsa.PrivateKey, i int, now time.Time, mirid string) string {
	b.Helper()
	header := map[string]any{"typ": "JWT", "alg": "RS256", "kid": "bench-kid-1", "x5t": "bench-kid-1"}
	claims := map[string]any{
		"aud":        audience,
		"iss":        issuer,
		"idp":        issuer,
		"iat":        now.Unix(),
		"nbf":        now.Unix(),
		"exp":        now.Add(time.Hour).Unix(),
		"aio":        "k2BgYJjV8f8+opaque+value=",
		"appid":      guid("appid", i),
		"appidacr":   "2",
		"idtyp":      "app",
		"oid":        guid("oid", i),
		"sub":        guid("oid", i),
		"tid":        tenant,
		"rh":         "0.AAAA-opaque.",
		"uti":        base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("uti-%012d-xx", i)))[:22],
		"ver":        "1.0",
		"xms_mirid":  mirid,
		"xms_az_rid": fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.Compute/virtualMachines/vm-%03d", subscription, group, i),
		"xms_tcdt":   1289241547,
	}
	input := segment(b, header) + "." + segment(b, claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		b.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func segment(b *testing.B, v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// guid derives a stable GUID from a kind and an index.
func guid(kind string, i int) string {
	s := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", kind, i))
	s[6] = s[6]&0x0f | 0x40
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// accessTokenSigner returns the floor's second half: the product's access
// token signature (internal/accesstoken.Sign) written out without importing
// the product: a JOSE header, the claims JSON padded to a multiple of 3 and
// base64-encoded, Ed25519 over "protected.payload", and the JSON wire form.
func accessTokenSigner(b *testing.B) func() {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	type header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	type claims struct {
		Subject    string `json:"sub"`
		IssuedAt   int64  `json:"iat"`
		Expiry     int64  `json:"exp"`
		Issuer     string `json:"iss"`
		Audience   string `json:"aud"`
		Service    string `json:"svc"`
		UID        string `json:"uid"`
		Generation int64  `json:"gen"`
	}
	type wire struct {
		Protected string `json:"protected"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	}
	now := time.Now()
	c := claims{Subject: "host/apps/app", IssuedAt: now.Unix(), Expiry: now.Add(8 * time.Minute).Unix(),
		Issuer: "azure-authenticator", Audience: "default", Service: "prod", UID: "uid-app", Generation: 1}
	return func() {
		h, err := json.Marshal(header{Alg: "EdDSA", Kid: "AAECAwQFBgcICQoL", Typ: "JWT"})
		if err != nil {
			b.Fatal(err)
		}
		protected := base64.RawURLEncoding.EncodeToString(h)
		raw, err := json.Marshal(c)
		if err != nil {
			b.Fatal(err)
		}
		for len(raw)%3 != 0 {
			raw = append(raw, ' ')
		}
		payload := base64.StdEncoding.EncodeToString(raw)
		sig := ed25519.Sign(priv, []byte(protected+"."+payload))
		if _, err := json.Marshal(wire{Protected: protected, Payload: payload, Signature: base64.RawURLEncoding.EncodeToString(sig)}); err != nil {
			b.Fatal(err)
		}
	}
}

// alternate times product and base in turn, b.N times each, and reports
// their medians in µs and product/base. A copy of authn's, so that the
// figures read the same.
func alternate(b *testing.B, name string, product, base func()) {
	b.Helper()
	var ps, bs []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		product()
		ps = append(ps, time.Since(start))
		start = time.Now()
		base()
		bs = append(bs, time.Since(start))
	}
	p, f := median(ps), median(bs)
	b.ReportMetric(float64(p.Nanoseconds())/1e3, "µs-"+name)
	b.ReportMetric(float64(f.Nanoseconds())/1e3, "µs-base")
	if f > 0 {
		b.ReportMetric(float64(p)/float64(f), "x-base")
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// allocsPerRun is testing.AllocsPerRun that also gives bytes: the mean
// mallocs and bytes of one call of f, on one P, after a warm-up call.
func allocsPerRun(runs int, f func()) (allocs, bytes float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs), float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}
