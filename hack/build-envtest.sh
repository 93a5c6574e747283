#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd, kubectl) from the Go
# module proxy, because prebuilt envtest archives cannot be downloaded here.
# Output is cached by version under the user cache dir, so a fresh clone on the
# same machine (CI) reuses it. Prints the KUBEBUILDER_ASSETS directory on stdout
# as its last line; progress goes to stderr.
#
#   hack/build-envtest.sh            build (or reuse) and print the assets dir
#   hack/build-envtest.sh --print    print the assets dir, fail if not built
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${AZURE_AUTHENTICATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/azure-authenticator}"

k8s_dir="$CACHE_ROOT/k8s/$K8S_VERSION"
etcd_dir="$CACHE_ROOT/etcd/$ETCD_VERSION"
assets_dir="$CACHE_ROOT/envtest/${K8S_VERSION}-etcd-${ETCD_VERSION}"

log() { printf '[build-envtest] %s\n' "$*" >&2; }

assets_ready() {
  [ -x "$assets_dir/kube-apiserver" ] && [ -x "$assets_dir/etcd" ] && [ -x "$assets_dir/kubectl" ]
}

if [ "${1:-}" = "--print" ]; then
  assets_ready || { log "envtest assets missing in $assets_dir; run hack/build-envtest.sh"; exit 1; }
  echo "$assets_dir"
  exit 0
fi

# go build -v names each package as it compiles it: count them so a 20-minute
# build shows it is alive without flooding the log.
progress() {
  local what=$1 n=0 line
  while IFS= read -r line; do
    n=$((n + 1))
    if [ $((n % 200)) -eq 0 ]; then log "$what: $n packages compiled"; fi
    # Package paths are progress; anything else (compiler errors) is shown.
    case "$line" in *.go:[0-9]*|"# "*|*" "*) printf '%s\n' "$line" >&2 ;; esac
  done
  log "$what: $n packages compiled in all"
}

build_kube() {
  if [ -x "$k8s_dir/kube-apiserver" ] && [ -x "$k8s_dir/kubectl" ]; then return 0; fi
  local work minor major mod_json gomod
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  major="${K8S_VERSION#v}"; major="${major%%.*}"
  minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
  local staging_version="v0.${minor}.${K8S_VERSION##*.}"
  log "kube-apiserver + kubectl $K8S_VERSION (staging $staging_version): resolving k8s.io/kubernetes"
  mod_json="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION")"
  gomod="$(printf '%s' "$mod_json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [ -f "$gomod" ] || { log "could not find go.mod of k8s.io/kubernetes@$K8S_VERSION"; return 1; }
  {
    echo "module envtest.local/kube"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$gomod" | head -n1
    echo
    # k8s.io/kubernetes requires its staging repos at v0.0.0 and replaces them
    # with local directories; replaces of a dependency are ignored, so point
    # each one at its published release instead.
    grep -oE '^[[:space:]]*k8s\.io/[a-z0-9.-]+ v0\.0\.0' "$gomod" | awk -v v="$staging_version" '{printf "replace %s v0.0.0 => %s %s\n", $1, $1, v}' | sort -u
  } >"$work/go.mod"
  cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$work" && go get "k8s.io/kubernetes@$K8S_VERSION" >&2 && go mod tidy -e >/dev/null 2>&1 || true)
  (cd "$work" && go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2)
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  mkdir -p "$work/out"
  log "compiling kube-apiserver and kubectl (about 20 minutes on 2 cores when the Go build cache is cold)"
  (cd "$work" && CGO_ENABLED=0 go build -v -ldflags "$ldflags" -o "$work/out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl 2>&1) | progress kube
  [ -x "$work/out/kube-apiserver" ] && [ -x "$work/out/kubectl" ] || { log "kube build failed"; return 1; }
  mkdir -p "$k8s_dir"
  mv "$work/out/kube-apiserver" "$work/out/kubectl" "$k8s_dir/"
  log "kube-apiserver: $("$k8s_dir/kube-apiserver" --version)"
}

build_etcd() {
  if [ -x "$etcd_dir/etcd" ]; then return 0; fi
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  log "etcd $ETCD_VERSION"
  cat >"$work/go.mod" <<MOD
module envtest.local/etcd

go 1.24
MOD
  cat >"$work/main.go" <<'GO'
// Command etcd is etcd's own server main, built from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 && go mod tidy >&2)
  (cd "$work" && CGO_ENABLED=0 go build -v -ldflags "-s -w" -o "$work/etcd" . 2>&1) | progress etcd
  [ -x "$work/etcd" ] || { log "etcd build failed"; return 1; }
  mkdir -p "$etcd_dir"
  mv "$work/etcd" "$etcd_dir/etcd"
  log "etcd: $("$etcd_dir/etcd" --version | head -n1)"
}

build_etcd
build_kube
mkdir -p "$assets_dir"
ln -sf "$k8s_dir/kube-apiserver" "$assets_dir/kube-apiserver"
ln -sf "$k8s_dir/kubectl" "$assets_dir/kubectl"
ln -sf "$etcd_dir/etcd" "$assets_dir/etcd"
assets_ready
echo "$assets_dir"
