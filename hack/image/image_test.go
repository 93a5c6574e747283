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

package main

// These tests check the image `make image` built into bin/image (make test
// builds it first); they fail, never skip, when it is missing. They read the
// OCI layout and the tarballs, run the manager binary taken out of the image,
// and push the index to an in-process registry on 127.0.0.1.

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// imageDir is where `make image` writes (LOCALBIN/image), from this
// package's directory; IMAGE_TEST_DIR overrides it (for another LOCALBIN).
var imageDir = cmp.Or(os.Getenv("IMAGE_TEST_DIR"), "../../bin/image")

const (
	modulePath     = "github.com/azure-authenticator/azure-authenticator"
	fallbackModule = "golang.org/x/crypto/x509roots/fallback"
)

// builtImage is one platform's image of the layout.
type builtImage struct {
	desc     v1.Descriptor // in the image index
	image    v1.Image
	manifest *v1.Manifest
	config   *v1.ConfigFile
	// files is the flattened filesystem: every entry of every layer, by name.
	files map[string]*tar.Header
	// manager is the content of the entrypoint binary.
	manager []byte
}

// built is what `make image` wrote.
type built struct {
	layoutIndex v1.ImageIndex // index.json of the layout
	refName     string        // its org.opencontainers.image.ref.name
	index       v1.ImageIndex // the multi-arch image index it names
	indexDesc   v1.Descriptor
	images      map[string]*builtImage // by "os/arch"
}

var (
	loadOnce sync.Once
	loaded   *built
	errLoad  error
)

// load reads bin/image once for all the tests; a missing or broken image
// fails the calling test.
func load(t *testing.T) *built {
	t.Helper()
	loadOnce.Do(func() { loaded, errLoad = loadBuilt() })
	if errLoad != nil {
		t.Fatal(errLoad)
	}
	return loaded
}

func loadBuilt() (*built, error) {
	dir := filepath.Join(imageDir, "oci")
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, fmt.Errorf("no image in %s (%v): run make image first", imageDir, err)
	}
	b := &built{images: map[string]*builtImage{}}
	var err error
	if b.layoutIndex, err = layout.ImageIndexFromPath(dir); err != nil {
		return nil, fmt.Errorf("opening the OCI layout: %w", err)
	}
	im, err := b.layoutIndex.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("index.json lists %d manifests, want 1 (the multi-arch index)", len(im.Manifests))
	}
	b.indexDesc = im.Manifests[0]
	b.refName = b.indexDesc.Annotations["org.opencontainers.image.ref.name"]
	if b.index, err = b.layoutIndex.ImageIndex(b.indexDesc.Digest); err != nil {
		return nil, fmt.Errorf("reading the image index %s: %w", b.indexDesc.Digest, err)
	}
	idx, err := b.index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the image index manifest: %w", err)
	}
	for _, desc := range idx.Manifests {
		if desc.Platform == nil {
			return nil, fmt.Errorf("manifest %s of the index has no platform", desc.Digest)
		}
		bi := &builtImage{desc: desc}
		if bi.image, err = b.index.Image(desc.Digest); err != nil {
			return nil, fmt.Errorf("reading image %s: %w", desc.Digest, err)
		}
		if bi.manifest, err = bi.image.Manifest(); err != nil {
			return nil, fmt.Errorf("reading the manifest of %s: %w", desc.Digest, err)
		}
		if bi.config, err = bi.image.ConfigFile(); err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", desc.Digest, err)
		}
		if bi.files, bi.manager, err = flatten(bi.image); err != nil {
			return nil, fmt.Errorf("reading the filesystem of %s: %w", desc.Digest, err)
		}
		b.images[desc.Platform.String()] = bi
	}
	return b, nil
}

// flatten reads the image's filesystem: the headers of every entry, and the
// content of the manager. The image has one layer (TestImageConfig checks),
// which is then the whole filesystem, so this reads it directly rather than
// through mutate.Extract: a copy less of 70 MB, which matters under -race.
func flatten(img v1.Image) (map[string]*tar.Header, []byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, err
	}
	if len(layers) != 1 {
		return nil, nil, fmt.Errorf("%d layers, want 1 (the manager)", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	files := map[string]*tar.Header{}
	var manager []byte
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, manager, nil
		}
		if err != nil {
			return nil, nil, err
		}
		name := strings.TrimPrefix(filepath.Clean("/"+hdr.Name), "/")
		files[name] = hdr
		if name == "manager" && hdr.Size > 0 && hdr.Size < 1<<30 {
			// Sized up front: io.ReadAll's growing is slow under -race.
			manager = make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, manager); err != nil {
				return nil, nil, err
			}
		}
	}
}

