# syntax=docker/dockerfile:1
# The manager's image, for people who build with Docker (BuildKit):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" \
#     -t REGISTRY/azure-authenticator:TAG .
#
# `make image` builds the same image without a daemon (hack/image): a static
# manager FROM scratch, run as 65532:65532. Both build the manager with the
# same flags and settings, so the same sources and Go toolchain give the same
# binary.

# SOURCE_DATE_EPOCH, if given (buildx also takes it from the environment), is
# the image's creation time, as hack/image uses it; unset, BuildKit uses the
# current time. For file times in the layer too, export with
# rewrite-timestamp=true (e.g. --output type=image,rewrite-timestamp=true).
ARG SOURCE_DATE_EPOCH

# The builder runs on the build machine's platform and cross-compiles for the
# target one: no emulation.
# The tag is not pinned here (this Dockerfile is written without registry
# access): in CI, pin the builder by digest, golang:1.26@sha256:..., so that
# a rebuild uses the same toolchain, and move the pin deliberately.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=devel
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The flags and settings of hack/image (goBuild): -buildvcs=false, so that the
# binary has no vcs.* build settings whether or not the context holds .git
# (the version is stamped by -X), and GOWORK=off, so that only go.mod counts.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOAMD64=v1 GOARM64=v8.0 GOWORK=off \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" -o /out/manager . \
    && chmod 0555 /out/manager

# No shell, no libc, no CA bundle: the manager is static and embeds its
# trust roots (golang.org/x/crypto/x509roots/fallback).
FROM scratch
ARG VERSION=devel
LABEL org.opencontainers.image.source="https://github.com/azure-authenticator/azure-authenticator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.title="azure-authenticator"
# Owned by root and read-only: the manager can run it, not change it.
COPY --from=build /out/manager /manager
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/manager"]
