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

package health

import (
	"context"
	"errors"
	"io"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/watchlist"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	authnv1alpha1 "github.com/azure-authenticator/azure-authenticator/api/v1alpha1"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

var (
	hostsGR    = schema.GroupResource{Group: "authn.dap.io", Resource: "azurehosts"}
	errDenied  = apierrors.NewForbidden(hostsGR, "", errors.New("RBAC: access denied"))
	errRefused = &refusedError{}
)

// refusedError is a "connection refused" as the dialer reports it.
type refusedError struct{}

func (*refusedError) Error() string { return "dial tcp 127.0.0.1:6443: connect: connection refused" }
func (*refusedError) Unwrap() error { return syscall.ECONNREFUSED }

// fakeLW is a ListerWatcher whose answers a test sets.
type fakeLW struct {
	listErr, watchErr atomic.Pointer[error]
	watches           atomic.Int32
}

func (f *fakeLW) ListWithContext(context.Context, metav1.ListOptions) (runtime.Object, error) {
	if e := f.listErr.Load(); e != nil {
		return nil, *e
	}
	return &corev1.SecretList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}}, nil
}

func (f *fakeLW) WatchWithContext(context.Context, metav1.ListOptions) (watch.Interface, error) {
	f.watches.Add(1)
	if e := f.watchErr.Load(); e != nil {
		return nil, *e
	}
	return watch.NewFake(), nil
}

func (f *fakeLW) List(o metav1.ListOptions) (runtime.Object, error) {
	return f.ListWithContext(context.Background(), o)
}

func (f *fakeLW) Watch(o metav1.ListOptions) (watch.Interface, error) {
	return f.WatchWithContext(context.Background(), o)
}

func (f *fakeLW) fail(list, watch error) {
	f.listErr.Store(ptrOrNil(list))
	f.watchErr.Store(ptrOrNil(watch))
}

func ptrOrNil(err error) *error {
	if err == nil {
		return nil
	}
	return &err
}