// hostImage is the image of the platform this test runs on.
func hostImage(t *testing.T, b *built) *builtImage {
	t.Helper()
	bi, ok := b.images["linux/"+runtime.GOARCH]
	if !ok || runtime.GOOS != "linux" {
		t.Fatalf("the image has no platform this host (%s/%s) can run: the image tests need linux/amd64 or linux/arm64", runtime.GOOS, runtime.GOARCH)
	}
	return bi
}

// writeManager writes the manager binary of bi into a temporary directory.
func writeManager(t *testing.T, bi *builtImage) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manager")
	if err := os.WriteFile(path, bi.manager, 0o555); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLayoutHoldsMultiArchIndex(t *testing.T) {
	b := load(t)
	if mt, err := b.layoutIndex.MediaType(); err != nil || mt != types.OCIImageIndex {
		t.Errorf("index.json media type = %q, %v; want %q", mt, err, types.OCIImageIndex)
	}
	if b.indexDesc.MediaType != types.OCIImageIndex {
		t.Errorf("index.json names a %q; want an OCI image index %q", b.indexDesc.MediaType, types.OCIImageIndex)
	}
	if b.refName == "" {
		t.Errorf("index.json: the image index has no org.opencontainers.image.ref.name annotation: %v", b.indexDesc.Annotations)
	}
	if mt, err := b.index.MediaType(); err != nil || mt != types.OCIImageIndex {
		t.Errorf("image index media type = %q, %v; want %q", mt, err, types.OCIImageIndex)
	}
	if d, err := b.index.Digest(); err != nil || d != b.indexDesc.Digest {
		t.Errorf("image index digest = %v, %v; index.json says %v", d, err, b.indexDesc.Digest)
	}
	var got []string
	for p, bi := range b.images {
		got = append(got, p)
		if bi.desc.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: descriptor media type %q, want %q", p, bi.desc.MediaType, types.OCIManifestSchema1)
		}
	}
	slices.Sort(got)
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
		t.Errorf("platforms = %v, want exactly %v", got, want)
	}
}

func TestImageConfig(t *testing.T) {
	b := load(t)
	var created []time.Time
	for p, bi := range b.images {
		t.Run(p, func(t *testing.T) {
			m, cfg := bi.manifest, bi.config
			if m.MediaType != types.OCIManifestSchema1 {
				t.Errorf("manifest media type %q, want %q", m.MediaType, types.OCIManifestSchema1)
			}
			if m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("config media type %q, want %q", m.Config.MediaType, types.OCIConfigJSON)
			}
			if len(m.Layers) != 1 {
				t.Fatalf("%d layers, want 1 (the manager)", len(m.Layers))
			}
			if m.Layers[0].MediaType != types.OCILayer {
				t.Errorf("layer media type %q, want %q", m.Layers[0].MediaType, types.OCILayer)
			}
			if cfg.OS != bi.desc.Platform.OS || cfg.Architecture != bi.desc.Platform.Architecture {
				t.Errorf("config platform %s/%s, index says %s", cfg.OS, cfg.Architecture, p)
			}
			c := cfg.Config
			if c.User != "65532:65532" {
				t.Errorf("User = %q, want 65532:65532 (non-root, numeric for runAsNonRoot)", c.User)
			}
			if !slices.Equal(c.Entrypoint, []string{"/manager"}) || len(c.Cmd) != 0 {
				t.Errorf("Entrypoint = %q, Cmd = %q; want [/manager] and none", c.Entrypoint, c.Cmd)
			}
			if c.WorkingDir != "/" {
				t.Errorf("WorkingDir = %q, want /", c.WorkingDir)
			}
			for _, e := range c.Env {
				if strings.Contains(strings.ToLower(e), "proxy") {
					t.Errorf("Env carries %q from the build host", e)
				}
			}
			wantLabels := map[string]string{
				"org.opencontainers.image.source":   "https://github.com/azure-authenticator/azure-authenticator",
				"org.opencontainers.image.licenses": "Apache-2.0",
				"org.opencontainers.image.title":    "azure-authenticator",
				"org.opencontainers.image.version":  b.refName,
			}
			for k, want := range wantLabels {
				if got, ok := c.Labels[k]; !ok || got != want {
					t.Errorf("label %s = %q (set: %v), want %q", k, got, ok, want)
				}
			}
			if len(cfg.History) != 1 || !cfg.History[0].Created.Equal(cfg.Created.Time) {
				t.Errorf("history %+v; want one entry created at the image's time %v", cfg.History, cfg.Created)
			}
			created = append(created, cfg.Created.UTC())
		})
	}
	if len(created) == 2 && !created[0].Equal(created[1]) {
		t.Errorf("creation times differ between platforms: %v; want the one source time", created)
	}
}

