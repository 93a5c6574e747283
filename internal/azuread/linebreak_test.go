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

package azuread_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/azure-authenticator/azure-authenticator/internal/azuread"
	"github.com/azure-authenticator/azure-authenticator/internal/azuretest"
	"github.com/azure-authenticator/azure-authenticator/internal/failure"
	"github.com/azure-authenticator/azure-authenticator/internal/loopback"
	"github.com/azure-authenticator/azure-authenticator/internal/policy"
)

// Go's base64 decoders skip CR and LF, so a line break inside the
// signature left it, and the verdict, unchanged: one genuine token had
// countless spellings, each a different string to a proxy or a blocklist
// that refuses a leaked token by its text. base64url has no line breaks.
func TestLineBreaksInATokenAreRefused(t *testing.T) {
	azure := azuretest.NewServer()
	t.Cleanup(azure.Close)
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	auth := &policy.Authenticator{
		ServiceID: "prod", Enabled: true, ClockSkew: time.Minute,
		Audiences: []string{"https://management.azure.com/"},
		Providers: []policy.Provider{{Issuer: azure.IssuerV1(tenant), TenantID: tenant, CABundle: azure.CAPEM()}},
	}
	v := &azuread.Verifier{
		Keys:  azuread.NewKeySets(azuread.Options{DialContext: loopback.DialContext}),
		Cache: azuread.NewVerifiedCache(16), // the genuine token is cached first: no spelling may hit it
	}
	good := azure.Token(azuretest.VM(tenant, "6a1bd2f1-7c3f-4a5e-9d1e-2b6a4c8e0f11", "rg-apps", "vm-1"), azuretest.TokenOptions{})
	if _, err := v.Verify(context.Background(), auth, good); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
	sig := len(good) - 40 // inside the signature
	for name, token := range map[string]string{
		"LF in the signature":   good[:sig] + "\n" + good[sig:],
		"CR in the signature":   good[:sig] + "\r" + good[sig:],
		"CRLF in the signature": good[:sig] + "\r\n" + good[sig:],
		"LF at the end":         good + "\n",
		"LF in the header":      good[:10] + "\n" + good[10:],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), auth, token)
			var f *failure.Error
			if !errors.As(err, &f) || f.Code != failure.TokenDecodeFailed {
				t.Fatalf("Verify = %v, want %s", err, failure.TokenDecodeFailed)
			}
		})
	}
}
