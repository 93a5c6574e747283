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

package namedsecret_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/azure-authenticator/azure-authenticator/internal/namedsecret"
	"github.com/azure-authenticator/azure-authenticator/internal/testenv"
)

const (
	ns   = "authn"
	name = "keys"
)

var secretsResource = schema.GroupResource{Resource: "secrets"}

func secret(namespace, name, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string][]byte{"v": []byte(value)}}
}

func value(sec *corev1.Secret) string {
	if sec == nil {
		return "<none>"
	}
	return sec.Namespace + "/" + sec.Name + "=" + string(sec.Data["v"])
}

// seen records what onChange was called with.
type seen struct {
	mu  sync.Mutex
	got []string
}

func (s *seen) onChange(sec *corev1.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, value(sec))
}

func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// waitFor waits until want is the last thing onChange saw.
func (s *seen) waitFor(t *testing.T, want string) {
	t.Helper()
	testenv.Eventually(t, "onChange sees "+want, func() error {
		if got := s.all(); len(got) == 0 || got[len(got)-1] != want {
			return fmt.Errorf("seen %v", got)
		}
		return nil
	})
}

func watch(t *testing.T, cs *fake.Clientset, s *seen) *namedsecret.Watcher {
	t.Helper()
	w, err := namedsecret.Secret{Client: cs, Namespace: ns, Name: name}.Watch(context.Background(), s.onChange)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

func update(t *testing.T, cs *fake.Clientset, sec *corev1.Secret) {
	t.Helper()
	if _, err := cs.CoreV1().Secrets(sec.Namespace).Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The watch lists and watches the one Secret by name in its namespace, and
// reports no other, even from a client that ignores the field selector.
func TestWatchSeesOnlyTheNamedSecret(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "1"), secret(ns, "other", "1"), secret("elsewhere", name, "1"))
	var s seen
	w := watch(t, cs, &s)
	if got := s.all(); len(got) != 1 || got[0] != "authn/keys=1" {
		t.Fatalf("when Watch returned, onChange had seen %v, want the Secret as it stood", got)
	}
	// The fake clientset ignores the field selector: the other Secret's
	// events reach the informer, before the named Secret's.
	update(t, cs, secret(ns, "other", "2"))
	if err := cs.CoreV1().Secrets(ns).Delete(context.Background(), "other", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	update(t, cs, secret("elsewhere", name, "2"))
	update(t, cs, secret(ns, name, "2"))
	s.waitFor(t, "authn/keys=2")
	if got := s.all(); len(got) != 2 {
		t.Fatalf("onChange saw %v, want only the named Secret's versions", got)
	}
	// The events arrived through the watch: it has begun.
	var listed, watched bool
	for _, a := range cs.Actions() {
		if a.GetResource().Resource != "secrets" {
			continue
		}
		switch a := a.(type) {
		case k8stesting.ListAction:
			listed = true
			if a.GetNamespace() != ns || a.GetListRestrictions().Fields.String() != "metadata.name="+name {
				t.Errorf("list in %q with fields %q, want %q and metadata.name=%s", a.GetNamespace(), a.GetListRestrictions().Fields, ns, name)
			}
		case k8stesting.WatchAction:
			watched = true
			if a.GetNamespace() != ns || a.GetWatchRestrictions().Fields.String() != "metadata.name="+name {
				t.Errorf("watch in %q with fields %q, want %q and metadata.name=%s", a.GetNamespace(), a.GetWatchRestrictions().Fields, ns, name)
			}
		}
	}
	if !listed || !watched {
		t.Fatalf("listed %v, watched %v", listed, watched)
	}
	if got := value(w.Last()); got != "authn/keys=2" {
		t.Fatalf("Last is %s", got)
	}
}

// A deletion is reported as nil, and a recreation as the new Secret; Last
// follows.
func TestWatchReportsDeletion(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "1"))
	var s seen
	w := watch(t, cs, &s)
	// The fake clientset drops a deletion made before its watch is
	// registered (an API server would not): wait until an update is seen.
	update(t, cs, secret(ns, name, "2"))
	s.waitFor(t, "authn/keys=2")
	if err := cs.CoreV1().Secrets(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "<none>")
	if w.Last() != nil {
		t.Fatal("Last still holds the deleted Secret")
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(context.Background(), secret(ns, name, "new"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "authn/keys=new")
	if got := value(w.Last()); got != "authn/keys=new" {
		t.Fatalf("Last is %s", got)
	}
	if got := s.all(); len(got) != 4 {
		t.Fatalf("onChange saw %v, want the Secret, its update, its deletion, its recreation", got)
	}
}

// Changed tells of each change, once Last holds it: the version seen when
// the watch began, an update, a deletion.
func TestChangedSignalsEachChange(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "1"))
	w := watch(t, cs, &seen{})
	select {
	case <-w.Changed():
	default:
		t.Fatal("the version seen when the watch began was not signalled")
	}
	update(t, cs, secret(ns, name, "2"))
	signalled(t, w, "authn/keys=2")
	if err := cs.CoreV1().Secrets(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	signalled(t, w, "<none>")
}