func TestImageFilesystemIsOnlyTheStaticManager(t *testing.T) {
	b := load(t)
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for p, bi := range b.images {
		t.Run(p, func(t *testing.T) {
			var names []string
			for n := range bi.files {
				names = append(names, n)
			}
			if len(names) != 1 || names[0] != "manager" {
				t.Errorf("files %q; want only manager (no shell, no libc, no /etc)", names)
			}
			for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"} {
				if _, ok := bi.files[shell]; ok {
					t.Errorf("/%s is in the image", shell)
				}
			}
			hdr := bi.files["manager"]
			if hdr == nil {
				t.Fatal("no /manager in the image")
			}
			if hdr.Typeflag != tar.TypeReg || hdr.FileInfo().Mode().Perm() != 0o555 {
				t.Errorf("/manager: type %q, mode %v; want a regular file, r-xr-xr-x", hdr.Typeflag, hdr.FileInfo().Mode().Perm())
			}
			// Owned by root: the manager runs as 65532 and can execute its
			// binary but not change it or its mode.
			if hdr.Uid != 0 || hdr.Gid != 0 {
				t.Errorf("/manager owned by %d:%d, want 0:0", hdr.Uid, hdr.Gid)
			}
			if hdr.Size != int64(len(bi.manager)) || len(bi.manager) == 0 {
				t.Fatalf("/manager: %d bytes read, header says %d", len(bi.manager), hdr.Size)
			}

			f, err := elf.NewFile(bytes.NewReader(bi.manager))
			if err != nil {
				t.Fatalf("/manager is not an ELF binary: %v", err)
			}
			if want := machines[bi.desc.Platform.Architecture]; f.Machine != want {
				t.Errorf("/manager is for %v, want %v", f.Machine, want)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("/manager is dynamically linked (%v): it cannot run FROM scratch", prog.Type)
				}
			}
			// -trimpath keeps -ldflags out of the build info: check their
			// effects. -s: no symbol table; -w: no DWARF.
			if f.Section(".symtab") != nil {
				t.Error("/manager has a symbol table: not built with -ldflags -s")
			}
			for _, s := range f.Sections {
				if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
					t.Errorf("/manager has DWARF (%s): not built with -ldflags -w", s.Name)
					break
				}
			}

			info, err := buildinfo.Read(bytes.NewReader(bi.manager))
			if err != nil {
				t.Fatalf("reading the build info of /manager: %v", err)
			}
			if info.Path != modulePath {
				t.Errorf("/manager is %q, want the manager %q", info.Path, modulePath)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			want := map[string]string{
				"-buildmode":  "exe",
				"-compiler":   "gc",
				"CGO_ENABLED": "0",
				"GOOS":        bi.desc.Platform.OS,
				"GOARCH":      bi.desc.Platform.Architecture,
				"-trimpath":   "true",
			}
			switch bi.desc.Platform.Architecture {
			case "amd64":
				want["GOAMD64"] = "v1"
			case "arm64":
				want["GOARM64"] = "v8.0"
			}
			for k, v := range want {
				if settings[k] != v {
					t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
				}
			}
			// Nothing else, so that the Dockerfile's build, whose context
			// has no .git and whose environment no GOFLAGS, gives the same
			// binary: no vcs.* (-buildvcs=false), no -tags, -gcflags,
			// GOEXPERIMENT or GOFIPS140 from the build host (hack/image
			// clears them). DefaultGODEBUG comes from go.mod.
			for _, s := range info.Settings {
				_, wanted := want[s.Key]
				switch {
				case wanted, s.Key == "DefaultGODEBUG":
				case s.Key == "vcs" || strings.HasPrefix(s.Key, "vcs."):
					t.Errorf("build setting %s = %q: the manager was built without -buildvcs=false", s.Key, s.Value)
				default:
					t.Errorf("build setting %s = %q: the build environment leaked into the manager", s.Key, s.Value)
				}
			}
		})
	}
}

