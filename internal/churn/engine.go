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
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Config is one run.
type Config struct {
	// Client writes the world through the API server (create, patch and
	// delete of Namespaces, AzureHosts, AzureAuthenticators, Secrets).
	// Give it no client-side rate limit: a write waiting in it counts as
	// possibly in force, which only makes the check more lenient.
	Client client.Client
	// HTTP reaches the authenticator at BaseURL (loopback only), which
	// serves Account.
	HTTP    *http.Client
	BaseURL string
	Account string
	// Prefix names the run's namespaces and authenticators; unique per
	// API server.
	Prefix string
	// Issuer (with CABundle to reach it) is the authenticators' provider;
	// Token mints its Azure token for the system-assigned identity of VM
	// vm in resourceGroup of Subscription.
	Issuer, CABundle, Subscription string
	Token                          func(resourceGroup, vm string) string

	Clients  int           // default 8
	Duration time.Duration // default 15s
	// WriteInterval is the time between writes (default 100ms: at most
	// 10 writes a second).
	WriteInterval time.Duration
	// Seed drives every random choice (0: from the clock). It repeats the
	// choices, not the run: the interleaving with the server differs.
	Seed uint64
	// Logf reports progress and trouble cleaning up (nil: nothing).
	Logf func(format string, args ...any)
}

// settleTimeout bounds the wait for the server to serve the initial
// world (the first request of a new issuer fetches its keys).
const settleTimeout = time.Minute

// Run sets up the world, runs the writer and the clients for
// cfg.Duration while checking every decision, removes the world and
// reports. An error means the run itself failed (the API server refused
// a write, the server never served the initial world); wrong decisions
// are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Client == nil || cfg.HTTP == nil || cfg.BaseURL == "" || cfg.Account == "" || cfg.Prefix == "" ||
		cfg.Issuer == "" || cfg.Subscription == "" || cfg.Token == nil {
		return nil, errors.New("churn: Client, HTTP, BaseURL, Account, Prefix, Issuer, Subscription and Token are required")
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 8
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 15 * time.Second
	}
	if cfg.WriteInterval <= 0 {
		cfg.WriteInterval = 100 * time.Millisecond
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	e := &engine{cfg: cfg, logf: logf, w: newWorld(cfg.Prefix, cfg.Subscription, cfg.Issuer, cfg.CABundle),
		h: NewHistory(EmptyState()), conn: &conn{hc: cfg.HTTP, base: cfg.BaseURL, account: cfg.Account},
		pool: &pool{tokens: map[[2]string][]*issued{}}, writes: map[string]int{}}
	e.targets = e.w.targets()
	e.checker = NewChecker(e.h, cfg.Account)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.w.cleanup(cctx, cfg.Client, e.h.Latest()); err != nil {
			logf("%v", err)
		}
	}()
	began := time.Now()
	if err := e.setup(ctx); err != nil {
		return nil, err
	}
	if err := e.settle(ctx); err != nil {
		return nil, err
	}
	logf("churn: world %s-* set up and served in %v; %d clients for %v, a write every %v, seed %d",
		cfg.Prefix, time.Since(began).Round(time.Millisecond), cfg.Clients, cfg.Duration, cfg.WriteInterval, cfg.Seed)
	rep := &Report{Seed: cfg.Seed, Clients: cfg.Clients}
	rep.HeapInuseBefore, rep.GoroutinesBefore = memory()
	if err := e.run(ctx, rep); err != nil {
		return nil, err
	}
	cfg.HTTP.CloseIdleConnections()
	rep.HeapInuseAfter, rep.GoroutinesAfter = memory()
	return rep, nil
}

func memory() (heapInuse uint64, goroutines int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, runtime.NumGoroutine()
}

type engine struct {
	cfg     Config
	logf    func(string, ...any)
	w       *world
	h       *History
	checker *Checker
	conn    *conn
	pool    *pool
	targets []target
	tokens  map[string][]string // Azure tokens by resource group
	hot     atomic.Pointer[[]target]

	writes    map[string]int
	writeLats []time.Duration
}

// vmsPerGroup: several VMs (tokens) per resource group, so that the
// verified-token cache is hit and missed.
const vmsPerGroup = 4