// A healthy watch is fresh however long no event arrives; a failing one is
// as old as its first unrecovered error; a new watch ends that.
func TestInformerStalenessIsTheTimeSinceItsFirstUnrecoveredError(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(time.Now())
	h := NewInformers(logr.Discard(), clk)
	var heard []string
	i := h.Informer("azurehosts", true, func(reason string) { heard = append(heard, reason) })
	lw := &fakeLW{}
	observed := toolscache.ToListerWatcherWithContext(i.ListerWatcher(lw))

	if _, err := observed.WatchWithContext(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.SetTime(clk.Now().Add(time.Hour))
	if got := i.Staleness(); got != 0 {
		t.Fatalf("an established watch without events: staleness %v, want 0", got)
	}

	i.Failed(ctx, errDenied)
	clk.SetTime(clk.Now().Add(10 * time.Second))
	i.Failed(ctx, errDenied) // retries do not move the start
	lw.fail(nil, errRefused)
	if _, err := observed.WatchWithContext(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("watch did not fail")
	}
	clk.SetTime(clk.Now().Add(5 * time.Second))
	if got := i.Staleness(); got != 15*time.Second {
		t.Fatalf("staleness %v, want 15s since the first error", got)
	}

	lw.fail(nil, nil)
	if _, err := observed.WatchWithContext(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := i.Staleness(); got != 0 {
		t.Fatalf("after a new watch: %v, want 0", got)
	}
	if want := []string{"forbidden", "connection refused", ""}; !equalStrings(heard, want) {
		t.Fatalf("onChange heard %q, want %q", heard, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Errors that are part of normal operation, and errors at shutdown, are
// not failures; a refused streaming list is not either (the reflector
// falls back to a plain list, whose failure counts), nor a failed list
// (it reaches the watch-error handler), nor a successful one (a list alone
// is not a watch).
func TestOnlyRealListWatchFailuresCount(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	h := NewInformers(logr.Discard(), clk)
	i := h.Informer("azurehosts", true, nil)
	stopped, stop := context.WithCancel(context.Background())
	stop()
	for name, fail := range map[string]func(){
		"watch closed":       func() { i.Failed(context.Background(), io.EOF) },
		"expired":            func() { i.Failed(context.Background(), apierrors.NewResourceExpired("too old resource version")) },
		"at shutdown":        func() { i.Failed(stopped, errDenied) },
		"nil":                func() { i.Failed(context.Background(), nil) },
		"refused watch-list": func() { watchRefusing(i, metav1.ListOptions{SendInitialEvents: ptr.To(true)}) },
		"failed list": func() {
			lw := &fakeLW{}
			lw.fail(errDenied, nil)
			_, _ = observe(i, lw).ListWithContext(context.Background(), metav1.ListOptions{})
		},
	} {
		fail()
		clk.SetTime(clk.Now().Add(time.Minute))
		if got := i.Staleness(); got != 0 {
			t.Fatalf("%s: staleness %v, want 0", name, got)
		}
	}
	watchRefusing(i, metav1.ListOptions{})
	clk.SetTime(clk.Now().Add(time.Minute))
	lw := &fakeLW{}
	if _, err := observe(i, lw).ListWithContext(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := i.Staleness(); got != time.Minute {
		t.Fatalf("a refused watch, then a successful list: staleness %v, want 1m", got)
	}
}

func watchRefusing(i *Informer, opts metav1.ListOptions) {
	lw := &fakeLW{}
	lw.fail(nil, errDenied)
	_, _ = observe(i, lw).WatchWithContext(context.Background(), opts)
}

func observe(i *Informer, lw toolscache.ListerWatcher) toolscache.ListerWatcherWithContext {
	return toolscache.ToListerWatcherWithContext(i.ListerWatcher(lw))
}

// The view is the index's informers and the API contact, whichever is
// older; the Secret informers are not part of it.
func TestViewStalenessIsTheWorstIndexInformerOrTheContact(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	clk := clocktesting.NewFakePassiveClock(start)
	h := NewInformers(logr.Discard(), clk)
	hosts := h.Informer("azurehosts", true, nil)
	h.Informer("namespaces", true, nil)
	secretsB := h.Informer("secrets/team-b", false, nil)

	secretsB.Failed(ctx, errDenied)
	clk.SetTime(start.Add(time.Hour))
	if got := h.ViewStaleness(); got != 0 {
		t.Fatalf("a Secret namespace failing: view staleness %v, want 0", got)
	}
	if got := h.Staleness("secrets/team-b"); got != time.Hour {
		t.Fatalf("its own staleness %v, want 1h", got)
	}

	hosts.Failed(ctx, errDenied)
	clk.SetTime(start.Add(time.Hour + 10*time.Second))
	if got := h.ViewStaleness(); got != 10*time.Second {
		t.Fatalf("azurehosts failing for 10s: view staleness %v", got)
	}

	contact := &Contact{Informers: h, Clock: clk}
	contact.last.Store(start.Add(time.Hour + 7*time.Second).UnixNano())
	if got := contact.Staleness(); got != 10*time.Second {
		t.Fatalf("contact 3s ago, watch failing 10s: %v, want 10s", got)
	}
	contact.last.Store(start.Add(time.Hour - 20*time.Second).UnixNano())
	if got := contact.Staleness(); got != 30*time.Second {
		t.Fatalf("contact 30s ago, watch failing 10s: %v, want 30s", got)
	}
}

func TestPublishExportsEachInformersStaleness(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	h := NewInformers(logr.Discard(), clk)
	failing := h.Informer("test-publish-failing", true, nil)
	h.Informer("test-publish-healthy", true, nil)
	failing.Failed(context.Background(), errDenied)
	clk.SetTime(clk.Now().Add(42 * time.Second))
	h.publish()
	if got := testutil.ToFloat64(informerStaleness.WithLabelValues("test-publish-failing")); got != 42 {
		t.Fatalf("failing informer: %v, want 42", got)
	}
	if got := testutil.ToFloat64(informerStaleness.WithLabelValues("test-publish-healthy")); got != 0 {
		t.Fatalf("healthy informer: %v, want 0", got)
	}
}

// The manager cache's informers are tracked by resource, count towards
// the view, keep the client's streaming-list answer, and a handler already
// configured is still called: all against client-go's real reflector.
func TestCacheOptionsTrackTheCachesInformersThroughTheReflector(t *testing.T) {
	h := NewInformers(logr.Discard(), nil)
	var mu sync.Mutex
	var userHandlerSaw []error
	o := h.CacheOptions(cache.Options{DefaultWatchErrorHandler: func(_ context.Context, _ *toolscache.Reflector, err error) {
		mu.Lock()
		defer mu.Unlock()
		userHandlerSaw = append(userHandlerSaw, err)
	}})
	if o.DefaultWatchErrorHandler != nil {
		t.Fatal("DefaultWatchErrorHandler left set: controller-runtime would replace the per-informer handler with it")
	}
	lw := &fakeLW{}
	lw.fail(errDenied, nil)
	noStreaming := toolscache.ToListWatcherWithWatchListSemantics(&toolscache.ListWatch{ListWithContextFunc: lw.ListWithContext, WatchFuncWithContext: lw.WatchWithContext}, clientWithoutWatchList{})
	inf := o.NewInformer(noStreaming, &authnv1alpha1.AzureHost{}, 0, toolscache.Indexers{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); inf.RunWithContext(ctx) }()
	defer func() { cancel(); <-done }()

	testenv.Until(t, "the refused list is seen", func() bool { return h.Staleness("azurehosts") > 0 && h.ViewStaleness() > 0 })
	mu.Lock()
	if len(userHandlerSaw) == 0 || !apierrors.IsForbidden(userHandlerSaw[0]) {
		t.Errorf("the configured handler saw %v", userHandlerSaw)
	}
	mu.Unlock()
	lw.fail(nil, nil)
	testenv.Until(t, "recovery once the reflector lists and watches again", func() bool {
		return h.Staleness("azurehosts") == 0 && lw.watches.Load() > 0
	})
}

type clientWithoutWatchList struct{}

func (clientWithoutWatchList) IsWatchListSemanticsUnSupported() bool { return true }

func TestWrappingKeepsTheClientsStreamingListSupport(t *testing.T) {
	i := NewInformers(logr.Discard(), nil).Informer("x", false, nil)
	plain := &toolscache.ListWatch{}
	if watchlist.DoesClientNotSupportWatchListSemantics(i.ListerWatcher(plain)) {
		t.Error("a real client's ListWatch lost streaming lists")
	}
	marked := toolscache.ToListWatcherWithWatchListSemantics(plain, clientWithoutWatchList{})
	if !watchlist.DoesClientNotSupportWatchListSemantics(i.ListerWatcher(marked)) {
		t.Error("a client without streaming lists would be asked for one")
	}
}

func TestResourceNames(t *testing.T) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	policy := &metav1.PartialObjectMetadata{}
	policy.SetGroupVersionKind(schema.GroupVersionKind{Kind: "Policy"})
	ingress := &metav1.PartialObjectMetadata{}
	ingress.SetGroupVersionKind(schema.GroupVersionKind{Kind: "Ingress"})
	for obj, want := range map[runtime.Object]string{
		&authnv1alpha1.AzureHost{}:          "azurehosts",
		&authnv1alpha1.AzureAuthenticator{}: "azureauthenticators",
		&corev1.Secret{}:                    "secrets",
		ns:                                  "namespaces",
		policy:                              "policies",
		ingress:                             "ingresses",
	} {
		if got := resourceName(obj); got != want {
			t.Errorf("resourceName(%T %s) = %q, want %q", obj, obj.GetObjectKind().GroupVersionKind().Kind, got, want)
		}
	}
}

func TestShortReasonsNameTheKindOnly(t *testing.T) {
	for err, want := range map[error]string{
		errDenied:                      "forbidden",
		apierrors.NewUnauthorized("x"): "unauthorized",
		apierrors.NewTooManyRequests("slow down", 1):   "too many requests",
		apierrors.NewInternalError(errors.New("etcd")): "API error 500",
		errRefused:               "connection refused",
		io.ErrUnexpectedEOF:      "connection lost",
		context.DeadlineExceeded: "timeout",
		&toolscache.VeryShortWatchError{Name: "x"}:               "watch closed at once",
		apierrors.FromObject(lostStream()):                       "connection lost",
		errors.New(`Get "https://10.0.0.1/secret?token=abc": x`): "error",
	} {
		if got := shortReason(err); got != want {
			t.Errorf("shortReason(%v) = %q, want %q", err, got, want)
		}
	}
}

// A streaming list has recovered only when its initial state has arrived
// (the initial-events-end bookmark), not when its watch opens; throttling
// and refused connections, which the reflector retries as streaming lists
// without calling the watch-error handler, count as failures.
func TestStreamingListsRecoverAtTheirInitialEventsEnd(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	h := NewInformers(logr.Discard(), clk)
	i := h.Informer("secrets/a", false, nil)
	streaming := metav1.ListOptions{SendInitialEvents: ptr.To(true)}

	throttled := &fakeLW{}
	throttled.fail(nil, apierrors.NewTooManyRequests("slow down", 1))
	_, _ = observe(i, throttled).WatchWithContext(context.Background(), streaming)
	clk.SetTime(clk.Now().Add(time.Minute))
	if got := i.Staleness(); got != time.Minute {
		t.Fatalf("throttled streaming list: staleness %v, want 1m", got)
	}

	fake := watch.NewFake()
	lw := &streamingLW{w: fake}
	w, err := observe(i, lw).WatchWithContext(context.Background(), streaming)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	go fake.Add(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}})
	<-w.ResultChan()
	if got := i.Staleness(); got != time.Minute {
		t.Fatalf("initial events still arriving: staleness %v, want 1m (not recovered yet)", got)
	}
	go fake.Action(watch.Bookmark, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}})
	<-w.ResultChan()
	if got := i.Staleness(); got != 0 {
		t.Fatalf("after the initial-events-end bookmark: staleness %v, want 0", got)
	}
}

type streamingLW struct{ w watch.Interface }

func (s *streamingLW) List(metav1.ListOptions) (runtime.Object, error) {
	return &corev1.SecretList{}, nil
}
func (s *streamingLW) Watch(metav1.ListOptions) (watch.Interface, error) { return s.w, nil }

// scriptedLW lists successfully and hands each watch it opens to the test.
type scriptedLW struct {
	lists   atomic.Int32
	watches chan *watch.FakeWatcher
}

func newScriptedLW() *scriptedLW { return &scriptedLW{watches: make(chan *watch.FakeWatcher, 16)} }

func (s *scriptedLW) ListWithContext(context.Context, metav1.ListOptions) (runtime.Object, error) {
	s.lists.Add(1)
	return &corev1.SecretList{ListMeta: metav1.ListMeta{ResourceVersion: "10"}}, nil
}

func (s *scriptedLW) WatchWithContext(context.Context, metav1.ListOptions) (watch.Interface, error) {
	w := watch.NewFake()
	s.watches <- w
	return w, nil
}

func (s *scriptedLW) List(o metav1.ListOptions) (runtime.Object, error) {
	return s.ListWithContext(context.Background(), o)
}

func (s *scriptedLW) Watch(o metav1.ListOptions) (watch.Interface, error) {
	return s.WatchWithContext(context.Background(), o)
}

func (s *scriptedLW) nextWatch(t *testing.T) *watch.FakeWatcher {
	t.Helper()
	select {
	case w := <-s.watches:
		return w
	case <-time.After(15 * time.Second):
		t.Fatal("the reflector opened no watch")
		return nil
	}
}

// lostStream is the event client-go's StreamWatcher sends when the
// stream breaks with an error that is not an EOF, such as an HTTP/2
// connection found dead.
func lostStream() runtime.Object {
	return apierrors.NewClientErrorReporter(500, "GET", "ClientWatchDecoding").AsObject(errors.New("http2: client connection lost"))
}

// An error that ends a watch (a broken stream, a watch closed at once)
// does not reach the watch-error handler: client-go's reflector logs it
// and backs off (up to a minute) before listing again, without a request
// that could fail meanwhile. The informer is not watching for all that
// time, and must say so at once, not only once the next list fails.
func TestAWatchEndedByAnErrorIsAFailureBeforeTheReflectorListsAgain(t *testing.T) {
	h := NewInformers(logr.Discard(), nil)
	i := h.Informer("secrets/a", false, nil)
	lw := newScriptedLW()
	plain := &toolscache.ListWatch{ListWithContextFunc: lw.ListWithContext, WatchFuncWithContext: lw.WatchWithContext}
	inf := i.Instrument(toolscache.ToListWatcherWithWatchListSemantics(plain, clientWithoutWatchList{}), nil,
		func(lw toolscache.ListerWatcher) toolscache.SharedIndexInformer {
			return toolscache.NewSharedIndexInformer(lw, &corev1.Secret{}, 0, toolscache.Indexers{})
		})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); inf.RunWithContext(ctx) }()
	defer func() { cancel(); <-done }()

	for _, end := range []struct {
		name string
		end  func(*watch.FakeWatcher)
	}{
		{"a broken stream", func(w *watch.FakeWatcher) { w.Error(lostStream()) }},
		{"a watch closed at once by the server", func(w *watch.FakeWatcher) { w.Stop() }},
	} {
		w := lw.nextWatch(t)
		testenv.Until(t, "healthy while watching", func() bool { return i.Staleness() == 0 })
		lists := lw.lists.Load()
		end.end(w)
		// The reflector waits at least 800 ms before listing again.
		testenv.EventuallyWithin(t, 700*time.Millisecond, end.name+" is a failure", func() error {
			if i.Staleness() == 0 && lw.lists.Load() == lists {
				return errors.New("staleness 0")
			}
			return nil
		})
		if got := lw.lists.Load(); got != lists {
			t.Fatalf("%s: seen only after the reflector listed again", end.name)
		}
	}
	lw.nextWatch(t)
	testenv.Until(t, "recovered once watching again", func() bool { return i.Staleness() == 0 })
}