func TestManagerRunsFromTheImage(t *testing.T) {
	b := load(t)
	manager := writeManager(t, hostImage(t, b))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, manager, "--version")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("manager --version: %v\n%s", err, out)
	}
	if got, want := string(out), "azure-authenticator "+b.refName+"\n"; got != want {
		t.Errorf("manager --version printed %q, want %q (the image's version label)", got, want)
	}

	// The standard flag package: -help prints the usage and exits 0.
	cmd = exec.CommandContext(ctx, manager, "--help")
	cmd.Env = []string{}
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("manager --help: %v\n%s", err, out)
	}
	for _, f := range []string{"-authn-bind-address", "-tls-secret", "-version"} {
		if !bytes.Contains(out, []byte(f)) {
			t.Errorf("manager --help does not list %s:\n%s", f, out)
		}
	}
}

func TestTarballsMatchTheLayout(t *testing.T) {
	b := load(t)
	all, err := filepath.Glob(filepath.Join(imageDir, "azure-authenticator-*.tar"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range []string{"amd64", "arm64"} {
		want = append(want, filepath.Join(imageDir, "azure-authenticator-"+b.refName+"-linux-"+p+".tar"))
	}
	if !slices.Equal(all, want) {
		t.Errorf("tarballs %q, want exactly %q", all, want)
	}
	for p, bi := range b.images {
		t.Run(p, func(t *testing.T) {
			path := filepath.Join(imageDir, "azure-authenticator-"+b.refName+"-"+strings.ReplaceAll(p, "/", "-")+".tar")
			m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
			if err != nil {
				t.Fatalf("reading manifest.json of %s: %v", path, err)
			}
			if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{"azure-authenticator:" + b.refName}) {
				t.Errorf("%s: manifest.json %+v; want one image tagged azure-authenticator:%s", path, m, b.refName)
			}
			img, err := tarball.ImageFromPath(path, nil)
			if err != nil {
				t.Fatalf("loading %s: %v", path, err)
			}
			got, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			if want := bi.manifest.Config.Digest; got != want {
				t.Errorf("%s: config %s, the layout's %s image has %s", path, got, p, want)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(layers) != 1 {
				t.Fatalf("%s: %d layers, want 1", path, len(layers))
			}
			if d, err := layers[0].Digest(); err != nil || d != bi.manifest.Layers[0].Digest {
				t.Errorf("%s: layer %v, %v; the layout's is %s", path, d, err, bi.manifest.Layers[0].Digest)
			}
		})
	}
}

// TestManagerEmbedsFallbackRoots checks the manager binary of the image: it
// links golang.org/x/crypto/x509roots/fallback, at the version this module
// requires, and carries its whole root bundle, so it can verify the public
// TLS servers it fetches from (the providers' OpenID discovery documents and
// signing keys, e.g. Entra ID's) although the image has no CA bundle.
func TestManagerEmbedsFallbackRoots(t *testing.T) {
	b := load(t)
	out, err := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Version}}", fallbackModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", fallbackModule, err)
	}
	wantVersion := strings.TrimSpace(string(out))

	var concatenated []byte
	found := map[string]bool{}
	for r := range bundle.Roots() {
		concatenated = append(concatenated, r.Certificate...)
		c, err := x509.ParseCertificate(r.Certificate)
		if err != nil {
			t.Fatalf("a fallback root does not parse: %v", err)
		}
		found[c.Subject.CommonName] = true
	}
	// DigiCert Global Root G2 anchors login.microsoftonline.com (Entra ID);
	// GTS Root R1 anchors the public chain TestFallbackRootsSemantics uses.
	for _, cn := range []string{"DigiCert Global Root G2", "GTS Root R1"} {
		if !found[cn] {
			t.Errorf("the fallback bundle %s has no %q root", wantVersion, cn)
		}
	}

	for p, bi := range b.images {
		t.Run(p, func(t *testing.T) {
			info, err := buildinfo.Read(bytes.NewReader(bi.manager))
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, d := range info.Deps {
				if d.Path == fallbackModule {
					got = d.Version
				}
			}
			if got != wantVersion {
				t.Errorf("/manager links %s %q, want %q", fallbackModule, got, wantVersion)
			}
			// The bundle is embedded (go:embed) as is: its bytes are in the
			// binary iff the package is linked.
			if !bytes.Contains(bi.manager, concatenated) {
				t.Errorf("/manager does not contain the %d-byte fallback root bundle", len(concatenated))
			}
		})
	}
}

