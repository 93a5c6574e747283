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

// Package namedsecret keeps one Secret, known by namespace and name, for a
// store that every replica shares (the signing keys, the serving
// certificate): it reads the Secret, creates or changes it when other
// replicas race to do the same, and watches it.
//
// The watch is of that one Secret: an informer in its namespace with the
// field selector metadata.name=<name>. Never a namespace- or cluster-wide
// Secret cache: that would hold every Secret in memory and need list and
// watch on all of them, where the RBAC grants get, list, watch and update
// on these Secrets by resourceNames only (which permits a list and a watch
// with that field selector), plus create.
//
// It is a leaf: it imports nothing of this module. It never logs, so it
// cannot leak what a Secret holds.
package namedsecret

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ErrLostRace is wrapped by Change's error when other writers changed the
// Secret first every time it tried.
var ErrLostRace = errors.New("other writers changed the Secret first")

// Secret names one Secret.
type Secret struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// FirstList bounds how long Watch waits for its first list [30s].
	FirstList time.Duration
}

// defaultFirstList is long enough for a slow API server, short enough that
// a manager without list and watch on its Secret fails at start, saying
// so, rather than run without following it.
const defaultFirstList = 30 * time.Second

// String is namespace/name, for logs and errors.
func (s Secret) String() string { return s.Namespace + "/" + s.Name }

// New returns the Secret to create, holding data and labelled as managed by
// azure-authenticator.
func (s Secret) New(typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "azure-authenticator"}},
		Type: typ,
		Data: data,
	}
}

// Get reads the Secret from the API server: nil, and no error, when it
// does not exist.
func (s Secret) Get(ctx context.Context) (*corev1.Secret, error) {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to read the Secret %s: %w", s, err)
	}
	return sec, nil
}

// Change reads the Secret from the API server and hands it to change (nil
// when it does not exist, else a copy change may modify), which returns
// what to write, or nil to write nothing. What change returns is created
// when the Secret did not exist, else updated.
//
// When another writer got there first (the create finds the Secret, or
// the update conflicts), Change reads again and calls change again, at most
// attempts times in all; then its error wraps ErrLostRace. An error of
// change is returned as it is.
//
// Change returns the Secret as it stands after the last call of change: as
// written when that call returned something to write, as read otherwise.
// So what change records in its caller's variables on its last call is
// what happened.
func (s Secret) Change(ctx context.Context, attempts int, change func(*corev1.Secret) (*corev1.Secret, error)) (*corev1.Secret, error) {
	return s.change(ctx, s.Get, attempts, change)
}

// change is Change whose first read is first.
func (s Secret) change(ctx context.Context, first func(context.Context) (*corev1.Secret, error), attempts int,
	change func(*corev1.Secret) (*corev1.Secret, error)) (*corev1.Secret, error) {
	read := first
	for range max(attempts, 1) {
		cur, err := read(ctx)
		if err != nil {
			return nil, err
		}
		read = s.Get // after a lost race, ask the API server
		next, err := change(cur)
		if err != nil || next == nil {
			return cur, err
		}
		secrets := s.Client.CoreV1().Secrets(s.Namespace)
		var written *corev1.Secret
		if cur == nil {
			written, err = secrets.Create(ctx, next, metav1.CreateOptions{})
		} else {
			written, err = secrets.Update(ctx, next, metav1.UpdateOptions{})
		}
		switch {
		case apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err):
			continue
		case err != nil && cur == nil:
			return nil, fmt.Errorf("failed to create the Secret %s: %w", s, err)
		case err != nil:
			return nil, fmt.Errorf("failed to update the Secret %s: %w", s, err)
		}
		return written, nil
	}
	return nil, fmt.Errorf("%s: %w %d times in a row", s, ErrLostRace, max(attempts, 1))
}

// Watcher follows one Secret; see Secret.Watch.
type Watcher struct {
	secret  Secret
	last    atomic.Pointer[corev1.Secret] // as the informer holds it: read-only
	changed chan struct{}
	stop    context.CancelFunc
	inf     informers.SharedInformerFactory
}

