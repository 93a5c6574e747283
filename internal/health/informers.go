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
	"iter"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/watchlist"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Informers measures, per informer, how stale its objects may be: the
// time since its list/watch first failed without recovering, 0 while its
// watch is established, even when no events arrive. Probing /version
// (Contact) cannot see a watch that fails on its own, such as after
// its RBAC was removed: the index would freeze while the API server looks
// reachable.
//
// Failures come from the informers' watch-error handlers (every error that
// ends a ListAndWatch: list errors, watch requests refused), from the
// watch requests themselves (connection refused and 429 are retried inside
// the reflector without reaching the handler) and from the watches (an
// error event or a watch closed at once ends the watch, and the reflector
// backs off without reaching the handler either). Recovery is the
// reflector opening a watch again: it only does so right after a complete
// list, or from the last resource version it holds, in which case the
// watch delivers every change since (or fails with "expired" and it lists
// again). A successful list alone is not recovery: a manager that may list
// but not watch keeps relisting, and that is reported, not hidden. Nor is
// a watch that is closed when it opens (see observe).
type Informers struct {
	clock clock.PassiveClock
	log   logr.Logger

	mu        sync.Mutex
	informers []*Informer
}

// NewInformers tracks informers against clk (nil: the real clock).
func NewInformers(log logr.Logger, clk clock.PassiveClock) *Informers {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Informers{clock: clk, log: log}
}

// Informer is one informer's list/watch health.
type Informer struct {
	name string
	view bool
	h    *Informers
	// onChange hears the informer's short failure reason, "" on recovery.
	onChange func(reason string)

	// Guarded by h.mu.
	failingSince time.Time
	reason       string
}

// Informer registers an informer. name is the metric's informer label;
// view says whether it counts towards ViewStaleness (the informers that
// authentication decides from). onChange, when set, hears the short reason
// when the informer starts failing or its reason changes, and "" when it
// recovers; it is called without locks held and must not block.
func (h *Informers) Informer(name string, view bool, onChange func(reason string)) *Informer {
	i := &Informer{name: name, view: view, h: h, onChange: onChange}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.informers = append(h.informers, i)
	return i
}

// Failed records a list/watch error. Errors that are part of normal
// operation (a watch closed by the server, an expired resource version that
// the reflector answers by listing again) and errors at shutdown are not
// failures.
func (i *Informer) Failed(ctx context.Context, err error) {
	// Only a bare io.EOF, as client-go's own handler has it: a request
	// that fails with EOF (wrapped in a url.Error) is a failure.
	if err == nil || err == io.EOF || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || ctx.Err() != nil {
		return
	}
	reason := shortReason(err)
	h := i.h
	h.mu.Lock()
	started := i.failingSince.IsZero()
	if started {
		i.failingSince = h.clock.Now()
	}
	changed := i.reason != reason
	i.reason = reason
	h.mu.Unlock()
	if started {
		h.log.Info("Informer cannot list/watch: its objects stay as last seen until it recovers",
			"informer", i.name, "reason", reason, "error", err.Error())
	} else if changed {
		h.log.V(1).Info("Informer still cannot list/watch", "informer", i.name, "reason", reason, "error", err.Error())
	}
	if changed && i.onChange != nil {
		i.onChange(reason)
	}
}

// recovered records that the informer's watch is established again, and
// returns since when it had been failing (zero: it had not).
func (i *Informer) recovered() time.Time {
	h := i.h
	h.mu.Lock()
	since := i.failingSince
	i.failingSince, i.reason = time.Time{}, ""
	h.mu.Unlock()
	if since.IsZero() {
		return since
	}
	h.log.Info("Informer lists and watches again", "informer", i.name, "failedFor", h.clock.Since(since).Truncate(time.Millisecond).String())
	if i.onChange != nil {
		i.onChange("")
	}
	return since
}

// relapse records that a watch closed at once, without an event, after
// recovered returned since: the informer has been failing since then, or
// since now when it had not been.
func (i *Informer) relapse(ctx context.Context, since time.Time) {
	i.Failed(ctx, &toolscache.VeryShortWatchError{Name: i.name})
	if since.IsZero() || ctx.Err() != nil {
		return
	}
	h := i.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if i.failingSince.After(since) {
		i.failingSince = since
	}
}

// Staleness is the time since the informer first failed without
// recovering; 0 while it is healthy.
func (i *Informer) Staleness() time.Duration {
	i.h.mu.Lock()
	defer i.h.mu.Unlock()
	return i.stalenessLocked()
}

func (i *Informer) stalenessLocked() time.Duration {
	if i.failingSince.IsZero() {
		return 0
	}
	return i.h.clock.Since(i.failingSince)
}

// handleWatchError is the informer's watch-error handler; next, when set,
// is called as well (the default one logs).
func (i *Informer) handleWatchError(next toolscache.WatchErrorHandlerWithContext) toolscache.WatchErrorHandlerWithContext {
	if next == nil {
		next = toolscache.DefaultWatchErrorHandler
	}
	return func(ctx context.Context, r *toolscache.Reflector, err error) {
		i.Failed(ctx, err)
		next(ctx, r, err)
	}
}

