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

// Package health measures how old this replica's view may be: per informer,
// the time since its list/watch first failed without recovering
// (Informers, fed by the informers' watch-error handlers, watch requests
// and watches), and the time since the API server last answered (Contact,
// which asks for /version every second). The authenticator turns requests
// away once the view is older than --max-staleness.
//
// It imports nothing of ours.
package health