// Watch follows the Secret, and no other, until ctx ends or Stop is called.
// onChange (which may be nil) is called with each version seen, and with
// nil when the Secret is deleted: one call at a time, in order, each with
// a copy of its own. Changed tells of the same, on a channel.
//
// Watch returns once onChange has seen the Secret as it stood when the
// watch began; it returns a nil Watcher, and no error, when ctx ends
// first, and an error naming the last list or watch failure when the
// first list has not arrived within FirstList (the RBAC for the Secret
// lacks list or watch by name, typically).
func (s Secret) Watch(ctx context.Context, onChange func(*corev1.Secret)) (*Watcher, error) {
	parent := ctx
	ctx, stop := context.WithCancel(ctx)
	w := &Watcher{secret: s, stop: stop, changed: make(chan struct{}, 1),
		inf: informers.NewSharedInformerFactoryWithOptions(s.Client, 0,
			informers.WithNamespace(s.Namespace),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.Name).String()
			}))}
	tell := func(sec *corev1.Secret) {
		w.last.Store(sec)
		if onChange != nil {
			onChange(sec.DeepCopy())
		}
		select {
		case w.changed <- struct{}{}:
		default: // one not yet received stands for this one too
		}
	}
	reg, err := w.inf.Core().V1().Secrets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.ifOurs(obj, tell) },
		UpdateFunc: func(_, obj any) { w.ifOurs(obj, tell) },
		DeleteFunc: func(obj any) { w.ifOurs(obj, func(*corev1.Secret) { tell(nil) }) },
	})
	if err != nil { // only by an informer already stopped
		stop()
		return nil, fmt.Errorf("failed to watch the Secret %s: %w", s, err)
	}
	var lastErr atomic.Pointer[error]
	_ = w.inf.Core().V1().Secrets().Informer().SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		lastErr.Store(&err)
		cache.DefaultWatchErrorHandler(ctx, r, err)
	}) // fails only once started
	w.inf.Start(ctx.Done())
	wait, cancel := context.WithTimeout(ctx, cmp.Or(s.FirstList, defaultFirstList))
	defer cancel()
	if !cache.WaitFor(wait, "", reg.HasSyncedChecker()) {
		w.Stop()
		if parent.Err() != nil {
			return nil, nil
		}
		reason := "no answer"
		if err := lastErr.Load(); err != nil {
			reason = (*err).Error()
		}
		return nil, fmt.Errorf("cannot list and watch the Secret %s by name (the manager needs get, list and watch on it): %s", s, reason)
	}
	return w, nil
}

// ifOurs calls f with obj, or the object of a deletion tombstone, if it is
// the watched Secret. The field selector should let no other through, but
// a client may ignore it (client-go's fake clientset does).
func (w *Watcher) ifOurs(obj any, f func(*corev1.Secret)) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if sec, ok := obj.(*corev1.Secret); ok && sec.Namespace == w.secret.Namespace && sec.Name == w.secret.Name {
		f(sec)
	}
}

// Changed receives once for each version or deletion seen, after onChange
// was called with it; those not yet received merge into one. Last tells
// what the Secret became.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// Last returns a copy of the Secret as last seen, nil when it does not
// exist.
func (w *Watcher) Last() *corev1.Secret { return w.last.Load().DeepCopy() }

// Change is Secret.Change starting from the Secret as last seen instead of
// reading it from the API server: it asks the API server only to write,
// and to read again after losing a race to another writer.
func (w *Watcher) Change(ctx context.Context, attempts int, change func(*corev1.Secret) (*corev1.Secret, error)) (*corev1.Secret, error) {
	return w.secret.change(ctx, func(context.Context) (*corev1.Secret, error) { return w.Last(), nil }, attempts, change)
}

// Stop ends the watch and waits for its goroutines; onChange is not called
// after Stop returns.
func (w *Watcher) Stop() {
	w.stop()
	w.inf.Shutdown()
}
