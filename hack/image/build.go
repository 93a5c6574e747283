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

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// imageName names the docker-load tarballs and their tag.
	imageName = "azure-authenticator"
	// binaryPath is where the manager lives in the image (the entrypoint).
	binaryPath = "/manager"
	// runAs is the image's user: the distroless "nonroot" UID and GID. It
	// needs no /etc/passwd entry, and Kubernetes' runAsNonRoot accepts it
	// because it is numeric.
	runAs = "65532:65532"

	// refNameAnnotation names an image in an OCI layout's index.json.
	refNameAnnotation = "org.opencontainers.image.ref.name"
	labelSource       = "org.opencontainers.image.source"
	labelVersion      = "org.opencontainers.image.version"
	labelLicenses     = "org.opencontainers.image.licenses"
	labelTitle        = "org.opencontainers.image.title"
	sourceURL         = "https://github.com/azure-authenticator/azure-authenticator"
)

// platforms are the image's platforms, built in this order.
var platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
}

// versionPattern is what --version accepts: a valid image tag (it tags the
// tarballs), which is also safe in a file name and in -ldflags.
var versionPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

type buildOptions struct {
	Version string
	Out     string
	Log     io.Writer
}

// tarballName is the docker-load tarball of one platform in the output
// directory.
func tarballName(version string, p v1.Platform) string {
	return fmt.Sprintf("%s-%s-%s-%s.tar", imageName, version, p.OS, p.Architecture)
}

// labels are the OCI annotations every image carries as config labels.
func labels(version string) map[string]string {
	return map[string]string{
		labelSource:   sourceURL,
		labelVersion:  version,
		labelLicenses: "Apache-2.0",
		labelTitle:    imageName,
	}
}

// build cross-compiles the manager for every platform, writes the layout and
// the tarballs into opts.Out and returns the digest of the image index.
func build(ctx context.Context, opts buildOptions) (v1.Hash, error) {
	start := time.Now()
	logf := func(format string, args ...any) { printf(opts.Log, "image: "+format+"\n", args...) }
	if !versionPattern.MatchString(opts.Version) {
		return v1.Hash{}, usagef("--version %q is not a valid image tag (letters, digits, '_', '.', '-'; at most 128, not starting with '.' or '-')", opts.Version)
	}
	tag, err := name.NewTag(imageName + ":" + opts.Version)
	if err != nil {
		return v1.Hash{}, usagef("--version %q: %v", opts.Version, err)
	}
	root, err := checkGoEnv(ctx)
	if err != nil {
		return v1.Hash{}, err
	}
	created, createdFrom := sourceTime(ctx, root)
	logf("version %s, created %s (%s)", opts.Version, created.UTC().Format(time.RFC3339), createdFrom)

	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return v1.Hash{}, fmt.Errorf("creating the output directory: %w", err)
	}
	work, err := os.MkdirTemp(opts.Out, ".build-")
	if err != nil {
		return v1.Hash{}, fmt.Errorf("creating a work directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(work) }()

	// One build after the other: each is CPU-bound and uses every core.
	images := make([]v1.Image, len(platforms))
	for i, p := range platforms {
		binary := filepath.Join(work, p.Architecture, "manager")
		t := time.Now()
		logf("building %s/%s manager (go build -trimpath -buildvcs=false, CGO_ENABLED=0)", p.OS, p.Architecture)
		if err := goBuild(ctx, root, p, opts.Version, binary, opts.Log); err != nil {
			return v1.Hash{}, err
		}
		img, err := platformImage(binary, p, opts.Version, created)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s/%s image: %w", p.OS, p.Architecture, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s/%s image digest: %w", p.OS, p.Architecture, err)
		}
		logf("%s/%s image %s (%s)", p.OS, p.Architecture, digest, time.Since(t).Round(time.Millisecond))
		images[i] = img
	}
	index := multiArchIndex(images)
	digest, err := index.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image index digest: %w", err)
	}

	// The layout and the tarballs are written in the work directory and
	// renamed into place, so an interrupted build leaves the previous ones.
	layoutDir := filepath.Join(opts.Out, "oci")
	if err := writeLayout(filepath.Join(work, "oci"), layoutDir, index, opts.Version); err != nil {
		return v1.Hash{}, err
	}
	logf("wrote %s", layoutDir)
	if err := removeOldTarballs(opts.Out, opts.Version); err != nil {
		return v1.Hash{}, err
	}
	for i, p := range platforms {
		dst := filepath.Join(opts.Out, tarballName(opts.Version, p))
		tmp := filepath.Join(work, filepath.Base(dst))
		if err := tarball.WriteToFile(tmp, tag, images[i]); err != nil {
			return v1.Hash{}, fmt.Errorf("writing the %s/%s tarball: %w", p.OS, p.Architecture, err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return v1.Hash{}, fmt.Errorf("moving the %s/%s tarball into place: %w", p.OS, p.Architecture, err)
		}
		logf("wrote %s (docker load -i %s; tag %s:%s)", dst, dst, imageName, opts.Version)
	}
	logf("image index %s, in %s", digest, time.Since(start).Round(time.Millisecond))
	return digest, nil
}

