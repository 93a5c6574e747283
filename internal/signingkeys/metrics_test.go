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

package signingkeys

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/azure-authenticator/azure-authenticator/internal/accesstoken"
)

func TestMetricSigningKeysCountsTheRing(t *testing.T) {
	before := testutil.ToFloat64(keysHeld)
	t.Cleanup(func() { keysHeld.Set(before) })
	var s Store
	var keys []*accesstoken.SigningKey
	for range 2 {
		k, err := accesstoken.NewSigningKey(time.Now(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	s.setRing(accesstoken.NewRing(keys))
	if got := testutil.ToFloat64(keysHeld); got != 2 {
		t.Fatalf("signing keys %v, want 2", got)
	}
	s.setRing(nil)
	if got := testutil.ToFloat64(keysHeld); got != 0 {
		t.Fatalf("signing keys %v without a ring, want 0", got)
	}
}
