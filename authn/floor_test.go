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

package authn_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/authn"
	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/secrets"
)

// Benchmarks against the crypto floor. Each alternates, in one loop, the
// product's work and the cryptography no authenticator can skip, and
// reports both medians and their ratio: absolute times on a shared
// machine swing by tens of percent between runs, ratios measured in the
// same run do not.

// BenchmarkAuthenticateVsFloor: one full in-process authentication
// (handler, limits, verification, index, signing, audit, metrics, response)
// against its floor, the RS256 verification of the same Azure token plus
// one access-token signature.
func BenchmarkAuthenticateVsFloor(b *testing.B) { benchAuthenticateVsFloor(b, 0) }

func benchAuthenticateVsFloor(b *testing.B, cache int) {
	p := newInProcessWith(b, func(c *authn.Config) { c.VerifiedTokenCache = cache })
	p.index.MarkSynced()
	if rec := serveOnce(p.server, p.request()); rec.Code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
	}
	parts := strings.Split(p.token, ".")
	input := parts[0] + "." + parts[1]
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		b.Fatal(err)
	}
	pub := &azure.SigningKey().Private.PublicKey
	signer := p.keys.Ring().Signer(time.Now())
	claims := accesstoken.Claims{Subject: p.login, IssuedAt: time.Now().Unix(), Expiry: time.Now().Add(8 * time.Minute).Unix(),
		Issuer: accesstoken.Issuer, Audience: "default", Service: "prod", UID: "uid-app", Generation: 1}
	floor := func() {
		sum := sha256.Sum256([]byte(input))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
			b.Fatal("the floor's verification failed")
		}
		if _, err := accesstoken.Sign(signer, claims); err != nil {
			b.Fatal(err)
		}
	}
	product := func() {
		if rec := serveOnce(p.server, p.request()); rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	alternate(b, "authenticate", product, floor)
	// allocs/op counts the floor and the test's own request and recorder
	// too; the target is about the product's share.
	harness := func() { _, _ = p.request(), httptest.NewRecorder() }
	b.ReportMetric(testing.AllocsPerRun(200, product)-testing.AllocsPerRun(200, harness), "allocs-authenticate")
}

// BenchmarkAuthenticateCachedVsFloor is BenchmarkAuthenticateVsFloor with
// the verified-token cache on and the workload presenting the same Azure
// token again, as it does for hours: no RS256 verification is left, so the
// product may cost less than the floor of an uncached authentication.
func BenchmarkAuthenticateCachedVsFloor(b *testing.B) {
	benchAuthenticateVsFloor(b, 1000)
}

// BenchmarkFetchVsFloor: one secret fetch and one batch of 10 with an
// access token, against the fetch path's floor, one Ed25519 verification
// of that token (accesstoken.Verify).
func BenchmarkFetchVsFloor(b *testing.B) {
	store := secrets.NewStore()
	store.MarkSynced()
	data := map[string][]byte{}
	var ids []string
	for i := range 10 {
		k := "k" + strconv.Itoa(i)
		data[k] = []byte("value-" + k)
		ids = append(ids, "apps/db/"+k)
	}
	store.Put("apps", "db", secrets.Compile("apps", "db", map[string]string{secrets.ExposeLabel: "true"},
		map[string]string{secrets.AllowedHostsAnnotation: "app"}, data))
	w := newWorld(b, func(c *authn.Config) { c.Secrets = store; c.Audit = nil })
	vm := azuretest.VM(w.tenant, subscription, "rg-apps", "vm-1")
	w.host("app", vm, nil)
	rec := w.authenticate("host/apps/app", azure.Token(vm, azuretest.TokenOptions{}), "127.0.0.1:1")
	if rec.Code != http.StatusOK {
		b.Fatalf("authenticate: %d %s", rec.Code, rec.Body)
	}
	tokenJSON := rec.Body.Bytes()
	authz := `Token token="` + base64.StdEncoding.EncodeToString(tokenJSON) + `"`
	get := func(path string) func() {
		return func() {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Header.Set("Authorization", authz)
			if rec := serveOnce(w.server, r); rec.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
	}
	ring := w.keys.Ring()
	floor := func() {
		raw, err := accesstoken.FromAuthorization(authz)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := accesstoken.Verify(ring.Verifiers(), raw, time.Now(), "default"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("single", func(b *testing.B) { alternate(b, "fetch", get("/secrets/default/variable/apps%2Fdb%2Fk0"), floor) })
	b.Run("batch10", func(b *testing.B) {
		alternate(b, "batch10", get("/secrets?variable_ids="+strings.Join(ids, ",")), get("/secrets/default/variable/apps%2Fdb%2Fk0"))
	})
}

func serveOnce(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(deadlineRecorder{rec}, r)
	return rec
}

// deadlineRecorder takes read deadlines as a server's writer does; on a
// bare recorder, setting one costs an error value per request that no
// served request pays.
type deadlineRecorder struct{ *httptest.ResponseRecorder }

func (deadlineRecorder) SetReadDeadline(time.Time) error { return nil }

// alternate times product and base in turn, b.N times each, and reports
// their medians in µs and product/base.
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