// What ends a watch normally is not a failure: the server closing it
// after its timeout (the reflector watches again at once), an expired
// resource version (it lists again), its consumer stopping it.
func TestAWatchEndedNormallyIsNotAFailure(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	h := NewInformers(logr.Discard(), clk)
	i := h.Informer("azurehosts", true, nil)
	lw := newScriptedLW()
	observed := observe(i, lw)
	open := func() (watch.Interface, *watch.FakeWatcher) {
		w, err := observed.WatchWithContext(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return w, lw.nextWatch(t)
	}
	drain := func(w watch.Interface) {
		for range w.ResultChan() {
		}
	}

	w, server := open()
	clk.SetTime(clk.Now().Add(5 * time.Minute))
	server.Stop()
	drain(w)
	if got := i.Staleness(); got != 0 {
		t.Fatalf("a watch closed by the server after its timeout: staleness %v", got)
	}

	w, server = open()
	go server.Error(&apierrors.NewResourceExpired("too old resource version").ErrStatus)
	<-w.ResultChan()
	w.Stop()
	drain(w)
	if got := i.Staleness(); got != 0 {
		t.Fatalf("an expired watch: staleness %v", got)
	}

	w, _ = open()
	w.Stop()
	drain(w)
	clk.SetTime(clk.Now().Add(time.Minute))
	if got := i.Staleness(); got != 0 {
		t.Fatalf("a watch stopped by its consumer: staleness %v", got)
	}

	w, server = open()
	go server.Error(lostStream())
	<-w.ResultChan()
	w.Stop()
	drain(w)
	clk.SetTime(clk.Now().Add(time.Minute))
	if got := i.Staleness(); got != time.Minute {
		t.Fatalf("a broken stream: staleness %v, want 1m", got)
	}
}

// A request that fails with EOF (a server or load balancer that accepts
// the connection and closes it) is a failure: only a bare io.EOF, a watch
// closed by the server, is not.
func TestARequestFailingWithEOFIsAFailure(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	h := NewInformers(logr.Discard(), clk)
	i := h.Informer("azurehosts", true, nil)
	eof := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/apis/authn.dap.io/v1alpha1/azurehosts", Err: io.EOF}

	i.Failed(context.Background(), io.EOF)
	clk.SetTime(clk.Now().Add(time.Minute))
	if got := i.Staleness(); got != 0 {
		t.Fatalf("a watch closed by the server: staleness %v", got)
	}

	lw := &fakeLW{}
	lw.fail(eof, eof)
	if _, err := observe(i, lw).WatchWithContext(context.Background(), metav1.ListOptions{}); err == nil {
		t.Fatal("watch did not fail")
	}
	i.Failed(context.Background(), eof) // the list, through the watch-error handler
	clk.SetTime(clk.Now().Add(time.Minute))
	if got := i.Staleness(); got != time.Minute {
		t.Fatalf("requests failing with EOF: staleness %v, want 1m", got)
	}
	if got := shortReason(eof); got != "connection lost" {
		t.Fatalf("reason %q", got)
	}
}

// A watch closed before it is returned is no recovery: client-go's REST
// client answers a watch request whose connection it kept losing (EOF,
// reset; it retries 10 times, 1 s apart) with an empty watch, and no
// error. controller-runtime's metadata informers pass it through a filter,
// closed a moment later: the informer may look recovered for that moment,
// then fails again since its first failure.
func TestAnEmptyWatchIsNoRecovery(t *testing.T) {
	for name, empty := range map[string]func() watch.Interface{
		"client-go's":         watch.NewEmptyWatch,
		"through a filter":    func() watch.Interface { return watch.Filter(watch.NewEmptyWatch(), keep) },
		"stopped by its peer": func() watch.Interface { w := watch.NewFake(); w.Stop(); return w },
	} {
		clk := clocktesting.NewFakePassiveClock(time.Now())
		h := NewInformers(logr.Discard(), clk)
		i := h.Informer("namespaces", true, nil)
		lw := &emptyWatchLW{empty: empty}
		i.Failed(context.Background(), errRefused)
		clk.SetTime(clk.Now().Add(10 * time.Second))
		for range 2 {
			w, err := observe(i, lw).WatchWithContext(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, open := <-w.ResultChan(); open {
				t.Fatalf("%s: an event from an empty watch", name)
			}
			w.Stop()
		}
		testenv.Until(t, name+": failing since the first failure", func() bool { return i.Staleness() == 10*time.Second })

		fresh := h.Informer("azurehosts", true, nil)
		w, err := observe(fresh, lw).WatchWithContext(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for range w.ResultChan() {
		}
		clk.SetTime(clk.Now().Add(time.Second))
		testenv.Until(t, name+": an empty watch on a healthy informer is a failure", func() bool { return fresh.Staleness() == time.Second })
	}
}

func keep(e watch.Event) (watch.Event, bool) { return e, true }

type emptyWatchLW struct {
	fakeLW
	empty func() watch.Interface
}

func (e *emptyWatchLW) WatchWithContext(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return e.empty(), nil
}

func (e *emptyWatchLW) Watch(o metav1.ListOptions) (watch.Interface, error) {
	return e.WatchWithContext(context.Background(), o)
}
