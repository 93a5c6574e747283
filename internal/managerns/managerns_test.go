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

package managerns

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	saFile := filepath.Join(dir, "namespace")
	tests := []struct {
		name     string
		explicit string
		env      string
		file     string // written when non-empty
		want     string
		wantErr  bool
	}{
		{name: "the flag wins over everything", explicit: "from-flag", env: "from-env", file: "from-file", want: "from-flag"},
		{name: "POD_NAMESPACE wins over the service-account file", env: "from-env", file: "from-file", want: "from-env"},
		{name: "the service-account file is the last resort", file: "from-file\n", want: "from-file"},
		{name: "nothing at all is an error", wantErr: true},
		{name: "an invalid name is an error", env: "Not_A_Namespace", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("POD_NAMESPACE", tc.env)
			_ = os.Remove(saFile)
			if tc.file != "" {
				if err := os.WriteFile(saFile, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			old := ServiceAccountNamespaceFile
			ServiceAccountNamespaceFile = saFile
			t.Cleanup(func() { ServiceAccountNamespaceFile = old })

			got, err := Resolve(tc.explicit)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Resolve() = %q, want an error", got)
				}
				if tc.env == "" && !errors.Is(err, ErrUnknown) {
					t.Errorf("error %v, want ErrUnknown", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