// setup creates the initial world, each call a write of the history.
func (e *engine) setup(ctx context.Context) error {
	for _, step := range e.w.initial() {
		next := e.h.Latest().clone()
		key, call := step(next)
		if err := e.write(ctx, KindSetup, key, false, next, call); err != nil {
			return err
		}
	}
	e.tokens = map[string][]string{}
	for _, rg := range e.w.resourceGroups {
		for i := range vmsPerGroup {
			e.tokens[rg] = append(e.tokens[rg], e.cfg.Token(rg, "vm-"+strconv.Itoa(i)))
		}
	}
	return nil
}

// write makes one API call as write of the history.
func (e *engine) write(ctx context.Context, kind, key string, revokes bool, next *State, call *object) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	sent := time.Now()
	i := e.h.Begin(kind, []string{key}, revokes, sent)
	if err := call.apply(cctx, e.cfg.Client, next); err != nil {
		e.h.Fail()
		return fmt.Errorf("churn: %s of %s: %w", kind, key, err)
	}
	acked := time.Now()
	e.h.Ack(i, acked, next)
	if kind != KindSetup {
		e.writes[kind]++
		e.writeLats = append(e.writeLats, acked.Sub(sent))
	}
	return nil
}

// settle waits until the server decides every target as the initial
// world says: its caches hold the world and the issuer's keys.
func (e *engine) settle(ctx context.Context) error {
	state := e.h.Latest()
	deadline := time.Now().Add(settleTimeout)
	pending := e.targets
	for {
		var still []target
		var last string
		for _, t := range pending {
			if why := e.settled(state, t); why != "" {
				still, last = append(still, t), why
			}
		}
		if len(still) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("churn: the server did not serve the initial world within %v: %d targets decided otherwise, e.g. %s", settleTimeout, len(still), last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		pending = still
	}
}

// settled says how t is not yet decided as state says ("" when it is).
func (e *engine) settled(state *State, t target) string {
	auth := Request{Route: Authenticate, Account: e.cfg.Account, Service: t.service, Host: t.host, ResourceGroup: t.resourceGroup}
	rec, tok := e.conn.authenticate(auth, e.tokens[t.resourceGroup][0])
	if want := Expect(state.View(auth), auth, e.cfg.Account); rec.Err != "" || rec.Observed != want {
		return fmt.Sprintf("authenticate %s as %s: got %+v %s, want %+v", t.service, t.host, rec.Observed, rec.Err, want)
	}
	if tok == nil {
		return ""
	}
	f := Request{Route: Fetch, Account: e.cfg.Account, Service: t.service, Host: t.host, Token: tok.ref, Variable: Variable{t.host.Namespace, t.secret, secretKey1}}
	rec = e.conn.fetch(f, tok)
	if want := Expect(state.View(f), f, e.cfg.Account); rec.Err != "" || rec.Observed != want {
		return fmt.Sprintf("fetch %s as %s: got %+v %s, want %+v", f.Variable, t.host, rec.Observed, rec.Err, want)
	}
	return ""
}

// run is the churn itself: the writer, the clients and the checker.
func (e *engine) run(ctx context.Context, rep *Report) error {
	runCtx, stop := context.WithTimeout(ctx, e.cfg.Duration)
	defer stop()
	records := make(chan Record, 1024)
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		e.check(records, rep)
	}()
	start := time.Now()
	var writeErr error
	var wg sync.WaitGroup
	// The heap over the run, so that a long run tells growth that levels
	// off from growth that does not.
	wg.Go(func() {
		tick := time.NewTicker(max(e.cfg.Duration/10, time.Second))
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				heap, _ := memory()
				rep.HeapInuseDuring = append(rep.HeapInuseDuring, heap)
			}
		}
	})
	wg.Go(func() {
		if writeErr = e.writer(runCtx); writeErr != nil {
			stop()
		}
	})
	for i := range e.cfg.Clients {
		wg.Go(func() { e.client(runCtx, i, records) })
	}
	wg.Wait()
	rep.Duration = time.Since(start)
	close(records)
	<-checked
	e.checker.Finish()
	e.checker.report(rep)
	rep.Writes = e.writes
	rep.WriteLatency = percentiles(e.writeLats)
	rep.Visibility = e.checker.visibility(len(e.writeLats))
	return writeErr
}