// ListerWatcher wraps lw so that the informer's watch requests report
// failure and recovery. Whether lw's client supports streaming lists is
// kept.
func (i *Informer) ListerWatcher(lw toolscache.ListerWatcher) toolscache.ListerWatcher {
	return &observedListWatch{
		lw:          toolscache.ToListerWatcherWithContext(lw),
		noWatchList: watchlist.DoesClientNotSupportWatchListSemantics(lw),
		health:      i,
	}
}

// Instrument wraps lw and builds the informer with newInformer, then sets
// its watch-error handler (next is called as well).
func (i *Informer) Instrument(
	lw toolscache.ListerWatcher, next toolscache.WatchErrorHandlerWithContext,
	newInformer func(toolscache.ListerWatcher) toolscache.SharedIndexInformer,
) toolscache.SharedIndexInformer {
	inf := newInformer(i.ListerWatcher(lw))
	// Cannot fail: the informer has not started.
	if err := inf.SetWatchErrorHandlerWithContext(i.handleWatchError(next)); err != nil {
		i.h.log.Error(err, "Failed to set the watch-error handler: this informer's failures are seen only by its watch requests", "informer", i.name)
	}
	return inf
}

type observedListWatch struct {
	lw          toolscache.ListerWatcherWithContext
	noWatchList bool
	health      *Informer
}

func (o *observedListWatch) List(opts metav1.ListOptions) (runtime.Object, error) {
	return o.ListWithContext(context.Background(), opts)
}

// ListWithContext does not report: a failed list ends the ListAndWatch and
// reaches the watch-error handler; a successful one is not yet a watch.
func (o *observedListWatch) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	return o.lw.ListWithContext(ctx, opts)
}

func (o *observedListWatch) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return o.WatchWithContext(context.Background(), opts)
}

func (o *observedListWatch) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := o.lw.WatchWithContext(ctx, opts)
	streaming := opts.SendInitialEvents != nil && *opts.SendInitialEvents
	switch {
	case err == nil:
		return o.observe(ctx, w, streaming), nil
	case streaming && !apierrors.IsTooManyRequests(err) && !utilnet.IsConnectionRefused(err):
		// A streaming list the server refuses is retried as a plain list
		// by the reflector; that list's failure is the one that counts.
		// Throttling and refused connections the reflector retries as a
		// streaming list again, so they count here.
	default:
		o.health.Failed(ctx, err)
	}
	return w, err
}

// observe passes w's events on, and reports the errors that end it: an
// error event (a broken stream, an error from the server) and a watch
// closed within a second of opening, without an event. The reflector
// logs those and waits its backoff (up to a minute) before listing again,
// without calling the watch-error handler and without a request that
// could fail meanwhile: the informer would look healthy while it is not
// watching. Any other end is normal (the server's watch timeout, an
// expired resource version, the reflector stopping the watch): the
// reflector watches or lists again at once, and that request reports.
//
// A plain watch is recovery: it opens after its list has replaced the
// store, or from the last resource version held. Unless it is closed
// already: client-go's REST client answers a watch request whose
// connection it kept losing (EOF, reset; it retries 10 times, 1 s apart)
// with an empty watch, and no error; controller-runtime's metadata
// informers pass it through a filter that closes a moment later, which
// the one-second rule catches, the failure still counted from its start.
// A streaming list has recovered only once its initial state has arrived
// (the initial-events-end bookmark); until then the store still holds
// what it had before the failure.
func (o *observedListWatch) observe(ctx context.Context, w watch.Interface, streaming bool) watch.Interface {
	var first []watch.Event
	select {
	case e, open := <-w.ResultChan():
		if !open {
			o.health.Failed(ctx, &toolscache.VeryShortWatchError{Name: o.health.name})
			return w
		}
		first = append(first, e)
	default:
	}
	opened := o.health.h.clock.Now()
	var since time.Time
	if !streaming {
		since = o.health.recovered()
	}
	ow := &observedWatch{in: w, out: make(chan watch.Event), stop: make(chan struct{})}
	go func() {
		defer close(ow.out)
		events := 0
		for e := range ow.events(first) {
			events++
			switch {
			case e.Type == watch.Error:
				o.health.Failed(ctx, apierrors.FromObject(e.Object))
			case streaming && e.Type == watch.Bookmark && initialEventsEnd(e.Object):
				o.health.recovered()
			}
			select {
			case ow.out <- e:
			case <-ow.stop:
				return
			}
		}
		// The reflector's threshold for a "very short watch".
		if events == 0 && !ow.stopped() && o.health.h.clock.Since(opened) < time.Second {
			o.health.relapse(ctx, since)
		}
	}()
	return ow
}

// observedWatch is a watch whose events pass through observe.
type observedWatch struct {
	in   watch.Interface
	out  chan watch.Event
	once sync.Once
	stop chan struct{}
}

func (w *observedWatch) ResultChan() <-chan watch.Event { return w.out }