// checkGoEnv asks the go command, in the environment of the builds, for the
// directory of the main module's go.mod (the manager is the package at its
// root), and refuses to build when GOEXPERIMENT is set anyway. buildEnv drops
// the variable, but the go command then reads it from the go env file (go env
// -w), and no value overrides that with "the toolchain's default": any value
// is recorded in the binary's build info, and GOEXPERIMENT=none turns off the
// experiments the toolchain enables by default.
func checkGoEnv(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "-json", "GOMOD", "GOENV", "GOEXPERIMENT")
	cmd.Env = buildEnv(os.Environ(), platforms[0])
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", exitDetail(err))
	}
	var env struct{ GOMOD, GOENV, GOEXPERIMENT string }
	if err := json.Unmarshal(out, &env); err != nil {
		return "", fmt.Errorf("reading go env -json: %w", err)
	}
	if env.GOMOD == "" || env.GOMOD == os.DevNull {
		return "", fmt.Errorf("not inside the azure-authenticator module: run from the repository (go env GOMOD is %q)", env.GOMOD)
	}
	if env.GOEXPERIMENT != "" {
		return "", fmt.Errorf("GOEXPERIMENT=%s comes from the go env file %s (go env -w) or the toolchain's own build: the manager is built with no GOEXPERIMENT, as the Dockerfile builds it; remove the setting with go env -u GOEXPERIMENT", env.GOEXPERIMENT, env.GOENV)
	}
	return filepath.Dir(env.GOMOD), nil
}

// sourceTime is the image creation time: SOURCE_DATE_EPOCH if set, else the
// commit time of HEAD, else the Unix epoch. It is fixed for given sources so
// that a rebuild gives the same config, hence the same digests.
func sourceTime(ctx context.Context, root string) (time.Time, string) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(sec, 0).UTC(), "SOURCE_DATE_EPOCH"
		}
	}
	cmd := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		if sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
			return time.Unix(sec, 0).UTC(), "commit time of HEAD"
		}
	}
	return time.Unix(0, 0).UTC(), "no git commit: the Unix epoch"
}

// goBuild cross-compiles the manager for p into out, static and stripped,
// with the flags and the environment the Dockerfile uses: both give the same
// binary.
func goBuild(ctx context.Context, root string, p v1.Platform, version, out string, log io.Writer) error {
	// -buildvcs=false: the binary carries no vcs.* build settings (the
	// Docker build context has no .git); the version is stamped by -X.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version="+version, "-o", out, ".")
	cmd.Dir = root
	cmd.Env = buildEnv(os.Environ(), p)
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s/%s: %w", p.OS, p.Architecture, err)
	}
	return nil
}

// keptGoEnv are the Go variables of the caller's environment that go build
// keeps: they choose the toolchain, where modules come from and where files
// are cached, or tune the go command's own runtime, and do not change the
// binary. Every other Go variable (GOFLAGS, GOEXPERIMENT, GOCOMPILEDEBUG,
// GO_EXTLINK_ENABLED, GO386, ...) is dropped.
var keptGoEnv = map[string]bool{
	// The toolchain: left to the caller.
	"GOROOT": true, "GOTOOLCHAIN": true, "GOENV": true,
	// Modules: go.sum pins their content.
	"GOPROXY": true, "GONOPROXY": true, "GOSUMDB": true, "GONOSUMDB": true,
	"GOPRIVATE": true, "GOINSECURE": true, "GOVCS": true, "GOAUTH": true,
	// Locations and caches.
	"GOPATH": true, "GOMODCACHE": true, "GOCACHE": true, "GOCACHEPROG": true,
	"GOTMPDIR": true, "GOTELEMETRY": true, "GOTELEMETRYDIR": true,
	// The go command's runtime.
	"GODEBUG": true, "GOGC": true, "GOMEMLIMIT": true, "GOMAXPROCS": true, "GOTRACEBACK": true,
}

// fixedGoEnv is the build environment of p, whatever the caller's environment
// and go env file say. The variables whose default is wanted are set to it
// rather than left unset, because the go command reads an unset or empty one
// from the go env file (go env -w); GOEXPERIMENT has no such value (see
// checkGoEnv).
func fixedGoEnv(p v1.Platform) []string {
	return []string{
		"CGO_ENABLED=0",
		"GOOS=" + p.OS,
		"GOARCH=" + p.Architecture,
		// The baseline instruction sets: the image runs on any amd64 or
		// arm64 node.
		"GOAMD64=v1",
		"GOARM64=v8.0",
		// No flags but the command line's (-buildvcs=false is there too).
		"GOFLAGS=-buildvcs=false",
		// The module's go.mod alone, not a go.work of the caller's.
		"GOWORK=off",
		"GOFIPS140=off",
		"GO111MODULE=on",
		// Internal linking, the default of a CGO_ENABLED=0 build.
		"GO_EXTLINK_ENABLED=0",
	}
}