// TestFallbackRootsSemantics shows, with a helper built the way the manager
// is (testdata/rootscheck: the same blank import of the fallback package),
// which roots crypto/x509 verifies against on Linux, so that the docs can say
// it: the system roots (SSL_CERT_FILE, SSL_CERT_DIR, else the usual files)
// when there is at least one, and the embedded fallback roots only when there
// is none, as in the scratch image; never both. GODEBUG=x509usefallbackroots=1
// forces the fallback roots even when there are system roots.
func TestFallbackRootsSemantics(t *testing.T) {
	dir := t.TempDir()
	withFallback := buildRootsCheck(t, dir, "rootscheck")
	withoutFallback := buildRootsCheck(t, dir, "rootscheck-nofallback", "-tags", "nofallback")

	// A real public chain (www.google.com <- GTS CA 1C3 <- GTS Root R1,
	// from Go's crypto/x509 tests), checked at a time it was valid.
	const public, publicName, publicTime = "testdata/google-chain.pem", "www.google.com", "1677615892"
	// A private CA, as a cluster would put in SSL_CERT_FILE.
	caFile, leafFile := privateCA(t, dir, "authn.example.test")
	now := fmt.Sprint(time.Now().Unix())
	emptyFile := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const none = "/nonexistent"

	tests := []struct {
		name               string
		binary             string
		certFile, certDir  string
		forceFallback      bool
		chain, dns, at     string
		wantVerified       bool
		wantRootCommonName string
	}{
		{"no system roots: the fallback roots", withFallback, none, none, false, public, publicName, publicTime, true, "GTS Root R1"},
		{"no system roots, without the fallback import: nothing", withoutFallback, none, none, false, public, publicName, publicTime, false, ""},
		{"an empty SSL_CERT_FILE counts as no roots: the fallback roots", withFallback, emptyFile, none, false, public, publicName, publicTime, true, "GTS Root R1"},
		{"SSL_CERT_FILE roots are used", withFallback, caFile, none, false, leafFile, "authn.example.test", now, true, "Test CA"},
		{"SSL_CERT_FILE roots replace the fallback roots", withFallback, caFile, none, false, public, publicName, publicTime, false, ""},
		{"SSL_CERT_DIR roots are used", withFallback, none, filepath.Dir(caFile), false, leafFile, "authn.example.test", now, true, "Test CA"},
		{"x509usefallbackroots=1 ignores SSL_CERT_FILE", withFallback, caFile, none, true, leafFile, "authn.example.test", now, false, ""},
		{"x509usefallbackroots=1 uses the fallback roots", withFallback, caFile, none, true, public, publicName, publicTime, true, "GTS Root R1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), tc.binary, tc.chain, tc.dns, tc.at)
			// Only these: nothing from the host's environment.
			cmd.Env = []string{"SSL_CERT_FILE=" + tc.certFile, "SSL_CERT_DIR=" + tc.certDir}
			if tc.forceFallback {
				cmd.Env = append(cmd.Env, "GODEBUG=x509usefallbackroots=1")
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
				t.Fatalf("rootscheck: %v\n%s", err, out)
			}
			verified := err == nil
			if verified != tc.wantVerified {
				t.Fatalf("verified = %v, want %v: %s", verified, tc.wantVerified, out)
			}
			if verified && !strings.HasSuffix(strings.TrimSpace(string(out)), "<- "+tc.wantRootCommonName) {
				t.Errorf("chain %q, want it anchored at %q", strings.TrimSpace(string(out)), tc.wantRootCommonName)
			}
		})
	}
}

