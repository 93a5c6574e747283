# syntax=docker/dockerfile:1
# The manager's image, for people who build with Docker (BuildKit):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" -t REGISTRY/azure-authenticator:TAG .
#
# `make image` builds the same image without a daemon (hack/image): a static
# manager FROM scratch, run as 65532:65532.

# The builder runs on the build machine's platform and cross-compiles for the
# target one: no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=devel
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOAMD64=v1 GOARM64=v8.0 \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/manager . \
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
