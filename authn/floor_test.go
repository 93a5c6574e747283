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
	var r *http.Request
	var rec *httptest.ResponseRecorder
	product := step{
		prepare: func() { r, rec = p.request(), httptest.NewRecorder() },
		run: func() {
			if p.server.ServeHTTP(deadlineRecorder{rec}, r); rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		},
	}
	alternate(b, "authenticate", product, timed(floor))
	// allocs/op counts the floor and the test's own request and recorder
	// too; the target is about the product's share.
	b.ReportMetric(testing.AllocsPerRun(200, func() { product.prepare(); product.run() })-testing.AllocsPerRun(200, product.prepare), "allocs-authenticate")
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
	get := func(path string) step {
		var r *http.Request
		var rec *httptest.ResponseRecorder
		return step{
			prepare: func() {
				r, rec = httptest.NewRequest(http.MethodGet, path, nil), httptest.NewRecorder()
				r.RemoteAddr = "127.0.0.1:1"
				r.Header.Set("Authorization", authz)
			},
			run: func() {
				if w.server.ServeHTTP(deadlineRecorder{rec}, r); rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
				}
			},
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
	b.Run("single", func(b *testing.B) {
		alternate(b, "fetch", get("/secrets/default/variable/apps%2Fdb%2Fk0"), timed(floor))
	})
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

// step is one measured unit of work: prepare builds its input (a request
// and its recorder) and is not timed; run is.
type step struct{ prepare, run func() }

func timed(run func()) step { return step{func() {}, run} }

// alternate times product and base in turn, b.N times each, and reports
// their medians in µs and product/base. The order flips every iteration
// (product, base, base, product, ...): whichever runs second finds the
// caches and branch predictors warmed by the first, and neither should
// always get that advantage.
func alternate(b *testing.B, name string, product, base step) {
	b.Helper()
	var ps, bs []time.Duration
	measure := func(s step, into *[]time.Duration) {
		s.prepare()
		start := time.Now()
		s.run()
		*into = append(*into, time.Since(start))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			measure(product, &ps)
			measure(base, &bs)
		} else {
			measure(base, &bs)
			measure(product, &ps)
		}
	}
	p, f := median(ps), median(bs)
	b.ReportMetric(float64(p.Nanoseconds())/1e3, "µs-"+name)
	b.ReportMetric(float64(f.Nanoseconds())/1e3, "µs-base")
	if f > 0 {
		b.ReportMetric(float64(p)/float64(f), "x-base")
	}
}