// buildRootsCheck builds testdata/rootscheck into dir/name, statically as
// the manager is built.
func buildRootsCheck(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args = append(append([]string{"build", "-trimpath"}, args...), "-o", out, "./testdata/rootscheck")
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// privateCA writes a new CA certificate (dir/ca/ca.pem, alone in its
// directory, for SSL_CERT_DIR) and a leaf for dnsName it signed (its chain in
// dir/leaf.pem).
func privateCA(t *testing.T, dir, dnsName string) (caFile, leafFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca", "ca.pem")
	leafFile = filepath.Join(dir, "leaf.pem")
	if err := os.Mkdir(filepath.Dir(caFile), 0o700); err != nil {
		t.Fatal(err)
	}
	for file, der := range map[string][]byte{caFile: caDER, leafFile: leafDER} {
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, leafFile
}

func TestPushToRegistry(t *testing.T) {
	b := load(t)
	// No credentials from this machine: an empty Docker config.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Fatalf("test registry at %s, want 127.0.0.1", srv.URL)
	}
	ctx := t.Context()
	var pushLog bytes.Buffer
	ref := host + "/team/azure-authenticator:" + b.refName
	// make image builds the working tree, whose changes make a -dirty
	// version while one works on it: push refuses it, and pushes it with
	// AllowDirty (TestPushRefusesDirtyBuild checks both ways).
	dirty := strings.HasSuffix(b.refName, "-dirty")
	if dirty {
		if _, err := push(ctx, pushOptions{Layout: filepath.Join(imageDir, "oci"), Image: ref}); err == nil || !strings.Contains(err.Error(), "--allow-dirty") {
			t.Errorf("push of the dirty build %s = %v; want a refusal naming --allow-dirty", b.refName, err)
		}
	}
	pushed, err := push(ctx, pushOptions{Layout: filepath.Join(imageDir, "oci"), Image: ref, Insecure: true, AllowDirty: dirty, Log: &pushLog})
	if err != nil {
		t.Fatalf("push: %v\n%s", err, pushLog.String())
	}
	if want := host + "/team/azure-authenticator@" + b.indexDesc.Digest.String(); pushed.String() != want {
		t.Errorf("push returned %s, want %s", pushed, want)
	}

	// Pull it back, by tag.
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(tag, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pulling the index back: %v", err)
	}
	if d, err := idx.Digest(); err != nil || d != b.indexDesc.Digest {
		t.Errorf("pulled index %v, %v; the layout's is %s", d, err, b.indexDesc.Digest)
	}
	// And the image a linux/arm64 node would pull.
	img, err := remote.Image(tag, remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))
	if err != nil {
		t.Fatalf("pulling the linux/arm64 image: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("pulling the linux/arm64 config: %v", err)
	}
	if cfg.Architecture != "arm64" || cfg.Config.User != "65532:65532" {
		t.Errorf("pulled linux/arm64 config: architecture %q, user %q", cfg.Architecture, cfg.Config.User)
	}
	if cn, err := img.ConfigName(); err != nil || cn != b.images["linux/arm64"].manifest.Config.Digest {
		t.Errorf("pulled linux/arm64 config %v, %v; the layout's is %s", cn, err, b.images["linux/arm64"].manifest.Config.Digest)
	}

	// By digest: the layout's digest is accepted, another one refused.
	if _, err := push(ctx, pushOptions{Layout: filepath.Join(imageDir, "oci"), Image: pushed.String(), AllowDirty: dirty}); err != nil {
		t.Errorf("push to %s: %v", pushed, err)
	}
	other := host + "/team/azure-authenticator@sha256:" + strings.Repeat("0", 64)
	if _, err := push(ctx, pushOptions{Layout: filepath.Join(imageDir, "oci"), Image: other, AllowDirty: dirty}); err == nil || !strings.Contains(err.Error(), "names digest") {
		t.Errorf("push to %s = %v; want an error about the digest", other, err)
	}
}

// TestPushRefusesDirtyBuild pushes small layouts, written the way the build
// command writes them but with a few bytes for the manager, to an in-process
// registry: one whose version (the ref name in index.json, or the version
// label of an image) ends in -dirty is refused, and nothing is uploaded,
// unless --allow-dirty is given.
func TestPushRefusesDirtyBuild(t *testing.T) {
	// No credentials from this machine: an empty Docker config.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	for i, tc := range []struct {
		name           string
		refName, label string
		// wantDirty is the version the refusal names; "" when push
		// accepts the layout without --allow-dirty.
		wantDirty string
	}{
		{"a tag", "v1.2.3", "v1.2.3", ""},
		{"commits after a tag", "v1.2.3-4-gabcdef0", "v1.2.3-4-gabcdef0", ""},
		{"-dirty not at the end", "v1.2.3-dirtyfix", "v1.2.3-dirtyfix", ""},
		{"a dirty tree after a tag", "v1.2.3-4-gabcdef0-dirty", "v1.2.3-4-gabcdef0-dirty", "v1.2.3-4-gabcdef0-dirty"},
		{"a dirty tree without a tag", "abcdef0-dirty", "abcdef0-dirty", "abcdef0-dirty"},
		{"only the version label dirty", "v1.2.3", "v1.2.3-dirty", "v1.2.3-dirty"},
		{"only the ref name dirty", "v1.2.3-dirty", "v1.2.3", "v1.2.3-dirty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, digest := syntheticLayout(t, tc.refName, tc.label)
			ref := fmt.Sprintf("%s/synthetic/r%d:%s", host, i, tc.refName)
			tag, err := name.ParseReference(ref, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			wantPushed := fmt.Sprintf("%s/synthetic/r%d@%s\n", host, i, digest)

			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{"push", "--layout", dir, "--image", ref}, &stdout, &stderr)
			if tc.wantDirty == "" {
				if code != 0 || stdout.String() != wantPushed {
					t.Fatalf("push: exit %d, stdout %q, stderr %q; want exit 0 and %q", code, stdout.String(), stderr.String(), wantPushed)
				}
				if strings.Contains(stderr.String(), "--allow-dirty") {
					t.Errorf("push of a clean build logged %q", stderr.String())
				}
				return
			}
			if code != 1 {
				t.Errorf("push of a dirty build: exit %d, stderr %q; want exit 1", code, stderr.String())
			}
			for _, want := range []string{"refusing to push a dirty build", fmt.Sprintf("%q", tc.wantDirty), "--allow-dirty"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("push of a dirty build: stderr %q; want %q in it", stderr.String(), want)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("refused push printed %q", stdout.String())
			}
			var terr *transport.Error
			if _, err := remote.Head(tag, remote.WithContext(t.Context())); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
				t.Errorf("after the refused push, HEAD %s = %v; want 404: nothing pushed", ref, err)
			}

			stdout.Reset()
			stderr.Reset()
			code = run(t.Context(), []string{"push", "--layout", dir, "--image", ref, "--allow-dirty"}, &stdout, &stderr)
			if code != 0 || stdout.String() != wantPushed {
				t.Fatalf("push --allow-dirty: exit %d, stdout %q, stderr %q; want exit 0 and %q", code, stdout.String(), stderr.String(), wantPushed)
			}
			if want := "pushing the dirty build " + tc.wantDirty + " (--allow-dirty)"; !strings.Contains(stderr.String(), want) {
				t.Errorf("push --allow-dirty logged %q; want %q", stderr.String(), want)
			}
			desc, err := remote.Head(tag, remote.WithContext(t.Context()))
			if err != nil || desc.Digest != digest {
				t.Errorf("HEAD %s = %v, %v; want the layout's %s", ref, desc, err, digest)
			}
		})
	}
}