// signalled receives from Changed until Last is want.
func signalled(t *testing.T, w *namedsecret.Watcher, want string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case <-w.Changed():
			if value(w.Last()) == want {
				return
			}
		case <-deadline:
			t.Fatalf("no signal with Last %s; Last is %s", want, value(w.Last()))
		}
	}
}

// Last and onChange hand out copies: modifying them changes nothing seen
// later.
func TestWatchHandsOutCopies(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "1"))
	w := watch(t, cs, &seen{})
	w.Last().Data["v"] = []byte("scribbled")
	if got := value(w.Last()); got != "authn/keys=1" {
		t.Fatalf("Last is %s after a caller modified its copy", got)
	}
}

// Without the Secret, the watch begins with nothing seen; a context that
// ends before it began ends it, with no error.
func TestWatchOfAMissingSecretAndOfAnEndedContext(t *testing.T) {
	cs := fake.NewClientset()
	var s seen
	w := watch(t, cs, &s)
	if w.Last() != nil || len(s.all()) != 0 {
		t.Fatalf("Last %v, seen %v, of a missing Secret", w.Last(), s.all())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if w, err := (namedsecret.Secret{Client: cs, Namespace: ns, Name: name}).Watch(ctx, nil); w != nil || err != nil {
		t.Fatalf("Watch on an ended context: %v, %v, want neither a Watcher nor an error", w, err)
	}
}

// New builds the Secret to create, labelled as ours.
func TestNew(t *testing.T) {
	sec := namedsecret.Secret{Namespace: ns, Name: name}.New(corev1.SecretTypeOpaque, map[string][]byte{"v": []byte("1")})
	if sec.Namespace != ns || sec.Name != name || sec.Type != corev1.SecretTypeOpaque || string(sec.Data["v"]) != "1" ||
		sec.Labels["app.kubernetes.io/managed-by"] != "azure-authenticator" {
		t.Fatalf("New gave %+v", sec)
	}
}

// Get reports a missing Secret as nil, and other errors as errors.
func TestGet(t *testing.T) {
	cs := fake.NewClientset()
	s := namedsecret.Secret{Client: cs, Namespace: ns, Name: name}
	if sec, err := s.Get(context.Background()); sec != nil || err != nil {
		t.Fatalf("Get of a missing Secret: %v, %v", sec, err)
	}
	cs.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(secretsResource, name, errors.New("no"))
	})
	if _, err := s.Get(context.Background()); !apierrors.IsForbidden(err) {
		t.Fatalf("Get when forbidden: %v", err)
	}
}

// Replicas racing to create the Secret settle on whichever create won: the
// loser is handed the winner's Secret and writes nothing.
func TestChangeCreateRaceSettlesOnTheWinner(t *testing.T) {
	cs := fake.NewClientset()
	creates := 0
	cs.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		creates++
		if creates > 1 {
			return false, nil, nil
		}
		// Another replica creates it between our read and our create.
		if err := cs.Tracker().Add(secret(ns, name, "winner")); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewAlreadyExists(secretsResource, name)
	})
	s := namedsecret.Secret{Client: cs, Namespace: ns, Name: name}
	var calls []string
	got, err := s.Change(context.Background(), 2, func(cur *corev1.Secret) (*corev1.Secret, error) {
		calls = append(calls, value(cur))
		if cur != nil {
			return nil, nil
		}
		return s.New(corev1.SecretTypeOpaque, map[string][]byte{"v": []byte("loser")}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != "<none>" || calls[1] != "authn/keys=winner" || creates != 1 {
		t.Fatalf("change saw %v after %d creates, want nothing then the winner's Secret after one", calls, creates)
	}
	if value(got) != "authn/keys=winner" {
		t.Fatalf("Change returned %s", value(got))
	}
	if sec, _ := s.Get(context.Background()); value(sec) != "authn/keys=winner" {
		t.Fatalf("the Secret is %s", value(sec))
	}
}

// An update that conflicts with another writer's is made again on what
// that writer wrote; after attempts lost races, Change gives up with
// ErrLostRace.
func TestChangeRetriesAConflict(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "a"))
	conflicts := 1
	cs.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		// Another replica updates it between our read and our update.
		if err := cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("secrets"), secret(ns, name, "a+theirs"), ns); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewConflict(secretsResource, name, errors.New("the object has been modified"))
	})
	s := namedsecret.Secret{Client: cs, Namespace: ns, Name: name}
	var calls []string
	appendMine := func(cur *corev1.Secret) (*corev1.Secret, error) {
		calls = append(calls, value(cur))
		cur.Data["v"] = append(cur.Data["v"], "+mine"...)
		return cur, nil
	}
	got, err := s.Change(context.Background(), 3, appendMine)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[1] != "authn/keys=a+theirs" {
		t.Fatalf("change saw %v, want the other writer's Secret on the second call", calls)
	}
	if value(got) != "authn/keys=a+theirs+mine" {
		t.Fatalf("Change returned %s", value(got))
	}
	if sec, _ := s.Get(context.Background()); value(sec) != "authn/keys=a+theirs+mine" {
		t.Fatalf("the Secret is %s, want both writers' changes", value(sec))
	}

	conflicts, calls = 100, nil
	if _, err := s.Change(context.Background(), 3, appendMine); !errors.Is(err, namedsecret.ErrLostRace) {
		t.Fatalf("after losing every race: %v, want ErrLostRace", err)
	}
	if len(calls) != 3 {
		t.Fatalf("change called %d times, want 3 attempts", len(calls))
	}
}