// check judges records as they come, and forgets what no record still to
// come can need: a record's request was sent at most requestTimeout before
// the answer of any record judged before it (a little more: records wait
// in the channel), and needs states from Bound before it was sent.
func (e *engine) check(records <-chan Record, rep *Report) {
	var lastPrune time.Time
	for r := range records {
		e.checker.Check(r)
		if r.Err == "" {
			rep.CheckerLag = max(rep.CheckerLag, time.Since(r.Answered))
		}
		if r.Sent.Sub(lastPrune) > time.Second {
			lastPrune = r.Sent
			cutoff := r.Sent.Add(-requestTimeout - 5*time.Second - Bound)
			e.checker.Settle(cutoff)
			e.h.Prune(cutoff)
		}
	}
}

// writer makes a write every WriteInterval, going through the kinds in
// shuffled rounds (a kind that cannot be made now is skipped), so that
// every kind is made within a few rounds.
func (e *engine) writer(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(e.cfg.Seed, 0)) //nolint:gosec // load shape, not secrecy
	tick := time.NewTicker(e.cfg.WriteInterval)
	defer tick.Stop()
	var round []string
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var p *plan
		for p == nil {
			if len(round) == 0 {
				round = append(round, WriteKinds...)
				rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
			}
			p = e.w.planWrite(round[0], e.h.Latest(), rng)
			round = round[1:]
		}
		hot, revokes := affected(e.targets, e.h.Latest(), p.next, e.cfg.Account)
		// Published before the write is sent: clients aim at what it
		// changes while it is in flight and just after.
		e.hot.Store(&hot)
		if err := e.write(ctx, p.kind, p.key, revokes, p.next, p.call); err != nil {
			return err
		}
	}
}

// client authenticates and fetches until ctx ends. Half of its targets
// are what the latest write changes, and their fetches mostly present a
// token issued earlier (what a revocation must stop); the other half are
// any target, authenticating mostly with a VM the host matches now, and
// 30% of their fetches present an earlier token. Now and then: an unknown
// service, another account, another namespace's Secret, a missing key.
func (e *engine) client(ctx context.Context, n int, out chan<- Record) {
	rng := rand.New(rand.NewPCG(e.cfg.Seed, uint64(n)+1)) //nolint:gosec // load shape, not secrecy
	account := e.cfg.Account
	for ctx.Err() == nil {
		t := e.targets[rng.IntN(len(e.targets))]
		hot := e.hot.Load()
		aimed := hot != nil && len(*hot) > 0 && rng.IntN(2) == 0
		if aimed {
			t = (*hot)[rng.IntN(len(*hot))]
		} else if h := e.h.Latest().Hosts[t.host]; h != nil && rng.IntN(4) != 0 {
			t.resourceGroup = h.ResourceGroup
		}
		auth := Request{Route: Authenticate, Account: account, Service: t.service, Host: t.host, ResourceGroup: t.resourceGroup}
		switch x := rng.IntN(100); {
		case x < 3:
			auth.Service = e.cfg.Prefix + "-unknown"
		case x < 5:
			auth.Account = "not-" + account
		}
		rec, tok := e.conn.authenticate(auth, e.tokens[t.resourceGroup][rng.IntN(vmsPerGroup)])
		out <- rec
		if tok != nil {
			e.pool.add(tok, rng)
		}
		if tok == nil || rng.IntN(10) < 3 || aimed && rng.IntN(4) != 0 {
			if old := e.pool.pick(t.service, t.host, rng); old != nil {
				tok = old
			}
		}
		if tok == nil {
			continue
		}
		f := Request{Route: Fetch, Account: account, Service: tok.service, Host: tok.host, Token: tok.ref,
			Variable: Variable{tok.host.Namespace, t.secret, secretKey1}}
		switch x := rng.IntN(100); {
		case x < 5:
			f.Variable.Namespace = e.otherNamespace(tok.host.Namespace)
		case x < 10:
			f.Variable.Key = "missing"
		case x < 12:
			f.Account = "not-" + account
		}
		out <- e.conn.fetch(f, tok)
	}
}

func (e *engine) otherNamespace(ns string) string {
	for _, o := range e.w.namespaces {
		if o != ns {
			return o
		}
	}
	return ns
}