// events yields first, then the inner watch's events.
func (w *observedWatch) events(first []watch.Event) iter.Seq[watch.Event] {
	return func(yield func(watch.Event) bool) {
		for _, e := range first {
			if !yield(e) {
				return
			}
		}
		for e := range w.in.ResultChan() {
			if !yield(e) {
				return
			}
		}
	}
}

// Stop is the consumer's: what ends the watch then is not a failure.
func (w *observedWatch) Stop() {
	w.once.Do(func() { close(w.stop) })
	w.in.Stop()
}

func (w *observedWatch) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

func initialEventsEnd(obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	return err == nil && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true"
}

// IsWatchListSemanticsUnSupported keeps the wrapped client's answer: the
// reflector only streams lists from clients that support it.
func (o *observedListWatch) IsWatchListSemanticsUnSupported() bool { return o.noWatchList }

// ViewStaleness is the largest staleness of the informers that count
// towards the view (the index's), 0 when all are healthy.
func (h *Informers) ViewStaleness() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var worst time.Duration
	for _, i := range h.informers {
		if i.view {
			worst = max(worst, i.stalenessLocked())
		}
	}
	return worst
}

// Staleness is the largest staleness of the informers registered as name
// (a type may have several informers, e.g. one per cache), 0 when none.
func (h *Informers) Staleness(name string) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var worst time.Duration
	for _, i := range h.informers {
		if i.name == name {
			worst = max(worst, i.stalenessLocked())
		}
	}
	return worst
}

// publish sets the per-informer staleness metric.
func (h *Informers) publish() {
	h.mu.Lock()
	worst := map[string]time.Duration{}
	for _, i := range h.informers {
		worst[i.name] = max(worst[i.name], i.stalenessLocked())
	}
	h.mu.Unlock()
	for name, s := range worst {
		informerStaleness.WithLabelValues(name).Set(s.Seconds())
	}
}

// CacheOptions returns o with every informer of the cache tracked under
// its resource name, counting towards ViewStaleness: use it for the
// manager's cache, which holds the index's informers. A
// DefaultWatchErrorHandler or NewInformer already in o is kept (called
// from ours); DefaultWatchErrorHandler is cleared in the result because
// controller-runtime would set it over our per-informer handler.
func (h *Informers) CacheOptions(o cache.Options) cache.Options {
	newInformer := o.NewInformer
	if newInformer == nil {
		newInformer = toolscache.NewSharedIndexInformer
	}
	next := o.DefaultWatchErrorHandler
	o.DefaultWatchErrorHandler = nil
	o.NewInformer = func(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
		i := h.Informer(resourceName(obj), true, nil)
		return i.Instrument(lw, next, func(lw toolscache.ListerWatcher) toolscache.SharedIndexInformer {
			return newInformer(lw, obj, resync, indexers)
		})
	}
	return o
}

// resourceName is the lower-case plural of obj's kind (azurehosts,
// namespaces): a fixed label value for each type this manager watches.
func resourceName(obj runtime.Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		t := reflect.TypeOf(obj)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		kind = t.Name()
	}
	kind = strings.ToLower(kind)
	switch {
	case strings.HasSuffix(kind, "s"):
		return kind + "es"
	case strings.HasSuffix(kind, "y"):
		return strings.TrimSuffix(kind, "y") + "ies"
	}
	return kind + "s"
}

// shortReason names an error's kind in a few words, for status and 503
// reasons; the full error goes to the log only.
func shortReason(err error) string {
	var short *toolscache.VeryShortWatchError
	var netErr net.Error
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden"
	case apierrors.IsUnauthorized(err):
		return "unauthorized"
	case apierrors.IsNotFound(err):
		return "not found"
	case apierrors.IsTooManyRequests(err):
		return "too many requests"
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()):
		return "timeout"
	case utilnet.IsConnectionRefused(err):
		return "connection refused"
	case errors.As(err, &short):
		return "watch closed at once"
	case errors.Is(err, io.ErrUnexpectedEOF) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || brokenStream(err):
		return "connection lost"
	}
	if status, ok := err.(apierrors.APIStatus); ok || errors.As(err, &status) {
		return "API error " + strconv.Itoa(int(status.Status().Code))
	}
	return "error"
}

// brokenStream is the error client-go reports, as a 500 from the server,
// for a watch stream that broke on the client's side.
func brokenStream(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Type == "ClientWatchDecoding" {
			return true
		}
	}
	return false
}

// Health metrics. Label values are fixed by the code: the resources this
// manager watches and the Secret namespaces it serves, never request text.
var (
	informerStaleness = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "azure_authenticator_informer_staleness_seconds",
		Help: "Seconds since the informer's list/watch first failed without recovering; 0 while its watch is established, even when no events arrive. " +
			"informer is the resource (azurehosts, azureauthenticators, namespaces) or secrets/<namespace> (secrets: all namespaces).",
	}, []string{"informer"})

	viewStaleness = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "azure_authenticator_view_staleness_seconds",
		Help: "How old this replica's view may be: the larger of the time since it last reached the API server and the staleness of the index's informers.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(informerStaleness, viewStaleness)
}