// Nothing to write writes nothing; an error of change is returned as it
// is, and other write errors are not taken for a lost race.
func TestChangeWritesOnlyWhatItIsGiven(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "a"))
	s := namedsecret.Secret{Client: cs, Namespace: ns, Name: name}
	got, err := s.Change(context.Background(), 3, func(*corev1.Secret) (*corev1.Secret, error) { return nil, nil })
	if err != nil || value(got) != "authn/keys=a" {
		t.Fatalf("Change with nothing to write: %s, %v", value(got), err)
	}
	mine := errors.New("mine")
	if _, err := s.Change(context.Background(), 3, func(*corev1.Secret) (*corev1.Secret, error) { return nil, mine }); err != mine {
		t.Fatalf("Change returned %v, want change's error as it is", err)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() != "get" {
			t.Fatalf("a %s without anything to write", a.GetVerb())
		}
	}
	cs.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(secretsResource, name, errors.New("no"))
	})
	calls := 0
	_, err = s.Change(context.Background(), 3, func(cur *corev1.Secret) (*corev1.Secret, error) { calls++; return cur, nil })
	if !apierrors.IsForbidden(err) || errors.Is(err, namedsecret.ErrLostRace) || calls != 1 {
		t.Fatalf("a forbidden update: %v after %d calls", err, calls)
	}
}

// A Watcher's Change starts from the Secret as last seen: the API server
// is asked only to write, and to read again after a lost race.
func TestWatcherChangeStartsFromTheLastSeen(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "a"))
	var s seen
	w := watch(t, cs, &s)
	gets := func() int {
		n := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == "get" {
				n++
			}
		}
		return n
	}
	got, err := w.Change(context.Background(), 3, func(cur *corev1.Secret) (*corev1.Secret, error) {
		cur.Data["v"] = append(cur.Data["v"], "+1"...)
		return cur, nil
	})
	if err != nil || value(got) != "authn/keys=a+1" || gets() != 0 {
		t.Fatalf("Change: %s, %v, after %d gets", value(got), err, gets())
	}
	s.waitFor(t, "authn/keys=a+1")

	// A stale view: the update conflicts, and the retry reads the Secret.
	cs.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(secretsResource, name, errors.New("the object has been modified"))
	})
	var calls []string
	_, err = w.Change(context.Background(), 2, func(cur *corev1.Secret) (*corev1.Secret, error) {
		calls = append(calls, value(cur))
		return cur, nil
	})
	if !errors.Is(err, namedsecret.ErrLostRace) || len(calls) != 2 || gets() != 1 {
		t.Fatalf("Change on a conflict: %v, change saw %v, %d gets", err, calls, gets())
	}
}

// A manager that may not list or watch its Secret fails at Watch, naming
// the refusal, instead of running on without following it.
func TestWatchWithoutListPermissionFailsSayingWhy(t *testing.T) {
	cs := fake.NewClientset(secret(ns, name, "1"))
	cs.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(secretsResource, name, errors.New("RBAC: access denied"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := namedsecret.Secret{Client: cs, Namespace: ns, Name: name, FirstList: 300 * time.Millisecond}.Watch(ctx, nil)
	if w != nil || err == nil || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), ns+"/"+name) {
		t.Fatalf("Watch = %v, %v; want no watcher and an error naming the Secret and the refusal", w, err)
	}
}