// syntheticLayout writes an OCI layout the way the build command does, with
// a few bytes for the manager: index.json names the image index refName,
// and its images carry the version label label. It returns the layout's
// directory and the digest of the index.
func syntheticLayout(t *testing.T, refName, label string) (string, v1.Hash) {
	t.Helper()
	dir := t.TempDir()
	binary := filepath.Join(dir, "manager")
	if err := os.WriteFile(binary, []byte("#!/not/a/manager\n"), 0o555); err != nil {
		t.Fatal(err)
	}
	images := make([]v1.Image, len(platforms))
	for i, p := range platforms {
		img, err := platformImage(binary, p, label, time.Unix(1700000000, 0).UTC())
		if err != nil {
			t.Fatal(err)
		}
		images[i] = img
	}
	index := multiArchIndex(images)
	digest, err := index.Digest()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "oci")
	if err := writeLayout(filepath.Join(dir, "tmp"), out, index, refName); err != nil {
		t.Fatal(err)
	}
	return out, digest
}

// TestBuildEnv checks the environment of go build: the caller's Go variables
// that change the binary dropped, those that do not kept, the rest of the
// environment kept as is, and the fixed settings added.
func TestBuildEnv(t *testing.T) {
	kept := []string{
		"PATH=/usr/local/go/bin:/usr/bin",
		"HOME=/home/dev",
		"GOOGLE_APPLICATION_CREDENTIALS=/home/dev/key.json",
		"CC=clang",
		"GOTOOLCHAIN=go1.26.8+auto",
		"GOROOT=/usr/local/go",
		"GOENV=/home/dev/go.env",
		"GOPROXY=https://proxy.example",
		"GOPRIVATE=example.com/*",
		"GOMODCACHE=/home/dev/mod",
		"GOCACHE=/home/dev/cache",
		"GODEBUG=netdns=go",
		"GOMAXPROCS=2",
	}
	dropped := []string{
		"GOFLAGS=-tags=debug -gcflags=all=-N",
		"GOEXPERIMENT=jsonv2",
		"GOCOMPILEDEBUG=loopvarhash=1",
		"GOSSAFUNC=main",
		"GO_EXTLINK_ENABLED=1",
		"GOWORK=/home/dev/go.work",
		"GOFIPS140=latest",
		"GO111MODULE=off",
		"GO386=softfloat",
		"GOARM=6",
		"GOOS=windows",
		"GOARCH=386",
		"GOAMD64=v3",
		"GOARM64=v9.0",
		"CGO_ENABLED=1",
	}
	var environ []string
	for i := range max(len(kept), len(dropped)) {
		if i < len(kept) {
			environ = append(environ, kept[i])
		}
		if i < len(dropped) {
			environ = append(environ, dropped[i])
		}
	}
	got := buildEnv(environ, v1.Platform{OS: "linux", Architecture: "arm64"})
	want := append(slices.Clone(kept),
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOAMD64=v1", "GOARM64=v8.0",
		"GOFLAGS=-buildvcs=false", "GOWORK=off", "GOFIPS140=off", "GO111MODULE=on", "GO_EXTLINK_ENABLED=0")
	if !slices.Equal(got, want) {
		t.Errorf("buildEnv =\n%q\nwant\n%q", got, want)
	}
}

