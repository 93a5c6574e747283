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
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type pushOptions struct {
	// Layout is the OCI layout the build command wrote.
	Layout string
	// Image is where to push: REGISTRY/REPOSITORY[:TAG|@DIGEST].
	Image string
	// Insecure allows a registry served over plain HTTP.
	Insecure bool
	// AllowDirty pushes an image built from a working tree with
	// uncommitted changes (a version ending in -dirty), which push
	// otherwise refuses.
	AllowDirty bool
	Log        io.Writer
}

// dirtySuffix ends the version of a build from a working tree with
// uncommitted changes: make's VERSION is git describe --dirty.
const dirtySuffix = "-dirty"

// push pushes the image index of the layout to opts.Image, with the
// credentials of the Docker config, and returns the pushed digest reference.
func push(ctx context.Context, opts pushOptions) (name.Digest, error) {
	start := time.Now()
	if strings.TrimSpace(opts.Image) == "" {
		return name.Digest{}, usagef("--image is required: where to push, REGISTRY/REPOSITORY[:TAG|@DIGEST], e.g. ghcr.io/acme/azure-authenticator:v1.2.3")
	}
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(opts.Image, nameOpts...)
	if err != nil {
		return name.Digest{}, usagef("--image %q is not an image reference (REGISTRY/REPOSITORY[:TAG|@DIGEST], e.g. ghcr.io/acme/azure-authenticator:v1.2.3): %v", opts.Image, err)
	}
	index, refName, err := layoutIndex(opts.Layout)
	if err != nil {
		return name.Digest{}, err
	}
	version, err := dirtyVersion(index, refName)
	if err != nil {
		return name.Digest{}, fmt.Errorf("reading the version of the layout %s: %w", opts.Layout, err)
	}
	if version != "" {
		if !opts.AllowDirty {
			return name.Digest{}, fmt.Errorf("refusing to push a dirty build: the layout %s is version %q, built from a working tree with uncommitted changes, so no commit has its sources; commit them and run make image again, or pass --allow-dirty to push it anyway", opts.Layout, version)
		}
		if opts.Log != nil {
			printf(opts.Log, "image: pushing the dirty build %s (--allow-dirty)\n", version)
		}
	}
	digest, err := index.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("image index digest: %w", err)
	}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != digest.String() {
		return name.Digest{}, fmt.Errorf("--image %s names digest %s, but the layout's image index is %s", opts.Image, d.DigestStr(), digest)
	}
	if opts.Log != nil {
		printf(opts.Log, "image: pushing %s to %s\n", digest, ref.Name())
	}
	err = remote.WriteIndex(ref, index,
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("azure-authenticator-hack-image"))
	if err != nil {
		return name.Digest{}, fmt.Errorf("pushing to %s: %w", ref.Name(), err)
	}
	pushed := ref.Context().Digest(digest.String())
	if opts.Log != nil {
		printf(opts.Log, "image: pushed %s in %s\n", pushed, time.Since(start).Round(time.Millisecond))
	}
	return pushed, nil
}

// layoutIndex is the multi-arch image index of an OCI layout written by the
// build command, the one manifest its index.json lists, and the name
// index.json gives it (org.opencontainers.image.ref.name: the version).
func layoutIndex(dir string) (v1.ImageIndex, string, error) {
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("reading the OCI layout %s (make image writes it): %w", dir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("reading %s/index.json: %w", dir, err)
	}
	if len(im.Manifests) != 1 {
		return nil, "", fmt.Errorf("%s/index.json lists %d manifests; want the one image index the build command writes", dir, len(im.Manifests))
	}
	desc := im.Manifests[0]
	if !desc.MediaType.IsIndex() {
		return nil, "", fmt.Errorf("%s/index.json lists a %s; want an image index", dir, desc.MediaType)
	}
	index, err := ii.ImageIndex(desc.Digest)
	if err != nil {
		return nil, "", fmt.Errorf("reading the image index %s from %s: %w", desc.Digest, dir, err)
	}
	return index, desc.Annotations[refNameAnnotation], nil
}

// dirtyVersion is the first of the layout's versions, its ref name and the
// version label of each image of index, that ends in -dirty, or "" when none
// does.
func dirtyVersion(index v1.ImageIndex, refName string) (string, error) {
	if strings.HasSuffix(refName, dirtySuffix) {
		return refName, nil
	}
	im, err := index.IndexManifest()
	if err != nil {
		return "", err
	}
	for _, desc := range im.Manifests {
		img, err := index.Image(desc.Digest)
		if err != nil {
			return "", fmt.Errorf("image %s: %w", desc.Digest, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", fmt.Errorf("config of image %s: %w", desc.Digest, err)
		}
		if v := cfg.Config.Labels[labelVersion]; strings.HasSuffix(v, dirtySuffix) {
			return v, nil
		}
	}
	return "", nil
}
