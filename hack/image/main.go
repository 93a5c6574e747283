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

// Command image builds the manager's multi-arch container image (linux/amd64
// and linux/arm64) and pushes it, without a container daemon, the way ko does:
// the manager is a static Go binary (CGO_ENABLED=0), so an image is just that
// binary in one tar layer plus a config, and go-containerregistry can write
// both. Nothing runs inside a container, so no Docker daemon, no BuildKit and
// no base image (the image is FROM scratch) are needed; the Go toolchain
// cross-compiles each architecture on the host. The Dockerfile at the root of
// the repository builds the equivalent image for people who have Docker.
//
//	image build --version V --out DIR
//
// cross-compiles the manager for each platform and writes DIR/oci, an OCI
// image layout whose index.json names (org.opencontainers.image.ref.name=V)
// one multi-arch image index, and DIR/azure-authenticator-V-linux-ARCH.tar,
// one `docker load`-able tarball per architecture tagged
// azure-authenticator:V. The image creation time is SOURCE_DATE_EPOCH if
// set, else the commit time of HEAD, else the Unix epoch, and the binaries
// are built with -trimpath and -buildvcs=false in an environment cleared of
// the Go variables that change them (GOFLAGS, GOEXPERIMENT, ...), so a
// rebuild of the same sources gives the same digests, and the same binary as
// the Dockerfile.
//
//	image push --layout DIR/oci --image REGISTRY/REPOSITORY[:TAG|@DIGEST] [--insecure] [--allow-dirty]
//
// pushes that index, with credentials from the Docker config
// (authn.DefaultKeychain: ~/.docker/config.json, $DOCKER_CONFIG and credential
// helpers), and prints the pushed reference with its digest. It refuses a
// layout whose version ends in -dirty (make's VERSION is git describe
// --dirty) unless --allow-dirty is given.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usageText = `Build and push the azure-authenticator manager image without a container daemon.

Usage:
  go run ./hack/image build --version V --out DIR
      Cross-compile the manager for linux/amd64 and linux/arm64 and write
      DIR/oci (an OCI image layout holding the multi-arch index, tagged V) and
      DIR/azure-authenticator-V-linux-{amd64,arm64}.tar (for docker load).
  go run ./hack/image push --layout DIR/oci --image REGISTRY/REPOSITORY[:TAG] [--insecure] [--allow-dirty]
      Push the multi-arch index of the layout to the registry, with the
      credentials of the Docker config (docker login), and print its digest.
      A build from a dirty working tree (version V ending in -dirty, as
      git describe --dirty gives) is refused unless --allow-dirty is given.

Run "go run ./hack/image COMMAND -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status: 0 on
// success (and for -h), 1 when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printf(stderr, "%s", usageText)
		return 2
	}
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printf(stdout, "%s", usageText)
		return 0
	case "build":
		err = buildCommand(ctx, args[1:], stdout, stderr)
	case "push":
		err = pushCommand(ctx, args[1:], stdout, stderr)
	default:
		printf(stderr, "image: unknown command %q\n\n%s", args[0], usageText)
		return 2
	}
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		printf(stderr, "image %s: %v (-h for help)\n", args[0], err)
		return 2
	default:
		printf(stderr, "image %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a command line the command cannot run with.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// printf writes to the terminal: progress, usage and errors, which are
// best-effort.
func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

func usagef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

// parseFlags parses args into fs, which prints its usage to stderr on -h or a
// bad flag. Positional arguments are refused.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func buildCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var opts buildOptions
	fs.StringVar(&opts.Version, "version", "", "Version stamped into the manager (-X main.version), the image labels, the layout's ref name and the tarballs' tag. Required.")
	fs.StringVar(&opts.Out, "out", "", "Output directory: DIR/oci and DIR/azure-authenticator-VERSION-linux-ARCH.tar are replaced. Required.")
	fs.Usage = func() {
		printf(fs.Output(), "%s", "Usage: go run ./hack/image build --version V --out DIR\n\nCross-compile the manager for linux/amd64 and linux/arm64 and write DIR/oci (an OCI\nimage layout) and one docker-load tarball per architecture.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if opts.Version == "" {
		return usagef("--version is required")
	}
	if opts.Out == "" {
		return usagef("--out is required")
	}
	opts.Log = stderr
	digest, err := build(ctx, opts)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, digest)
	return err
}

func pushCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	var opts pushOptions
	fs.StringVar(&opts.Layout, "layout", "", "OCI image layout written by the build command (DIR/oci). Required.")
	fs.StringVar(&opts.Image, "image", "", "Where to push: REGISTRY/REPOSITORY[:TAG|@DIGEST], e.g. ghcr.io/acme/azure-authenticator:v1.2.3. Required.")
	fs.BoolVar(&opts.Insecure, "insecure", false, "Allow a registry served over plain HTTP (localhost and private addresses are always allowed).")
	fs.BoolVar(&opts.AllowDirty, "allow-dirty", false, "Push a build whose version ends in -dirty (built from a working tree with uncommitted changes), which push otherwise refuses.")
	fs.Usage = func() {
		printf(fs.Output(), "%s", "Usage: go run ./hack/image push --layout DIR/oci --image REGISTRY/REPOSITORY[:TAG] [--insecure] [--allow-dirty]\n\nPush the multi-arch image index of the layout, with the credentials of the Docker\nconfig (docker login, credential helpers), and print the pushed reference. A\ndirty build (version ending in -dirty) is refused without --allow-dirty.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if opts.Layout == "" {
		return usagef("--layout is required")
	}
	opts.Log = stderr
	pushed, err := push(ctx, opts)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, pushed)
	return err
}