// TestBuildEnvOverridesTheGoEnvFile checks, with the go command, that the
// settings of a go env file (go env -w) do not reach the build either:
// buildEnv overrides them, and a GOEXPERIMENT, which it cannot, makes the
// build fail before it compiles anything.
func TestBuildEnvOverridesTheGoEnvFile(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "go.env")
	hostile := "GOFLAGS=-tags=debug\nGOWORK=/nonexistent/go.work\nGOFIPS140=latest\nGO111MODULE=off\nGO_EXTLINK_ENABLED=1\nGOAMD64=v3\n"
	if err := os.WriteFile(envFile, []byte(hostile), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOENV", envFile)
	// The go command's own settings, which buildEnv drops, too.
	t.Setenv("GOFLAGS", "-tags=debug")
	t.Setenv("GOEXPERIMENT", "jsonv2")

	cmd := exec.CommandContext(t.Context(), "go", "env", "-json", "GOFLAGS", "GOWORK", "GOFIPS140", "GO111MODULE", "GO_EXTLINK_ENABLED", "GOAMD64", "GOEXPERIMENT")
	cmd.Env = buildEnv(os.Environ(), v1.Platform{OS: "linux", Architecture: "amd64"})
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go env: %v", exitDetail(err))
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GOFLAGS": "-buildvcs=false", "GOWORK": "off", "GOFIPS140": "off", "GO111MODULE": "on",
		"GO_EXTLINK_ENABLED": "0", "GOAMD64": "v1", "GOEXPERIMENT": "",
	}
	if !maps.Equal(got, want) {
		t.Errorf("go env in the build environment = %v, want %v", got, want)
	}
	root, err := checkGoEnv(t.Context())
	if err != nil {
		t.Fatalf("checkGoEnv: %v", err)
	}
	if abs, _ := filepath.Abs("../.."); root != abs {
		t.Errorf("module root %q, want %q", root, abs)
	}

	if err := os.WriteFile(envFile, []byte(hostile+"GOEXPERIMENT=jsonv2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(t.TempDir(), "image")
	_, err = build(t.Context(), buildOptions{Version: "v1.2.3", Out: outDir, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "GOEXPERIMENT=jsonv2") || !strings.Contains(err.Error(), "go env -u GOEXPERIMENT") {
		t.Errorf("build with GOEXPERIMENT in the go env file = %v; want an error saying to go env -u it", err)
	}
	if _, err := os.Stat(outDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("build wrote %s (%v); want it to stop before building", outDir, err)
	}
}

func TestPushRefusesBadArguments(t *testing.T) {
	layoutDir := filepath.Join(imageDir, "oci")
	for _, tc := range []struct {
		layout, image, want string
	}{
		{layoutDir, "", "--image is required"},
		{layoutDir, "  ", "--image is required"},
		{layoutDir, "Registry.Example/UPPER::case", "is not an image reference"},
		{filepath.Join(t.TempDir(), "missing"), "127.0.0.1:1/azure-authenticator:v1", "make image writes it"},
	} {
		_, err := push(t.Context(), pushOptions{Layout: tc.layout, Image: tc.image})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("push(layout %q, image %q) = %v; want an error containing %q", tc.layout, tc.image, err, tc.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantCode int
		want     string
	}{
		{nil, 2, "Usage:"},
		{[]string{"-h"}, 0, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"build", "-h"}, 0, "-version"},
		{[]string{"build", "--out", "x"}, 2, "--version is required"},
		{[]string{"build", "--version", "v1+meta", "--out", t.TempDir()}, 2, "not a valid image tag"},
		{[]string{"push", "--layout", "x"}, 2, "--image is required"},
		{[]string{"push", "--image", "r.example/a:b"}, 2, "--layout is required"},
		{[]string{"push", "--layout", "x", "--image", "r.example/a:b", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"push", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"push", "-h"}, 0, "-allow-dirty"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), tc.args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != tc.wantCode || !strings.Contains(out, tc.want) {
			t.Errorf("image %q: exit %d, output %q; want exit %d and %q", tc.args, code, out, tc.wantCode, tc.want)
		}
	}
}