// buildEnv is environ, the caller's environment, for a go build of p: the Go
// variables not in keptGoEnv dropped, and fixedGoEnv(p) added.
func buildEnv(environ []string, p v1.Platform) []string {
	fixed := fixedGoEnv(p)
	set := map[string]bool{}
	for _, kv := range fixed {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	var env []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if set[k] || (isGoVariable(k) && !keptGoEnv[k]) {
			continue
		}
		env = append(env, kv)
	}
	return append(env, fixed...)
}

// isGoVariable reports whether name is one the Go toolchain may read: GO
// followed by capitals and digits (GOFLAGS, GO386), or GO_ and anything
// (GO_EXTLINK_ENABLED). Other variables that start with GO, like
// GOOGLE_APPLICATION_CREDENTIALS, are not.
func isGoVariable(name string) bool {
	if strings.HasPrefix(name, "GO_") {
		return true
	}
	rest, ok := strings.CutPrefix(name, "GO")
	if !ok {
		return false
	}
	for _, r := range rest {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// platformImage is the image of one platform: the manager binary, alone in a
// single layer, on top of nothing (FROM scratch: no shell, no libc, no CA
// bundle; the manager embeds its trust roots).
func platformImage(binary string, p v1.Platform, version string, created time.Time) (v1.Image, error) {
	layer, err := binaryLayer(binary, created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "hack/image: COPY manager " + binaryPath,
			Comment:   "go build -trimpath -buildvcs=false -ldflags \"-s -w -X main.version=" + version + "\" (CGO_ENABLED=0)",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Created = v1.Time{Time: created}
	cfg.OS = p.OS
	cfg.Architecture = p.Architecture
	cfg.Config = v1.Config{
		User:       runAs,
		Entrypoint: []string{binaryPath},
		WorkingDir: "/",
		// Nothing from the build host (no proxy settings, no PATH): the
		// entrypoint is absolute and the manager reads no other variable
		// the image should fix.
		Env:    nil,
		Labels: labels(version),
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return img, nil
}

// multiArchIndex is the OCI image index of images, the image of each of
// platforms in order.
func multiArchIndex(images []v1.Image) v1.ImageIndex {
	adds := make([]mutate.IndexAddendum, len(images))
	for i, img := range images {
		p := platforms[i]
		adds[i] = mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture}},
		}
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

// binaryLayer is a gzip-compressed tar layer holding the binary at
// binaryPath: read-only (0555) and owned by root, so the manager, which runs
// as 65532, can execute it but neither change nor chmod it. Every timestamp is
// created, for reproducibility.
func binaryLayer(binary string, created time.Time) (v1.Layer, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the manager binary: %w", err)
	}
	var buf bytes.Buffer
	// Compressed once here, rather than by go-containerregistry every time
	// the layer is read (digest, layout, tarball). The default level: about
	// 2s for the 70 MB manager; the best one takes 3 times as long for 0.5%
	// less.
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(binaryPath, "/"),
		Mode:     0o555,
		Uid:      0,
		Gid:      0,
		Uname:    "root",
		Gname:    "root",
		Size:     int64(len(data)),
		ModTime:  created,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	if _, err := tw.Write(data); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	compressed := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	return layer, nil
}

// writeLayout writes index as the only image of a new OCI layout at tmp,
// named version, and then replaces dst with it.
func writeLayout(tmp, dst string, index v1.ImageIndex, version string) error {
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("creating the OCI layout: %w", err)
	}
	if err := p.AppendIndex(index, layout.WithAnnotations(map[string]string{refNameAnnotation: version})); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	// go-containerregistry writes some files 0777 and others 0600: make
	// them all plain readable files.
	err = filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(path, 0o644)
	})
	if err != nil {
		return fmt.Errorf("setting the OCI layout's file modes: %w", err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("removing the previous OCI layout: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("moving the OCI layout into place: %w", err)
	}
	return nil
}

// removeOldTarballs removes the tarballs earlier builds of other versions
// left in dir, so that it holds one version only.
func removeOldTarballs(dir, version string) error {
	for _, p := range platforms {
		old, err := filepath.Glob(filepath.Join(dir, tarballName("*", p)))
		if err != nil {
			return err
		}
		for _, f := range old {
			if filepath.Base(f) == tarballName(version, p) {
				continue
			}
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("removing an old tarball: %w", err)
			}
		}
	}
	return nil
}

// exitDetail adds a failed command's standard error to its error.
func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(bytes.TrimSpace(ee.Stderr)) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return err
}
