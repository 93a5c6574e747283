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

package churn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// GenericUnauthorized is the one body of every 401 (README, "What a client
// sees"); the e2e test holds it equal to the product's constant.
const GenericUnauthorized = `{"error":{"code":"unauthorized","message":"CONJ00002E Invalid credentials"}}`

// requestTimeout bounds one request; the history keeps what requests
// this old may still need.
const requestTimeout = 20 * time.Second

// Error kinds (Record.Err) that are not a status with its code.
const (
	ErrTransport     = "transport error"
	ErrBody401       = "401 with a body other than the generic one"
	ErrBody403       = "403 with a body other than CONJ00006E"
	ErrBody404       = "404 with a body other than CONJ00076E"
	ErrUnreadableTok = "200 with an unreadable access token"
)

// documented are the 503s the README names, each with why it may happen;
// a report lists them with these reasons instead of absorbing them.
var documented = map[string]string{
	"503 AZAUTH009E": "the index has not synced or no signing key is loaded (start-up, or a deleted signing-key Secret)",
	"503 AZAUTH010E": "more than --max-in-flight requests at once",
	"503 AZAUTH014E": "this replica's view is older than --max-staleness",
	"503 AZAUTH018E": "the Secrets of the namespace cannot be read now (their informer has not synced, or fails)",
}

// conn is a client of the authenticator.
type conn struct {
	hc      *http.Client
	base    string
	account string // the account the server serves
}

// issued is an access token a client holds.
type issued struct {
	raw     []byte // the token JSON, as answered
	service string
	host    HostID
	ref     TokenRef
	at      time.Time
}

type claims struct {
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Svc string `json:"svc"`
	UID string `json:"uid"`
	Gen int64  `json:"gen"`
}

// authenticate posts the Azure token for r; on a 200 it returns the
// access token too.
func (c *conn) authenticate(r Request, jwt string) (Record, *issued) {
	path := "/authn-azure/" + url.PathEscape(r.Service) + "/" + url.PathEscape(r.Account) + "/" + url.PathEscape("host/"+r.Host.String()) + "/authenticate"
	rec := c.do(r, http.MethodPost, path, "jwt="+url.QueryEscape(jwt), nil)
	if rec.Err != "" || rec.Observed.Status != http.StatusOK {
		return rec, nil
	}
	raw := []byte(rec.Observed.Value)
	rec.Observed.Value = ""
	cl, err := decodeClaims(raw)
	if err != nil {
		rec.Err, rec.Observed = ErrUnreadableTok, Outcome{}
		return rec, nil
	}
	if cl.Sub != "host/"+r.Host.String() || cl.Svc != r.Service || cl.Aud != r.Account {
		// Someone else's token: no state decides so.
		rec.Observed.UID = fmt.Sprintf("(a token for sub=%s svc=%s aud=%s)", cl.Sub, cl.Svc, cl.Aud)
		return rec, nil
	}
	rec.Observed.UID, rec.Observed.Generation = cl.UID, cl.Gen
	return rec, &issued{raw: raw, service: r.Service, host: r.Host, ref: TokenRef{UID: cl.UID, Generation: cl.Gen}, at: rec.Answered}
}

// fetch reads r.Variable with tok.
func (c *conn) fetch(r Request, tok *issued) Record {
	path := "/secrets/" + url.PathEscape(r.Account) + "/variable/" + url.PathEscape(r.Variable.String())
	auth := `Token token="` + base64.StdEncoding.EncodeToString(tok.raw) + `"`
	return c.do(r, http.MethodGet, path, "", map[string]string{"Authorization": auth})
}

func (c *conn) do(r Request, method, path, body string, header map[string]string) Record {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	rec := Record{Request: r}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		rec.Err, rec.Detail = ErrTransport, err.Error()
		return rec
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec.Sent = time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		rec.Answered = time.Now()
		rec.Err, rec.Detail = ErrTransport, err.Error()
		return rec
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	rec.Answered = time.Now()
	if err != nil {
		rec.Err, rec.Detail = ErrTransport, err.Error()
		return rec
	}
	rec.Observed.Status = resp.StatusCode
	rec.Err = classify(r.Route, resp.StatusCode, b)
	if rec.Err != "" {
		rec.Detail = fmt.Sprintf("%d %s", resp.StatusCode, truncate(b))
		rec.Observed = Outcome{}
		return rec
	}
	if resp.StatusCode == http.StatusOK {
		rec.Observed.Value = string(b)
	}
	return rec
}

// classify says why an answer is not a decision the model judges, or ""
// when it is one: 200, the generic 401, a 403 or 404 with its documented
// code (authenticate never answers 404).
func classify(route Route, status int, body []byte) string {
	switch {
	case status == http.StatusOK:
		return ""
	case status == http.StatusUnauthorized:
		if string(body) != GenericUnauthorized {
			return ErrBody401
		}
		return ""
	case status == http.StatusForbidden:
		if code, msg := errorOf(body); code != "forbidden" || !strings.HasPrefix(msg, "CONJ00006E ") {
			return ErrBody403
		}
		return ""
	case status == http.StatusNotFound && route == Fetch:
		if code, msg := errorOf(body); code != "not_found" || !strings.HasPrefix(msg, "CONJ00076E ") {
			return ErrBody404
		}
		return ""
	}
	_, msg := errorOf(body)
	code, _, _ := strings.Cut(msg, " ")
	return strings.TrimSpace(fmt.Sprintf("%d %s", status, code))
}

func errorOf(body []byte) (code, message string) {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Error.Code, e.Error.Message
}

func truncate(b []byte) string {
	if len(b) > 200 {
		b = append(b[:200:200], "..."...)
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}

// decodeClaims reads an access token's claims: its payload is padded
// standard base64 (what the Conjur SDKs decode) and unpadded base64url at
// once (README, "The access token").
func decodeClaims(raw []byte) (claims, error) {
	var tok struct{ Payload string }
	var c claims
	if err := json.Unmarshal(raw, &tok); err != nil {
		return c, fmt.Errorf("access token: %w", err)
	}
	p, err := base64.StdEncoding.DecodeString(tok.Payload)
	if err != nil {
		return c, fmt.Errorf("access token payload: %w", err)
	}
	if err := json.Unmarshal(p, &c); err != nil {
		return c, fmt.Errorf("access token claims: %w", err)
	}
	if c.UID == "" || c.Gen == 0 {
		return c, errors.New("access token without uid or gen")
	}
	return c, nil
}

// pool holds access tokens issued during the run, a few per service and
// host, so that clients present old ones too: a token must stop working
// when what it was issued under is gone, not only new logins.
type pool struct {
	mu     sync.Mutex
	tokens map[[2]string][]*issued
}

const (
	tokensPerHost = 4
	// tokenMaxAge keeps presented tokens far from the access tokens'
	// default lifetime (8 minutes), so that no expiry blurs revocation.
	tokenMaxAge = 2 * time.Minute
)

func (p *pool) add(t *issued, rng *rand.Rand) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := [2]string{t.service, t.host.String()}
	if len(p.tokens[k]) < tokensPerHost {
		p.tokens[k] = append(p.tokens[k], t)
		return
	}
	p.tokens[k][rng.IntN(tokensPerHost)] = t
}

func (p *pool) pick(service string, host HostID, rng *rand.Rand) *issued {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := [2]string{service, host.String()}
	ts := p.tokens[k]
	if len(ts) == 0 {
		return nil
	}
	t := ts[rng.IntN(len(ts))]
	if time.Since(t.at) > tokenMaxAge {
		return nil
	}
	return t
}
