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

// Package managerns finds the namespace the manager lives in, where it keeps
// its own objects (the leader-election lease, later its Secrets), so the
// manager runs the same in a pod and on a laptop.
//
// It imports nothing of ours.
package managerns

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ServiceAccountNamespaceFile is where a pod finds its own namespace.
var ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ErrUnknown means no source named the namespace.
var ErrUnknown = errors.New("the manager's namespace is unknown: set --leader-election-namespace or POD_NAMESPACE, or run in a pod")

// Resolve returns, in order of preference, the explicit value (a flag), the
// POD_NAMESPACE environment variable, or the in-cluster service-account
// namespace file.
func Resolve(explicit string) (string, error) {
	ns, source := explicit, "--leader-election-namespace"
	if ns == "" {
		ns, source = os.Getenv("POD_NAMESPACE"), "POD_NAMESPACE"
	}
	if ns == "" {
		b, err := os.ReadFile(ServiceAccountNamespaceFile)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", ErrUnknown
			}
			return "", fmt.Errorf("failed to read %s: %w", ServiceAccountNamespaceFile, err)
		}
		ns, source = strings.TrimSpace(string(b)), ServiceAccountNamespaceFile
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "", fmt.Errorf("namespace %q from %s is not a valid namespace name: %s", ns, source, strings.Join(errs, "; "))
	}
	return ns, nil
}
